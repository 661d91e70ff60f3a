"""The recordings of an event dataset's split, read by tonic's readers under the study's own listing, and a
class-balanced subset of them.

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

Each recording is checked as it is on disk when the reader opens it (:mod:`common.data.validation`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import tonic.datasets

from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.fetching import EVENT_LAYOUT, find_event_split
from common.data.validation import NMNIST_EVENT_BYTES, raw_dvs_problems, raw_nmnist_problems, refuse_if


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

    def download(self) -> None:   # never download from inside the reader: see common.data.fetching
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

    def download(self) -> None:   # see common.data.fetching
        raise DatasetNotFoundError(f"no .npy files in {Path(self.location_on_system, self.folder_name)}")


READERS = {"nmnist": NMNIST, "dvsgesture": DVSGesture}


def list_recordings(dataset: str, split_folder: Path) -> list[tuple[Path, int, str]]:
    """(path, label, class folder) of every recording in ``split_folder``, sorted by path, under the rules
    of the module docstring; anything else in the split raises :class:`DatasetCorruptError` naming it."""
    suffix = EVENT_LAYOUT[dataset][2]
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
    root, split = find_event_split(dataset, train, data_root, mirror, download)
    recordings = list_recordings(dataset, split)   # before tonic walks the folder
    cls = READERS[dataset]
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
