"""MNIST and Fashion-MNIST, read by torchvision's own IDX reader from a mirror or a download
(:mod:`common.data.locations`), held in memory as uint8 and batched, standardised, by :class:`TensorLoader`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from common.config import downloads_allowed
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.loader import TensorLoader
from common.data.locations import candidate_roots, not_found_message, offline_hint

from common.data.datasets import describe


@dataclass
class ImageSplit:
    """One split of an image dataset, held in memory as uint8 (N, 1, H, W) plus int64 labels."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean_std: tuple[float, float]
    source: str   # the folder the files were read from, recorded in results


def load_image_dataset(name: str, train: bool, data_root: str | Path, mirror: str | Path | None = None,
                       download: bool = True, limit: int | None = None) -> ImageSplit:
    """MNIST or Fashion-MNIST through torchvision's own IDX reader."""
    import torchvision

    described = describe(name)
    if described.kind != "images":
        raise ValueError(f"{described.title} is not an image dataset")
    class_name, folder, mean_std, classes = (described.torchvision_class, described.folder, described.mean_std,
                                             list(described.classes))
    cls = getattr(torchvision.datasets, class_name)
    prefix = "train" if train else "t10k"
    required = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    roots = candidate_roots(data_root, mirror)
    root = next((r for r in roots if all((r / folder / "raw" / f).is_file() for f in required)), None)
    if root is None:
        root = Path(data_root)
        if downloads_allowed(download):
            try:
                cls(str(root), train=train, download=True)
            except Exception as error:  # offline, proxy, checksum: all end in the same advice
                raise DatasetNotFoundError(not_found_message(
                    name, [r / folder / "raw" for r in roots],
                    f"torchvision.datasets.{class_name}({str(root)!r}, download=True) failed "
                    f"({type(error).__name__}: {error}).")) from None
        else:
            raise DatasetNotFoundError(not_found_message(
                name, [r / folder / "raw" for r in roots],
                f"{offline_hint(download)}torchvision.datasets.{class_name}({str(root)!r}, download=True) "
                f"downloads it."))
    # torchvision's own IDX readers on this split's two files: its dataset class would also ask for the other
    # split's files, so a mirror holding only the test split would read as corrupt
    from torchvision.datasets.mnist import read_image_file, read_label_file
    raw = root / folder / "raw"
    try:
        images, labels = read_image_file(str(raw / required[0])), read_label_file(str(raw / required[1]))
    except Exception as error:
        raise DatasetCorruptError(
            f"Dataset {name!r}: the files {required[0]}, {required[1]} in {raw} could not be read "
            f"({type(error).__name__}: {error}). Delete them and download again, or re-copy the mirror."
        ) from None
    if images.ndim != 3 or len(images) != len(labels):
        raise DatasetCorruptError(f"Dataset {name!r} in {root / folder / 'raw'}: {len(images)} images "
                                  f"but {len(labels)} labels; the files are truncated or mismatched.")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return ImageSplit(images.unsqueeze(1).contiguous(), labels.long(), classes, mean_std,
                      str(root / folder / "raw"))


def image_transform(mean_std: tuple[float, float],
                    augment: Callable[[torch.Tensor], torch.Tensor] | None = None):
    """uint8 batch -> [0, 1] -> optional augmentation (training only) -> standardised."""
    mean, std = mean_std

    def transform(batch: torch.Tensor) -> torch.Tensor:
        x = batch.float().div_(255)
        if augment is not None:
            x = augment(x)
        return (x - mean) / std

    return transform


def image_loaders(name: str, data_root: str | Path, mirror: str | Path | None = None,
                  *, batch_size: int, seed: int = 0, augment=None, train_limit: int | None = None,
                  test_limit: int | None = None, download: bool = True):
    """Train and test loaders for MNIST / Fashion-MNIST; augmentation touches training data only."""
    train = load_image_dataset(name, True, data_root, mirror, download, train_limit)
    test = load_image_dataset(name, False, data_root, mirror, download, test_limit)
    augmented, plain = image_transform(train.mean_std, augment), image_transform(train.mean_std)
    train_loader = TensorLoader(train.images, train.labels, batch_size, shuffle=True, transform=augmented, seed=seed)
    test_loader = TensorLoader(test.images, test.labels, 1000, shuffle=False, transform=plain)
    return train_loader, test_loader, train


@dataclass
class ImageData:
    """Loaders of an image dataset as the runner takes them (``train`` keeps classes and source)."""

    train: ImageSplit
    train_loader: TensorLoader
    test_loader: TensorLoader
    missing_train: str | None = None

    def summary(self) -> str:
        return (f"{len(self.train.labels)} training / {len(self.test_loader.labels)} test images from "
                f"{self.train.source}")


def image_data(name: str, data_root, mirror=None, *, batch_size: int, seed: int = 0,
               augment: dict | None = None, **limits) -> ImageData:
    """:func:`image_loaders` with ``augment`` given as :func:`common.data.augment.random_affine`'s arguments."""
    import functools
    from common.data.augment import random_affine

    augment = functools.partial(random_affine, **augment) if augment else None
    train_loader, test_loader, train = image_loaders(name, data_root, mirror, batch_size=batch_size, seed=seed,
                                                     augment=augment, **limits)
    return ImageData(train, train_loader, test_loader)
