"""The frame cache: a split's frames saved once, as uint8 counts (clipped at 255), under a name that hashes
every parameter that changes them and the identity of every recording, so a run with other settings, another
mirror or a replaced recording never reuses stale frames. The full N-MNIST train split at 25 bins,
60,000 x 25 x 2 x 34 x 34, is 3.5 GB. A file proves what it holds (its key and a checksum), checked on load.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import tonic
import torch

from common.files import atomic_write

CACHE_FORMAT = "snn-study-event-frames/4"   # 2: key and checksum stored, checked on load; 3: file names; 4: file names relative to the dataset folder again (3 as written by 3f75895-a5b214a held "NMNIST/Train/...")


def cache_file(folder: str | Path, dataset: str, train: bool, n_time_bins: int, key: str) -> Path:
    return Path(folder) / f"{dataset}-{'train' if train else 'test'}-T{n_time_bins}-{key[:20]}.pt"


def file_identity(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, size, mtime in ns): a copy, an edit or a replacement of a recording changes it."""
    status = os.stat(path)
    return str(Path(path).resolve()), status.st_size, status.st_mtime_ns


def cache_key(dataset: str, train: bool, n_time_bins: int, denoise_filter_time, spatial_factor,
              target_size, limit, files: list[tuple[str, int, int]]) -> str:
    """sha256 over every setting that changes the frames and the identity of every source file
    (resolved path, size, modification time), so two mirrors never share frames."""
    description = {
        "format": CACHE_FORMAT, "dataset": dataset, "split": "train" if train else "test",
        "n_time_bins": int(n_time_bins), "denoise_filter_time": denoise_filter_time or None,
        "spatial_factor": float(spatial_factor), "target_size": list(target_size) if target_size else None,
        "limit": limit or None, "tonic": tonic.__version__, "files": files,
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def frames_checksum(frames: torch.Tensor, labels: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for tensor in (frames, labels):
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def read_cache(path: Path, key: str, shape: tuple, labels: torch.Tensor) -> dict | None:
    """What :func:`write_cache` saved, if the file proves it holds exactly what is asked for, else None (and why)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:   # a cut or foreign file: rebuild rather than fail
        print(f"event frame cache {path} unreadable ({type(error).__name__}); rebuilding it")
        return None
    problem = None
    if not isinstance(saved, dict) or saved.get("format") != CACHE_FORMAT:
        problem = "not a frame cache of this version"
    elif saved.get("key") != key:
        problem = "built for other settings or other source files"
    elif tuple(saved["frames"].shape) != tuple(shape) or saved["frames"].dtype != torch.uint8:
        problem = f"frames of shape {tuple(saved['frames'].shape)}, expected {tuple(shape)}"
    elif not torch.equal(saved["labels"], labels):
        problem = "labels that differ from the recordings'"
    elif saved.get("checksum") != frames_checksum(saved["frames"], saved["labels"]):
        problem = "arrays that do not match their checksum (damaged on disk)"
    if problem:
        print(f"event frame cache {path} holds {problem}; rebuilding it")
        return None
    return saved


def write_cache(path: Path, key: str, frames: torch.Tensor, labels: torch.Tensor, classes: list[str],
                sensor_size, source: str, recordings: list[str]) -> None:
    saved = {"format": CACHE_FORMAT, "key": key, "checksum": frames_checksum(frames, labels),
             "frames": frames, "labels": labels, "classes": classes, "sensor_size": list(sensor_size),
             "source": source, "recordings": recordings}
    atomic_write(path, lambda f: torch.save(saved, f))
