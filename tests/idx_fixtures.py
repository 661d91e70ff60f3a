"""Small, learnable MNIST-format datasets written in the real IDX on-disk format.

Each class is a bright 7x7 blob at its own place on a 28x28 canvas, with noise and jitter, so a
small net must learn to tell them apart but can (accuracy well above chance in one epoch).
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: magic (0, 0, type 0x08 = uint8, number of dims), big-endian sizes, raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.tobytes())


def blob_images(n: int, seed: int, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, col = 3 + 9 * (label // 4) + rng.integers(-1, 2), 2 + 6 * (label % 4) + rng.integers(-1, 2)
        image[row:row + 7, col:col + 7] = rng.integers(180, 256)
    return images, labels


def write_image_dataset(root: Path, folder: str = "MNIST", n_train: int = 600, n_test: int = 200) -> Path:
    """``root/<folder>/raw/`` with torchvision's four file names; returns ``root``."""
    raw = Path(root) / folder / "raw"
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = blob_images(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return Path(root)
