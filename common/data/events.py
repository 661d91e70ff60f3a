"""Event-camera datasets (N-MNIST, DVS128 Gesture) read by tonic, binned into frames, cached compactly.

An event recording is a list of (x, y, t, p) events, not an image. The spiking and conventional
nets of this study both consume it as ``T`` frames of per-pixel event counts, two polarity
channels each: tonic's ``Denoise`` then (optionally) ``Downsample`` then ``ToFrame(n_time_bins=T)``.

Where a dataset is looked for, in order (as in :mod:`common.data.images`):
1. the mirror (``mirror=`` or $SNN_DATA_MIRROR), which may hold only a subset of the recordings;
2. the data root;
3. a download into the data root with tonic's URL and md5 (for DVS Gesture, with a fallback
   address because tonic 1.7.0's figshare links return a challenge page, tonic issues #329/#330).

Frames are stored as uint8 counts (clipped at 255): the full N-MNIST train split at 25 bins,
60,000 x 25 x 2 x 34 x 34, is 3.5 GB. They are cached under a name that hashes every parameter
that changes them, so a run with other settings never reuses stale frames.

tonic's ``ToFrame(n_time_bins=T)`` cuts [t_first, t_first + T * w) with w = (t_last - t_first) // T
into half-open bins, so the event(s) at exactly t_last are not counted; we keep tonic's binning.

What the readers accept (:func:`list_recordings`; tonic's own listing is replaced, it dropped a
symlinked class folder, read any name ending in ``bin`` and crashed on a stray folder):

- N-MNIST: ``NMNIST/Train|Test/<digit 0-9>/<name>.bin``, the folder naming the label;
- DVS128 Gesture: ``DVSGesture/ibmGestureTrain|ibmGestureTest/user<NN>_<lighting>/<class 0-10>.npy``;
- a class or user folder that is a symbolic link to a folder is followed;
- names starting with ``.`` (``.DS_Store``, editors' files) are ignored;
- anything else in a split is refused with a message naming it: an upper-case extension (``.BIN``,
  ``.NPY``: rename it), a file whose name merely ends in ``bin``, a file outside a class folder, a
  folder of any other name (empty or not), a folder inside a class folder. Nothing is dropped or
  relabelled in silence.

Every recording is checked as it is on disk, before tonic converts it (tonic casts DVS polarity to
bool and DVS times to integer microseconds, so a polarity of 2 or a time in the wrong unit would pass):
N-MNIST x, y inside 34 x 34, times (23-bit unsigned microseconds plus overflow records, so finite and
non-negative by the format) in order over a plausible span; DVS Gesture x, y whole numbers inside
128 x 128, polarity 0/1, times finite, non-negative, in order, in milliseconds over a plausible span.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tonic
import tonic.datasets
import tonic.transforms
import torch
from tonic.download_utils import download_and_extract_archive

from common.data.augment import random_translate
from common.files import atomic_write
from common.config import downloads_allowed, resolve_locations
from common.data.images import (DatasetCorruptError, DatasetNotFoundError, TensorLoader, candidate_roots, not_found_message,
                   offline_hint)

CACHE_FORMAT = "snn-study-event-frames/3"   # 2: key and checksum stored, checked on load; 3: file names
NMNIST_EVENT_BYTES = 5   # one N-MNIST event is 40 bits


class NMNIST(tonic.datasets.NMNIST):
    """tonic's N-MNIST reader, accepting a folder that holds a subset of the recordings.

    tonic asks for the zip archives and >= 10,000 .bin files before it reads anything; here one
    .bin in ``<save_to>/NMNIST/Train|Test`` is enough. The class keeps the name ``NMNIST`` because
    tonic reads from ``<save_to>/<class name>``.
    """

    def _check_exists(self) -> bool:
        return self._folder_contains_at_least_n_files_of_type(1, ".bin")

    def __getitem__(self, index):
        refuse_if(raw_nmnist_problems(np.fromfile(self.data[index], dtype=np.uint8)), "nmnist", self.data[index])
        return super().__getitem__(index)

    def download(self) -> None:   # never download from inside the reader: see _fetch_nmnist
        raise DatasetNotFoundError(f"no .bin files in {Path(self.location_on_system, self.folder_name)}")


class DVSGesture(tonic.datasets.DVSGesture):
    """tonic's DVS128 Gesture reader without its ">= 100 .npy files and the archive" check, and with
    a check of the raw array before tonic casts its polarity to bool and its millisecond times to
    integer microseconds (a polarity of 2 would become True, a NaN an arbitrary integer)."""

    def _check_exists(self) -> bool:
        return self._folder_contains_at_least_n_files_of_type(1, ".npy")

    def __getitem__(self, index):
        refuse_if(raw_dvs_problems(np.load(self.data[index], allow_pickle=False)), "dvsgesture", self.data[index])
        return super().__getitem__(index)

    def download(self) -> None:   # see _fetch_dvsgesture
        raise DatasetNotFoundError(f"no .npy files in {Path(self.location_on_system, self.folder_name)}")


# name -> (reader class, folder under the root, split folder (train, test), file suffix)
EVENT_DATASETS = {
    "nmnist": (NMNIST, "NMNIST", ("Train", "Test"), ".bin"),
    "dvsgesture": (DVSGesture, "DVSGesture", ("ibmGestureTrain", "ibmGestureTest"), ".npy"),
}


# ---------------------------------------------------------------- recordings as they are on disk

NMNIST_SENSOR, DVS_SENSOR = 34, 128
# Plausible spans beyond the lower bounds of MIN_SPAN_US: an N-MNIST recording is three ~100 ms saccades
# (1,100 real ones span 291-314 ms); a DVS Gesture clip is a gesture of about 1.5-6 s, its times in
# milliseconds, so microseconds (x1000) or seconds (/1000) fall outside (100 ms, 60 s).
NMNIST_MAX_SPAN_US = 1_000_000
DVS_SPAN_MS = (100, 60_000)
FIX = "Delete the file and download it again, or re-copy the mirror."


def refuse_if(problems: list[str], dataset: str, path) -> None:
    if problems:
        raise DatasetCorruptError(f"Dataset {dataset!r}: {path} is not a valid recording: {'; '.join(problems)}. {FIX}")


def _span_problem(times: np.ndarray, field: str, unit: str, low: float, high: float) -> list[str]:
    if (np.diff(times) < 0).any():
        return [f"field {field}: times out of order ({int((np.diff(times) < 0).sum())} steps back)"]
    span = float(times[-1] - times[0])
    if span < low:
        return [f"field {field}: events over only {span:g} {unit}, where a whole recording spans at least "
                f"{low:g} {unit}: the file is truncated, or its times are not in {unit}"]
    if span > high:
        return [f"field {field}: events over {span:g} {unit}, more than the {high:g} {unit} a whole recording "
                f"spans, so its times are likely in another unit"]
    return []


def raw_nmnist_problems(raw: np.ndarray) -> list[str]:
    """What is wrong with an N-MNIST file's bytes (``uint8``, 5 per event), decoded as tonic decodes them:
    x, y bytes; polarity bit 7 of byte 2; 23-bit microseconds, plus 2^13 after every overflow record (y = 240)."""
    if len(raw) == 0 or len(raw) % NMNIST_EVENT_BYTES:
        return [f"{len(raw)} bytes, not a whole number of {NMNIST_EVENT_BYTES}-byte events" if len(raw)
                else "it holds no events"]
    raw = raw.astype(np.int64)
    x, y = raw[0::5], raw[1::5]
    t = ((raw[2::5] & 127) << 16) | (raw[3::5] << 8) | raw[4::5]
    t = t + 2 ** 13 * np.cumsum(y == 240)
    events = y != 240
    x, y, t = x[events], y[events], t[events]
    if len(t) == 0:
        return ["it holds no events (only time-overflow records)"]
    problems = [f"field {name}: values up to {int(v.max())} in {int((v >= NMNIST_SENSOR).sum())} events, outside the "
                f"{NMNIST_SENSOR} x {NMNIST_SENSOR} sensor (0..{NMNIST_SENSOR - 1})"
                for name, v in (("x", x), ("y", y)) if v.max() >= NMNIST_SENSOR]
    return problems + _span_problem(t, "t", "us", MIN_SPAN_US["nmnist"], NMNIST_MAX_SPAN_US)


def raw_dvs_problems(raw: np.ndarray) -> list[str]:
    """What is wrong with a DVS Gesture clip as tonic's archive stores it: an (N, 4) numeric array of
    x, y, p, t, t in milliseconds."""
    if raw.ndim != 2 or raw.shape[1] != 4 or raw.dtype.kind not in "fiu":
        return [f"an array of shape {raw.shape} and dtype {raw.dtype}, not (N, 4) numbers: columns x, y, p, t"]
    if len(raw) == 0:
        return ["it holds no events"]
    if not np.isfinite(raw).all():
        return [f"{int((~np.isfinite(raw)).sum())} values that are NaN or infinite "
                f"(fields {', '.join(n for n, c in zip('xypt', raw.T) if not np.isfinite(c).all())})"]
    problems = []
    for name, column in zip("xy", raw.T):
        if (column != np.round(column)).any() or column.min() < 0 or column.max() >= DVS_SENSOR:
            problems.append(f"field {name}: values {column.min():g}..{column.max():g}, not whole pixels or outside "
                            f"the {DVS_SENSOR} x {DVS_SENSOR} sensor (0..{DVS_SENSOR - 1})")
    polarity = raw[:, 2]
    if not np.isin(polarity, (0, 1)).all():
        problems.append(f"field p: polarities other than 0/1 ({sorted(set(np.unique(polarity).tolist()) - {0, 1})[:5]})")
    t = raw[:, 3]
    if t.min() < 0:
        problems.append(f"field t: {int((t < 0).sum())} negative times (down to {t.min():g} ms)")
    return problems + _span_problem(t, "t", "ms", *DVS_SPAN_MS)


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


# ---------------------------------------------------------------- finding and fetching the files

def _split_folder(root: Path, dataset: str, train: bool) -> Path:
    _, folder, splits, _ = EVENT_DATASETS[dataset]
    return root / folder / splits[0 if train else 1]


def _has_files(folder: Path, suffix: str) -> bool:
    return folder.is_dir() and next(folder.glob(f"**/*{suffix}"), None) is not None


def _fetch_nmnist(root: Path, train: bool, looked_in: list[Path]) -> None:
    """tonic's own N-MNIST download (Mendeley, md5-checked) into ``root/NMNIST``."""
    cls = tonic.datasets.NMNIST
    url, filename, md5 = ((cls.train_url, cls.train_filename, cls.train_md5) if train
                          else (cls.test_url, cls.test_filename, cls.test_md5))
    try:
        download_and_extract_archive(url, str(root / "NMNIST"), filename=filename, md5=md5)
    except Exception as error:   # offline, proxy, checksum: all end in the same advice
        folder = _split_folder(root, "nmnist", train)
        raise DatasetNotFoundError(not_found_message("nmnist", looked_in, (
            f"tonic's download of {url} failed ({type(error).__name__}: {error}). With internet, "
            f"tonic.datasets.NMNIST({str(root)!r}, train={train}) downloads it; or fetch {filename} "
            f"(md5 {md5}) from https://data.mendeley.com/datasets/468j46mzdv and unzip it into "
            f"{root / 'NMNIST'} so that {folder}/<digit>/<id>.bin exists."))) from None


def dvsgesture_sources(train: bool) -> list[str]:
    """tonic's figshare link, then figshare's API address for the same file id."""
    url = tonic.datasets.DVSGesture.train_url if train else tonic.datasets.DVSGesture.test_url
    file_id = url.rstrip("/").rsplit("/", 1)[-1]
    return [url, f"https://api.figshare.com/v2/file/download/{file_id}"]


def _fetch_dvsgesture(root: Path, train: bool, looked_in: list[Path]) -> None:
    """Try each source in turn, each md5-checked by tonic; explain the manual steps if all fail."""
    cls = tonic.datasets.DVSGesture
    filename, md5 = (cls.train_filename, cls.train_md5) if train else (cls.test_filename, cls.test_md5)
    target = root / "DVSGesture"
    failures = []
    for url in dvsgesture_sources(train):
        try:
            download_and_extract_archive(url, str(target), filename=filename, md5=md5)
            return
        except Exception as error:
            failures.append(f"{url}: {type(error).__name__}: {error}")
            partial = target / filename
            if partial.is_file():   # a challenge page or a cut download: never leave it looking valid
                partial.unlink()
    folder = _split_folder(root, "dvsgesture", train)
    tried = "\n".join(f"    {f}" for f in failures)
    raise DatasetNotFoundError(not_found_message("dvsgesture", looked_in, (
        f"every download source failed:\n{tried}\n"
        f"  Manual steps: 1. in a browser, download {filename} (md5 {md5}) from "
        f"{dvsgesture_sources(train)[0]} (figshare, 'Tonic DVSGesture' files);\n"
        f"  2. put it in {target}/ ;\n"
        f"  3. extract it there: tar -xzf {target / filename} -C {target}\n"
        f"     so that {folder}/userNN_<lighting>/<class>.npy exists.")))


def find_event_split(dataset: str, train: bool, data_root: str | Path, mirror: str | Path | None = None,
                     download: bool = True) -> Path:
    """The root (mirror or data root) holding the split; downloads into the data root if allowed."""
    if dataset not in EVENT_DATASETS:
        raise ValueError(f"unknown event dataset {dataset!r}; choose one of {sorted(EVENT_DATASETS)}")
    suffix = EVENT_DATASETS[dataset][3]
    mirror = mirror or resolve_locations(data_root)[1]     # the one way to find a mirror (common.config)
    roots = candidate_roots(data_root, mirror)
    for root in roots:
        if _has_files(_split_folder(root, dataset, train), suffix):
            return root
    looked_in = [_split_folder(r, dataset, train) for r in roots]
    if not downloads_allowed(download):
        how = (offline_hint(download) + "use tonic's download into the data root" +
               (", or fetch it from https://data.mendeley.com/datasets/468j46mzdv" if dataset == "nmnist"
                else f", or fetch {'ibmGestureTrain' if train else 'ibmGestureTest'}.tar.gz from "
                     f"{dvsgesture_sources(train)[0]} and extract it into {Path(data_root) / 'DVSGesture'}"))
        raise DatasetNotFoundError(not_found_message(dataset, looked_in, how + "."))
    root = Path(data_root)
    (_fetch_nmnist if dataset == "nmnist" else _fetch_dvsgesture)(root, train, looked_in)
    if not _has_files(_split_folder(root, dataset, train), suffix):
        raise DatasetNotFoundError(not_found_message(dataset, looked_in, (
            f"the download finished but {_split_folder(root, dataset, train)} holds no {suffix} files; "
            f"the archive may have another layout. Delete it and retry, or use a mirror.")))
    return root


def list_recordings(dataset: str, split_folder: Path) -> list[tuple[Path, int, str]]:
    """(path, label, class folder) of every recording in ``split_folder``, sorted by path, under the rules
    of the module docstring; anything else in the split raises :class:`DatasetCorruptError` naming it."""
    suffix = EVENT_DATASETS[dataset][3]
    expected = ("<digit 0-9>/<id>.bin" if dataset == "nmnist" else "user<NN>_<lighting>/<class 0-10>.npy")
    class_folder = re.compile(r"[0-9]" if dataset == "nmnist" else r"user\d+_.+")
    file_name = re.compile(r".+\.bin" if dataset == "nmnist" else r"(10|[0-9])\.npy")
    found, refused = [], []
    for entry in sorted(split_folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():   # is_dir follows a symbolic link: a linked class folder is read
            refused.append(f"{entry.name} (a file outside a class folder)")
            continue
        if not class_folder.fullmatch(entry.name):
            empty = next(entry.iterdir(), None) is None
            refused.append(f"{entry.name}/ ({'an empty' if empty else 'a'} folder that is not a class folder)")
            continue
        for path in sorted(entry.iterdir()):
            if path.name.startswith("."):
                continue
            if path.is_dir():
                refused.append(f"{entry.name}/{path.name}/ (a folder inside a class folder)")
            elif file_name.fullmatch(path.name):
                label = int(entry.name if dataset == "nmnist" else path.stem)
                found.append((path, label, entry.name))
            elif path.suffix.lower() == suffix:
                refused.append(f"{entry.name}/{path.name} (extension {path.suffix}: rename it to {suffix})")
            else:
                refused.append(f"{entry.name}/{path.name} (not a {suffix} recording)")
    if refused:
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise DatasetCorruptError(
            f"Dataset {dataset!r}: {len(refused)} entr{'y' if len(refused) == 1 else 'ies'} in {split_folder} "
            f"{'is' if len(refused) == 1 else 'are'} not in the layout {split_folder}/{expected} that the reader "
            f"takes labels from: {shown}. Move each recording into its class folder as in the original archive and "
            f"anything else out of the split, or re-copy the mirror.")
    return found


def open_event_dataset(dataset: str, train: bool, data_root: str | Path, mirror: str | Path | None = None,
                       download: bool = True, transform=None):
    """tonic's reader for the split (recordings in sorted path order), after checking every file."""
    root = find_event_split(dataset, train, data_root, mirror, download)
    recordings = list_recordings(dataset, _split_folder(root, dataset, train))   # before tonic walks the folder
    cls = EVENT_DATASETS[dataset][0]
    ds = cls(str(root), train=train, transform=transform)
    # our listing, not tonic's os.walk (which skips symbolic links and takes any name ending in "bin")
    ds.data = [str(path) for path, _, _ in recordings]
    ds.targets = [label for _, label, _ in recordings]
    if dataset == "dvsgesture":
        ds.users = [int(folder.split("_", 1)[0][4:]) for _, _, folder in recordings]
        ds.lighting = [folder.split("_", 1)[1] for _, _, folder in recordings]
    for path in ds.data:
        size = os.path.getsize(path)
        if size == 0 or (dataset == "nmnist" and size % NMNIST_EVENT_BYTES):
            raise DatasetCorruptError(
                f"Dataset {dataset!r}: {path} is {size} bytes, " +
                ("empty" if size == 0 else f"not a whole number of {NMNIST_EVENT_BYTES}-byte events") +
                "; the file is truncated. Delete it and download again, or re-copy the mirror.")
    return ds


# ---------------------------------------------------------------- frames and cache

def balanced_subset(targets: list[int], limit: int | None) -> list[int]:
    """The first ``limit`` recordings taken round-robin over classes, so any limit is balanced."""
    if not limit or limit >= len(targets):
        return list(range(len(targets)))
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(targets):
        by_class.setdefault(label, []).append(i)
    queues = [by_class[c] for c in sorted(by_class)]
    chosen, depth = [], 0
    while len(chosen) < limit:
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    return chosen


def _output_size(sensor_size, spatial_factor: float, target_size) -> tuple[int, int, int]:
    width, height, polarities = sensor_size
    if target_size is not None:
        return int(target_size[0]), int(target_size[1]), polarities
    # floor((W - 1) * f) is the largest pooled coordinate, so the frame is one more than that
    return int((width - 1) * spatial_factor) + 1, int((height - 1) * spatial_factor) + 1, polarities


def frame_transform(sensor_size, n_time_bins: int, denoise_filter_time: float | None = 10000,
                    spatial_factor: float = 1.0, target_size=None):
    """Denoise -> Downsample (event pooling: coordinates scaled, counts add up) -> ToFrame.

    Returns ``(to_frames(events, path), out_size)``. A recording that denoising leaves without a
    single event raises :class:`DatasetCorruptError`: an all-zero sample with a label is wrong data.
    """
    denoise = tonic.transforms.Denoise(filter_time=denoise_filter_time) if denoise_filter_time else None
    out_size = _output_size(sensor_size, spatial_factor, target_size)
    steps = []
    if target_size is not None:
        steps.append(tonic.transforms.Downsample(sensor_size=tuple(sensor_size),
                                                 target_size=tuple(target_size)))
    elif spatial_factor != 1.0:
        steps.append(tonic.transforms.Downsample(spatial_factor=spatial_factor))
    steps.append(tonic.transforms.ToFrame(sensor_size=out_size, n_time_bins=n_time_bins))
    framing = tonic.transforms.Compose(steps)

    def to_frames(events, path) -> np.ndarray:
        if denoise is not None:
            kept = denoise(events)
            if len(kept) == 0:
                raise DatasetCorruptError(
                    f"{path}: none of its {len(events)} events is left after denoising "
                    f"(filter time {denoise_filter_time} us): it would become an all-zero sample with a "
                    f"label. Re-copy or re-download the file; to keep such samples on purpose, frame "
                    f"with denoise_filter_time=None.")
            events = kept
        return framing(events)

    return to_frames, out_size


# What a recording of each dataset must look like, checked on every file as it is read.
# N-MNIST: three ~100 ms saccades (1,100 real recordings span 291-314 ms), so a file cut on an event
# boundary is caught by its span even though its size is a whole number of events.
MIN_SPAN_US = {"nmnist": 250_000, "dvsgesture": 0}


def check_recording(events: np.ndarray, dataset: str, sensor_size, path) -> None:
    """Raise :class:`DatasetCorruptError` naming ``path`` unless every event is on the sensor, every
    polarity is 0/1 and the times are finite, non-decreasing and span a whole recording."""
    width, height, _ = sensor_size
    fix = "Delete the file and download it again, or re-copy the mirror."
    problems = []
    if len(events) == 0:
        problems.append("it holds no events")
    else:
        x, y, p, t = (events[name] for name in "xypt")
        if x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height:
            problems.append(f"coordinates outside the {width} x {height} sensor (x {x.min()}..{x.max()}, "
                            f"y {y.min()}..{y.max()})")
        if not np.isin(p, (0, 1)).all():
            problems.append(f"polarities other than 0/1 ({sorted(set(np.unique(p).tolist()))[:5]})")
        times = t.astype(np.float64)
        if not np.isfinite(times).all():
            problems.append("times that are not finite")
        elif (np.diff(times) < 0).any():
            problems.append(f"times out of order ({int((np.diff(times) < 0).sum())} steps back)")
        elif times[-1] - times[0] < MIN_SPAN_US[dataset]:
            problems.append(f"events over {(times[-1] - times[0]) / 1000:.1f} ms only, where a whole "
                            f"{dataset} recording spans at least {MIN_SPAN_US[dataset] / 1000:.0f} ms: "
                            f"the file is truncated")
    if problems:
        raise DatasetCorruptError(f"Dataset {dataset!r}: {path} is not a valid recording: "
                                  f"{'; '.join(problems)}. {fix}")


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


def _read_cache(path: Path, key: str, shape: tuple, labels: torch.Tensor) -> EventFrames | None:
    """The cached frames if the file proves it holds exactly what is asked for, else None (and why)."""
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
    return EventFrames(saved["frames"], saved["labels"], list(saved["classes"]),
                       tuple(saved["sensor_size"]), saved["source"], str(path), list(saved["recordings"]))


def event_frames(dataset: str, train: bool, n_time_bins: int, data_root: str | Path,
                 mirror: str | Path | None = None, download: bool = True,
                 denoise_filter_time: float | None = 10000, spatial_factor: float = 1.0,
                 target_size: tuple[int, int] | None = None, limit: int | None = None,
                 cache_dir: str | Path | None = None, progress: bool = True) -> EventFrames:
    """One split of ``dataset`` ('nmnist' or 'dvsgesture') as uint8 frames [N, T, 2, H, W], cached.

    ``denoise_filter_time`` is in microseconds (None or 0: no denoising). ``spatial_factor`` or
    ``target_size`` (W, H) pool events onto a coarser grid. ``limit`` keeps a class-balanced subset.
    No augmentation here: that belongs to training batches only.
    """
    from tqdm.auto import tqdm

    if n_time_bins < 1:
        raise ValueError(f"n_time_bins must be >= 1, got {n_time_bins}")
    if target_size is None and not 0 < spatial_factor <= 1:
        raise ValueError(f"spatial_factor pools events onto a coarser grid: 0 < factor <= 1, "
                         f"got {spatial_factor}")
    ds = open_event_dataset(dataset, train, data_root, mirror, download)
    source = Path(ds.location_on_system, ds.folder_name)
    chosen = balanced_subset(ds.targets, limit)
    files = [file_identity(ds.data[i]) for i in chosen]
    key = cache_key(dataset, train, n_time_bins, denoise_filter_time, spatial_factor, target_size, limit,
                    files)
    split = "train" if train else "test"
    cache_folder = Path(cache_dir or Path(data_root) / "cache")
    cache_file = cache_folder / f"{dataset}-{split}-T{n_time_bins}-{key[:20]}.pt"
    labels = torch.tensor([ds.targets[i] for i in chosen], dtype=torch.int64)
    width, height, polarities = _output_size(ds.sensor_size, spatial_factor, target_size)
    shape = (len(chosen), n_time_bins, polarities, height, width)
    if cache_file.is_file():
        cached = _read_cache(cache_file, key, shape, labels)
        if cached is not None:
            return cached

    to_frames, out_size = frame_transform(ds.sensor_size, n_time_bins, denoise_filter_time,
                                          spatial_factor, target_size)
    frames = torch.zeros(shape, dtype=torch.uint8)
    for row, index in enumerate(tqdm(chosen, desc=f"framing {dataset} {split}", disable=not progress)):
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
    result = EventFrames(frames, labels, list(ds.classes), out_size, str(source), str(cache_file), recordings)
    # nothing is cached before every recording passed; the file proves what it holds (key, checksum)
    saved = {"format": CACHE_FORMAT, "key": key, "checksum": frames_checksum(frames, labels),
             "frames": result.frames, "labels": result.labels,
             "classes": result.classes, "sensor_size": list(out_size), "source": result.source,
             "recordings": recordings}
    atomic_write(cache_file, lambda f: torch.save(saved, f))
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


def load_event_data(config, settings: dict) -> EventData:
    """Frames (cached) and loaders for ``config.dataset`` with the profile's ``settings``
    (``n_time_bins``, ``train_limit``, ``test_limit``, optional ``target_size`` and ``max_shift``).

    The test split is required. A missing training split is not an error here: the notebooks then
    evaluate a saved model instead of training one (:func:`common.runs.runner.run`)."""
    common_args = dict(n_time_bins=settings["n_time_bins"], data_root=config.data_root, mirror=config.mirror,
                       target_size=settings.get("target_size"))
    test = event_frames(config.dataset, False, limit=settings["test_limit"], **common_args)
    try:
        train = event_frames(config.dataset, True, limit=settings["train_limit"], **common_args)
    except DatasetNotFoundError as error:
        print(f"No training split of {config.dataset!r}: only a saved model can be evaluated.")
        test_loader = event_loaders(test, test, batch_size=config.batch_size, seed=config.seed)[1]
        return EventData(None, test, None, test_loader, missing_train=str(error))
    return EventData(train, test, *event_loaders(train, test, batch_size=config.batch_size, seed=config.seed,
                                                 max_shift=settings.get("max_shift", 0)))
