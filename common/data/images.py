"""Datasets: real files read by the real loaders (torchvision, tonic), from a mirror or a download.

Where a dataset is looked for, in order:
1. the mirror folder (``mirror=`` or $SNN_DATA_MIRROR), a local copy in the same layout the
   library writes (e.g. ``<mirror>/MNIST/raw/train-images-idx3-ubyte``); it may hold a subset;
2. the data root (``data_root=`` or $SNN_DATA_ROOT, default ``./data``);
3. a download into the data root, where the library offers one.
If all fail, :class:`DatasetNotFoundError` says which dataset, where it looked and how to get it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from common.config import ENV_MIRROR, ENV_OFFLINE, downloads_allowed

# name -> (torchvision class name, folder, (mean, std) of the training images, class names)
IMAGE_DATASETS = {
    "mnist": ("MNIST", "MNIST", (0.1307, 0.3081), [str(d) for d in range(10)]),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST", (0.2860, 0.3530),
                      ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is in none of the places looked at, and could not be downloaded."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but cannot be parsed (truncated, wrong format)."""


def describe_place(path: Path) -> str:
    """Where ``path`` stops existing, and a folder of a near-miss name there, with the rename to make
    (``mnist`` for ``MNIST``, ``ibmGestureTest `` with a trailing space, ...)."""
    import difflib

    path = Path(path)
    if path.is_dir():
        return f"{path} (exists, but without the dataset's files)"
    missing, parent = path, path.parent
    while not parent.is_dir() and parent != parent.parent:
        missing, parent = parent, parent.parent
    if not parent.is_dir():
        return f"{path} (does not exist)"
    siblings = {child.name.strip().lower(): child for child in parent.iterdir() if child.is_dir()}
    near = difflib.get_close_matches(missing.name.lower(), list(siblings), n=1, cutoff=0.75)
    note = f"no folder {missing}"
    if near and siblings[near[0]].name != missing.name:
        if _other_split(siblings[near[0]].name, missing.name):   # never "rename the test split to train"
            note += f"; there is {siblings[near[0]]}, the other split, which cannot stand in for it"
        else:
            note += f"; there is {siblings[near[0]]}: rename it to {missing.name!r}"
    return f"{path} ({note})"


def _other_split(found: str, wanted: str) -> bool:
    """``found`` and ``wanted`` name the two splits of one dataset (ibmGestureTest / ibmGestureTrain)."""
    split = lambda name: "test" if "test" in name.lower() else "train" if "train" in name.lower() else None
    return None not in (split(found), split(wanted)) and split(found) != split(wanted)


def not_found_message(dataset: str, looked_in: list[Path], how_to_get: str) -> str:
    places = "\n".join(f"  - {describe_place(p)}" for p in looked_in)
    return (f"Dataset {dataset!r} was not found. Looked in:\n{places}\n"
            f"How to get it: {how_to_get}\n"
            f"Offline? Point ${ENV_MIRROR} (or `mirror` in a notebook's `locations` parameter) at a folder that "
            f"holds it in the library's layout, e.g. ../shared/datasets.")


def offline_hint(download: bool) -> str:
    """Why nothing was downloaded, when downloads were off."""
    return (f"downloads are off (${ENV_OFFLINE} is set); unset it, or " if download
            else "run with download=True, or ")


def candidate_roots(data_root: str | Path, mirror: str | Path | None) -> list[Path]:
    """Where to look, in order: the mirror (unless it is $SNN_DATA_MIRROR's "none"), then the data root."""
    from common.config import NO_MIRROR
    return [Path(r) for r in (mirror, data_root) if r and str(r).lower() != NO_MIRROR]


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

    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; choose one of {sorted(IMAGE_DATASETS)}")
    class_name, folder, mean_std, classes = IMAGE_DATASETS[name]
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
    try:
        ds = cls(str(root), train=train, download=False)
    except Exception as error:
        raise DatasetCorruptError(
            f"Dataset {name!r}: the files in {root / folder / 'raw'} could not be read "
            f"({type(error).__name__}: {error}). Delete them and download again, or re-copy the mirror."
        ) from None
    images, labels = ds.data, ds.targets
    if images.ndim != 3 or len(images) != len(labels):
        raise DatasetCorruptError(f"Dataset {name!r} in {root / folder / 'raw'}: {len(images)} images "
                                  f"but {len(labels)} labels; the files are truncated or mismatched.")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return ImageSplit(images.unsqueeze(1).contiguous(), labels.long(), classes, mean_std,
                      str(root / folder / "raw"))


class TensorLoader:
    """Batches from tensors already in memory: far faster than a per-sample DataLoader on 2 cores.

    ``transform`` runs on each whole batch (uint8 in, float model input out). Shuffling uses its
    own seeded generator, so an epoch's order is fixed by the seed and the epoch number.
    ``drop_last`` is never used: every sample of a test set is evaluated.
    """

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None, seed: int = 0):
        if len(inputs) != len(labels):
            raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
        self.inputs, self.labels = inputs, labels
        self.batch_size, self.shuffle, self.transform = batch_size, shuffle, transform
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            batch = self.inputs[index]
            yield (self.transform(batch) if self.transform else batch), self.labels[index]


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
    train_loader = TensorLoader(train.images, train.labels, batch_size, shuffle=True,
                                transform=image_transform(train.mean_std, augment), seed=seed)
    test_loader = TensorLoader(test.images, test.labels, 1000, shuffle=False,
                               transform=image_transform(train.mean_std))
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
