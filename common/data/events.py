"""Event-camera datasets (N-MNIST, DVS128 Gesture, DVS_Sign; :mod:`common.data.datasets`) as the study's runs take them: one split as frames, cached,
and its loaders.

An event recording is a list of (x, y, t, p) events, not an image. The spiking and conventional
nets of this study both consume it as ``T`` frames of per-pixel event counts, two polarity
channels each. :func:`event_frames` is the one way there: the split found or fetched
(:mod:`common.data.fetching`), its recordings listed and read (:mod:`common.data.readers`), each checked
(:mod:`common.data.validation`), framed (:mod:`common.data.framing`) and cached (:mod:`common.data.frame_cache`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.data.augment import random_translate
from common.data.datasets import describe
from common.data.errors import DatasetCorruptError
from common.data.frame_cache import cache_file, cache_key, file_identity, read_cache, write_cache
from common.data.framing import frame_transform, output_size
from common.data.loader import TensorLoader
from common.data.readers import balanced_subset, open_event_dataset
from common.data.validation import check_recording


@dataclass
class EventFrames:
    """One split as frames: ``frames`` uint8 [N, T, 2, H, W] event counts, ``labels`` int64 [N]."""

    frames: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    sensor_size: tuple[int, int, int]   # (W, H, P) of the frames, after any downsampling
    source: str                         # the folder the recordings were read from
    cache_file: str | None = None
    recordings: list[str] | None = None # each frame's file, relative to the dataset folder ("Train/3/00012.bin")

    @property
    def n_time_bins(self) -> int:
        return self.frames.shape[1]


def event_frames(dataset: str, train: bool, n_time_bins: int, data_root: str | Path,
                 mirror: str | Path | None = None, download: bool = True,
                 denoise_filter_time: float | None | str = "dataset", spatial_factor: float = 1.0,
                 target_size: tuple[int, int] | None = None, limit: int | None = None,
                 cache_dir: str | Path | None = None, progress: bool = True) -> EventFrames:
    """One split of an event dataset as uint8 frames [N, T, 2, H, W], cached.

    ``denoise_filter_time`` is in microseconds (None or 0: no denoising; "dataset": its description's choice). ``spatial_factor`` or
    ``target_size`` (W, H) pool events onto a coarser grid. ``limit`` keeps a class-balanced subset.
    No augmentation here: that belongs to training batches only.
    """
    from tqdm.auto import tqdm

    if n_time_bins < 1:
        raise ValueError(f"n_time_bins must be >= 1, got {n_time_bins}")
    if target_size is None and not 0 < spatial_factor <= 1:
        raise ValueError(f"spatial_factor pools events onto a coarser grid: 0 < factor <= 1, "
                         f"got {spatial_factor}")
    if denoise_filter_time == "dataset":
        denoise_filter_time = describe(dataset).denoise_filter_time
    ds = open_event_dataset(dataset, train, data_root, mirror, download)
    source = Path(ds.location_on_system, ds.folder_name)
    chosen = balanced_subset(ds.targets, limit)
    files = [file_identity(ds.data[i]) for i in chosen]
    key = cache_key(dataset, train, n_time_bins, denoise_filter_time, spatial_factor, target_size, limit,
                    files)
    split = "train" if train else "test"
    cached = cache_file(cache_dir or Path(data_root) / "cache", dataset, train, n_time_bins, key)
    labels = torch.tensor([ds.targets[i] for i in chosen], dtype=torch.int64)
    width, height, polarities = output_size(ds.sensor_size, spatial_factor, target_size)
    shape = (len(chosen), n_time_bins, polarities, height, width)
    saved = read_cache(cached, key, shape, labels) if cached.is_file() else None
    if saved is not None:
        return EventFrames(saved["frames"], saved["labels"], list(saved["classes"]), tuple(saved["sensor_size"]),
                           saved["source"], str(cached), list(saved["recordings"]))

    to_frames, out_size = frame_transform(ds.sensor_size, n_time_bins, denoise_filter_time,
                                          spatial_factor, target_size)
    frames = torch.zeros(shape, dtype=torch.uint8)
    quiet = {} if progress else {"disable": True}     # unset, the bar obeys $TQDM_DISABLE (off in saved notebooks)
    for row, index in enumerate(tqdm(chosen, desc=f"framing {dataset} {split}", **quiet)):
        try:
            events, _ = ds[index]
        except DatasetCorruptError:
            raise
        except Exception as error:
            raise DatasetCorruptError(f"Dataset {dataset!r}: {ds.data[index]} could not be read "
                                      f"({type(error).__name__}: {error}). Delete it and download "
                                      f"again, or re-copy the mirror.") from None
        check_recording(events, dataset, ds.sensor_size, ds.data[index])
        counts = to_frames(events, ds.data[index])
        frames[row] = torch.from_numpy(np.clip(counts, 0, 255).astype(np.uint8))
    recordings = [str(Path(ds.data[i]).relative_to(source.parent)) for i in chosen]
    result = EventFrames(frames, labels, list(ds.classes), out_size, str(source), str(cached), recordings)
    # nothing is cached before every recording passed
    write_cache(cached, key, result.frames, result.labels, result.classes, out_size, result.source, recordings)
    return result


def event_loaders(frames_train: EventFrames, frames_test: EventFrames, *, batch_size: int,
                  seed: int = 0, max_shift: int = 0) -> tuple[TensorLoader, TensorLoader]:
    """Train (shuffled, seeded) and test (every sample, in order) loaders of float [T, B, 2, H, W].

    ``max_shift`` > 0 shifts each training recording by up to that many pixels (after the cache,
    so cached frames stay exact); test recordings are never shifted.
    """
    for name in ("sensor_size", "n_time_bins"):
        if getattr(frames_train, name) != getattr(frames_test, name):
            raise ValueError(f"train and test frames differ in {name}: {getattr(frames_train, name)} vs "
                             f"{getattr(frames_test, name)}; frame both splits with the same settings.")

    def time_first(batch: torch.Tensor) -> torch.Tensor:
        return batch.float().transpose(0, 1).contiguous()   # SNN models step through dim 0

    def shifted_time_first(batch: torch.Tensor) -> torch.Tensor:
        return time_first(random_translate(batch, max_shift))

    train = TensorLoader(frames_train.frames, frames_train.labels, batch_size, shuffle=True,
                         transform=shifted_time_first if max_shift else time_first, seed=seed)
    test = TensorLoader(frames_test.frames, frames_test.labels, batch_size, shuffle=False,
                        transform=time_first)
    return train, test


@dataclass
class EventData:
    """Frames and loaders of one event dataset, as a notebook uses them. ``train`` and
    ``train_loader`` are None when only the test split is present (evaluation of a saved model);
    ``missing_train`` then says where the training split was looked for and how to get it."""

    train: EventFrames | None
    test: EventFrames
    train_loader: TensorLoader | None
    test_loader: TensorLoader
    missing_train: str | None = None

    def summary(self) -> str:
        test = self.test
        train = (f"{len(self.train.labels)} training / " if self.train is not None
                 else "no training split (evaluation only) / ")
        return (f"{train}{len(test.labels)} test recordings from {Path(test.source).parent}; frames "
                f"{tuple(test.frames.shape[1:])} (T, polarity, H, W), uint8, "
                f"{sum(s.frames.numel() for s in (self.train, test) if s is not None) / 2**20:.0f} MB")
