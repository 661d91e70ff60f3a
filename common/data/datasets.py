"""Every dataset of the study, described once (as tonic gives each dataset one class): its name and classes, its
sensor or image size, its file layout and which names count as recordings, its reader (the raw fields as they are
on disk), the ranges those fields may take, its splits and their expected sizes, and where it comes from.

The data layer (:mod:`common.data.readers`, :mod:`common.data.fetching`, :mod:`common.data.validation`,
:mod:`common.data.images`), the specs' data-aware knob ranges, the comparison and the benchmarks read these
descriptions; adding a dataset means one description here plus its spec rows.
"""
from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

# tonic's event layout: every reader below returns this structured array, t in microseconds
EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


@dataclass(frozen=True)
class Dataset:
    """One dataset of the study. ``kind`` is "images" or "events"; fields after ``how_to_get`` apply to one kind."""

    name: str                          # the study's name, as specs and records write it
    title: str                         # for readers: figures, tables, messages
    kind: str
    classes: tuple[str, ...]
    sensor_size: tuple[int, int, int]  # (W, H, channels): polarities for events
    folder: str                        # under a root (mirror or data root), the library's layout
    splits: tuple[str, str]            # (train, test) folders
    expected: dict                     # split -> {"complete": n, and known subsets: "<mirror name>": n}
    source: str                        # citation and origin
    how_to_get: str                    # what a user without the files does (shown when they are missing)
    caveats: str = ""                  # what every result on it must say
    # images
    torchvision_class: str = ""
    mean_std: tuple[float, float] = (0.0, 1.0)
    # events
    layout: str = ""                   # a recording's path inside a split, for messages
    class_folder: str = ""             # regex of a class (or user) folder's name
    recording: str = ""                # regex of a recording's file name
    suffixes: tuple[str, ...] = ()     # what a recording's name ends in (a near-miss case is refused)
    record_bytes: int | None = None    # a fixed-size event format: a file's size is a multiple of it
    label: Callable[[str, str], int] | None = None         # (class folder, file name) -> label
    group: Callable[[str], dict] | None = None             # class folder -> recorded facts (user, lighting)
    read_raw: Callable[[Path], np.ndarray] | None = None   # the file's fields as on disk
    known_defects: dict = field(default_factory=dict)      # "<split>/<class>/<stem>" -> what the reader drops there
    raw_problems: Callable[[np.ndarray], list[str]] | None = None   # what is wrong with them, [] if nothing
    to_events: Callable[[np.ndarray], np.ndarray] | None = None     # raw -> EVENT_DTYPE, t in us
    span_us: tuple[float, float] = (0, float("inf"))       # a whole recording's span, tolerance included
    denoise_filter_time: int | None = 10_000               # us; see the description's comment for the choice
    fetch: Callable | None = None      # fetch(root, train, looked_in): download into root, or raise with steps
    subset_note: str = ""

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def split_folder(self, root: Path, train: bool) -> Path:
        return Path(root) / self.folder / self.splits[0 if train else 1]

    def read(self, path) -> np.ndarray:
        """The recording at ``path`` as events (x, y, t in us, p), after checking its raw fields as on disk."""
        from common.data.validation import refuse_if
        path = Path(path)
        raw = self.read_raw(path)
        known = self.known_defects.get("/".join([path.parent.parent.name, path.parent.name, path.name.split(".")[0]]))
        if known is not None:
            raw = known(raw, path)
        refuse_if(self.raw_problems(raw), self.name, path)
        return self.to_events(raw)

    def count_note(self, train: bool, found: int) -> str | None:
        """A line when ``found`` recordings differ from every size this split is known to have."""
        split = "train" if train else "test"
        known = self.expected.get(split, {})
        if not known or found in known.values():
            return None
        sizes = ", ".join(f"{n:,} ({what})" for what, n in known.items())
        return (f"{self.title} {split} split: {found:,} recordings found, where it is known to hold {sizes}; "
                f"results on it are on a subset")


# ------------------------------------------------------------------------------------------------ readers

def _structured(x, y, t_us, p) -> np.ndarray:
    events = np.empty(len(x), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t_us, p
    return events


NMNIST_EVENT_BYTES = 5   # one N-MNIST event is 40 bits


def _nmnist_raw(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=np.uint8)


def decode_nmnist(raw: np.ndarray):
    """x, y, p, t (us) as tonic's read_mnist_file decodes them: polarity bit 7 of byte 2, 23-bit microseconds plus
    2^13 after every overflow record (y = 240)."""
    raw = raw.astype(np.int64)
    x, y = raw[0::5], raw[1::5]
    p = raw[2::5] >> 7
    t = ((raw[2::5] & 127) << 16) | (raw[3::5] << 8) | raw[4::5]
    t = t + 2 ** 13 * np.cumsum(y == 240)
    keep = y != 240
    return x[keep], y[keep], p[keep], t[keep]


def _nmnist_events(raw: np.ndarray) -> np.ndarray:
    x, y, p, t = decode_nmnist(raw)
    return _structured(x, y, t, p)


def _dvsgesture_raw(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _dvsgesture_events(raw: np.ndarray) -> np.ndarray:
    # tonic's archive stores t in ms as float64; tonic multiplies by 1000 on load
    return _structured(raw[:, 0], raw[:, 1], (raw[:, 3] * 1000).astype(np.int64), raw[:, 2])


def _sign_raw(path: Path) -> np.ndarray:
    """The authors' CSV (no header: t in seconds, x, y, polarity), plain or gzipped file by file: the same bytes."""
    import pandas as pd

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        text = handle.read()
    if not text.strip():
        return np.empty((0, 4))
    frame = pd.read_csv(io.BytesIO(text), header=None, dtype=np.float64)
    return frame.to_numpy()


def _sign_events(raw: np.ndarray) -> np.ndarray:
    # seconds -> whole microseconds: the coarse grid's float noise (-1e-16 s) rounds away, the order stays
    return _structured(raw[:, 1], raw[:, 2], np.round(raw[:, 0] * 1e6).astype(np.int64), raw[:, 3])


def _sign_label(folder: str, name: str) -> int:
    return int(folder)


def _drop_one_fractional_event(raw: np.ndarray, path: Path) -> np.ndarray:
    """Six of the authors' 750 files hold one event, in their first 35 ms, whose y is x + 0.1 (71, 71.1): no pixel.
    That one event is dropped; any other non-whole coordinate, or more than one, is left for the check to refuse."""
    fractional = (raw[:, 1:3] != np.round(raw[:, 1:3])).any(axis=1)
    return raw[~fractional] if fractional.sum() == 1 else raw


# measured on the mirror's 750 files (see _drop_one_fractional_event)
SIGN_FRACTIONAL = ("test/13/2", "test/8/8", "train/12/10", "train/13/21", "train/13/26", "train/8/33")


# ------------------------------------------------------------------------------------------------ the study's datasets

def _tonic_classes(name: str) -> tuple[str, ...]:
    import tonic.datasets
    return tuple(getattr(tonic.datasets, name).classes)


def _descriptions() -> dict[str, Dataset]:
    from common.data import fetching, validation as V

    mirror_note = "the local mirror (../shared/datasets)"
    return {d.name: d for d in [
        Dataset("mnist", "MNIST", "images", tuple(str(d) for d in range(10)), (28, 28, 1), "MNIST", ("raw", "raw"),
                {"train": {"complete": 60_000}, "test": {"complete": 10_000}},
                "LeCun, Cortes & Burges; torchvision's IDX files",
                "torchvision.datasets.MNIST(data_root, download=True) downloads it",
                torchvision_class="MNIST", mean_std=(0.1307, 0.3081)),
        Dataset("fashion-mnist", "Fashion-MNIST", "images",
                ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
                (28, 28, 1), "FashionMNIST", ("raw", "raw"),
                {"train": {"complete": 60_000}, "test": {"complete": 10_000}},
                "Xiao, Rasul & Vollgraf 2017 (Zalando SE, MIT)",
                "torchvision.datasets.FashionMNIST(data_root, download=True) downloads it",
                torchvision_class="FashionMNIST", mean_std=(0.2860, 0.3530)),
        Dataset("nmnist", "N-MNIST", "events", _tonic_classes("NMNIST"), (34, 34, 2), "NMNIST", ("Train", "Test"),
                {"train": {"complete": 60_000, mirror_note: 1_000}, "test": {"complete": 10_000, mirror_note: 100}},
                "Orchard et al. 2015, ATIS recordings of MNIST digits in three saccades",
                "tonic.datasets.NMNIST(data_root) downloads it (md5-checked); or fetch it from "
                "https://data.mendeley.com/datasets/468j46mzdv and unzip it into <data root>/NMNIST",
                layout="<digit 0-9>/<id>.bin", class_folder=r"[0-9]", recording=r".+\.bin", suffixes=(".bin",),
                record_bytes=NMNIST_EVENT_BYTES, label=lambda folder, name: int(folder),
                read_raw=_nmnist_raw, raw_problems=V.raw_nmnist_problems, to_events=_nmnist_events,
                # three ~100 ms saccades: 1,100 real recordings span 291-314 ms, so a file cut to 88% (~265 ms) on an
                # event boundary falls below the floor; 280 ms leaves 11 ms of tolerance below the shortest
                span_us=(280_000, 1_000_000), denoise_filter_time=10_000, fetch=fetching.fetch_nmnist),
        Dataset("dvsgesture", "DVS128 Gesture", "events", _tonic_classes("DVSGesture"), (128, 128, 2), "DVSGesture",
                ("ibmGestureTrain", "ibmGestureTest"),
                {"train": {"complete": 1_077}, "test": {"complete": 264, mirror_note: 10}},
                "Amir et al. 2017 (IBM, CC BY 4.0), 29 subjects under 3 lightings; tonic's archive layout",
                "tonic.datasets.DVSGesture(data_root) downloads it (figshare), or see the manual steps",
                layout="user<NN>_<lighting>/<class 0-10>.npy", class_folder=r"user\d+_.+",
                recording=r"(10|[0-9])\.npy", suffixes=(".npy",), label=lambda folder, name: int(name.split(".")[0]),
                group=lambda folder: {"user": int(folder.split("_", 1)[0][4:]), "lighting": folder.split("_", 1)[1]},
                read_raw=_dvsgesture_raw, raw_problems=V.raw_dvs_problems, to_events=_dvsgesture_events,
                # a gesture of about 1.5-6 s; the mirror's 10 clips span ~1.45 s
                span_us=(100_000, 60_000_000), denoise_filter_time=10_000, fetch=fetching.fetch_dvsgesture),
        Dataset("dvssign", "DVS_Sign", "events", tuple(f"sign {k}" for k in range(15)), (128, 128, 2), "DVSSign",
                ("train", "test"),
                {"train": {"complete": 600}, "test": {"complete": 150}},
                "Chen, Su, Zhao, Qiu, Jiang & Zhai 2023, Electronics 12(4):786, doi 10.3390/electronics12040786: "
                "15 sign-language gestures of the arms and upper body; the authors' train/test split",
                "git clone -b master https://github.com/najie1314/DVS and copy its train/ and test/ folders (the "
                "authors' <split>/<class 0-14>/<n>.csv files; gzipping them file by file is optional) into "
                "<data root>/DVSSign/",
                caveats="DVS_Sign, not DVS128 Gesture: 15 other classes and people; its time stamps lie on a coarse "
                        "grid (multiples of 1/60 and 1/90 s), so its events were resampled, possibly through frames; "
                        "no subject is named, so the split is the authors', not by subject; six files hold one event "
                        "off the pixel grid (y = x + 0.1), which the reader drops",
                layout="<class 0-14>/<n>.csv[.gz]", class_folder=r"1[0-4]|[0-9]", recording=r"\d+\.csv(\.gz)?",
                suffixes=(".csv", ".gz"), label=_sign_label,
                read_raw=_sign_raw, raw_problems=V.raw_sign_problems, to_events=_sign_events,
                known_defects={name: _drop_one_fractional_event for name in SIGN_FRACTIONAL},
                # the 750 clips span 1.9-6.9 s
                span_us=(1_000_000, 20_000_000),
                # The stamps are coarse: between distinct stamps a median 3.7 ms, but 33 ms at the 95th percentile,
                # so a filter shorter than a gap drops events only because their neighbours fell on the previous
                # stamp. tonic's Denoise on 60 training clips (benchmarks/dvssign_denoise.py) keeps 58.5% of the
                # events at 5 ms, 63.0% at 10 ms, 65.7% at 17 ms, 78.9% at 34 ms, 81.6% at 50 ms, 87.5% at 100 ms:
                # the share jumps once the filter spans the 33 ms gaps. 50 ms (one and a half of those gaps) keeps
                # the moving arms and drops events with no neighbour within that time.
                denoise_filter_time=50_000, fetch=None),
    ]}


_CACHE: dict[str, Dataset] = {}


def datasets() -> dict[str, Dataset]:
    """Every description, by the study's name."""
    if not _CACHE:
        _CACHE.update(_descriptions())
    return _CACHE


def describe(name: str) -> Dataset:
    """The description of ``name``, or a ValueError listing the study's datasets."""
    found = datasets().get(name)
    if found is None:
        raise ValueError(f"unknown dataset {name!r}; the study's datasets: {', '.join(sorted(datasets()))}")
    return found


def is_images(name: str | None) -> bool:
    """``name`` is one of the study's image datasets (a model's own toy data is not)."""
    return name in datasets() and datasets()[name].kind == "images"


def event_names() -> list[str]:
    return [n for n, d in datasets().items() if d.kind == "events"]


def frame_side(name: str, target_size=None) -> int:
    """The side of the frames a model sees: the target size after pooling, else the sensor's."""
    return int(target_size[0]) if target_size else describe(name).sensor_size[0]
