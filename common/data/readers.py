"""The recordings of an event dataset's split, listed and read as its description (:mod:`common.data.datasets`)
says, checked one by one and as a set, and a class-balanced subset of them.

What the readers accept (:func:`list_recordings`; tonic's own listing is replaced, it dropped a
symlinked class folder, read any name ending in ``bin`` and crashed on a stray folder):

- a recording is ``<split>/<class folder>/<file>`` in the dataset's layout (N-MNIST ``<digit 0-9>/<id>.bin``,
  DVS128 Gesture ``user<NN>_<lighting>/<class 0-10>.npy``, DVS_Sign ``<class 0-14>/<n>.csv`` or ``.csv.gz``);
- a class or user folder that is a symbolic link to a folder is followed;
- names starting with ``.`` (``.DS_Store``, editors' files) are ignored;
- anything else in a split is refused with a message naming it: an upper-case extension (``.BIN``,
  ``.NPY``: rename it), a file whose name merely ends in ``bin``, a file outside a class folder, a
  folder of any other name (empty or not), a folder inside a class folder. Nothing is dropped or
  relabelled in silence.

Each recording is checked as it is on disk when it is read (:mod:`common.data.validation`), and a split is checked
as a set (:func:`check_as_a_set`): two files of the same content in a split, or in both splits, stop the run.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from common.data.datasets import Dataset, describe
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.fetching import find_event_split
from common.data.frame_cache import file_identity


class EventRecordings:
    """One split of an event dataset, as tonic's datasets present one: ``data`` (file paths), ``targets``,
    ``classes``, ``sensor_size``; ``ds[i]`` is ``(events, label)``, the events a structured array x, y, t (us), p,
    read by the dataset's own reader after its raw fields were checked."""

    def __init__(self, described: Dataset, root: Path, train: bool, recordings: list[tuple[Path, int, str]],
                 transform=None):
        self.described, self.transform = described, transform
        split = described.split_folder(root, train)     # tonic's names: <root>/<dataset folder>, <split folder>
        self.location_on_system, self.folder_name = str(split.parent), split.name
        self.train = train
        self.classes, self.sensor_size = list(described.classes), described.sensor_size
        self.data = [str(path) for path, _, _ in recordings]
        self.targets = [label for _, label, _ in recordings]
        self.groups = [described.group(folder) if described.group else {} for _, _, folder in recordings]

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        events = self.described.read(self.data[index])
        return (self.transform(events) if self.transform else events), self.targets[index]


def list_recordings(dataset: str, split_folder: Path) -> list[tuple[Path, int, str]]:
    """(path, label, class folder) of every recording in ``split_folder``, sorted by path, under the rules
    of the module docstring; anything else in the split raises :class:`DatasetCorruptError` naming it."""
    described = describe(dataset)
    class_folder, file_name = re.compile(described.class_folder), re.compile(described.recording)
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
                found.append((path, described.label(entry.name, path.name), entry.name))
            elif any(path.name.lower().endswith(s) for s in described.suffixes):
                refused.append(f"{entry.name}/{path.name} (the name is not {described.layout}: rename it)")
            else:
                refused.append(f"{entry.name}/{path.name} (not a recording: {described.layout})")
    if refused:
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise DatasetCorruptError(
            f"Dataset {dataset!r}: {len(refused)} entr{'y' if len(refused) == 1 else 'ies'} in {split_folder} "
            f"{'is' if len(refused) == 1 else 'are'} not in the layout {split_folder}/{described.layout} that the "
            f"reader takes labels from: {shown}. Move each recording into its class folder as in the original "
            f"archive and anything else out of the split, or re-copy the mirror.")
    return found


def content_hashes(paths: list[str]) -> list[str]:
    """sha256 of every file's bytes (a recording copied under another name has the same hash)."""
    return [_content_hash(*file_identity(path)) for path in paths]


@functools.lru_cache(maxsize=None)
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    """Keyed on the file's identity, so an edited or replaced file is hashed again and an unchanged one once."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def duplicates(paths: list[str], hashes: list[str]) -> list[tuple[str, str]]:
    """Pairs (first file, later file) of equal content."""
    first: dict[str, str] = {}
    pairs = []
    for path, digest in zip(paths, hashes):
        if digest in first:
            pairs.append((first[digest], path))
        else:
            first.setdefault(digest, path)
    return pairs


def check_as_a_set(dataset: str, train_paths: list[str] | None, test_paths: list[str]) -> list[str]:
    """Stop on a recording present twice in a split or in both splits (by content, whatever the name);
    return the notes on counts that differ from every size the splits are known to have."""
    described = describe(dataset)
    hashes = {split: content_hashes(paths) for split, paths in (("train", train_paths), ("test", test_paths))
              if paths is not None}
    paths = {"train": train_paths, "test": test_paths}
    problems = [f"{b} repeats {a} (same content) in the {split} split"
                for split in hashes for a, b in duplicates(paths[split], hashes[split])]
    if "train" in hashes:
        in_test = dict(zip(hashes["test"], paths["test"]))
        problems += [f"{path} (train) is the same recording as {in_test[h]} (test)"
                     for path, h in zip(paths["train"], hashes["train"]) if h in in_test]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise DatasetCorruptError(
            f"Dataset {dataset!r}: {len(problems)} recording{'s' if len(problems) > 1 else ''} counted twice: {shown}. "
            f"A repeat inflates a class and a test recording in the training split leaks the test into training: "
            f"remove the copy, or re-copy the mirror.")
    return [note for train, found in ((True, train_paths), (False, test_paths)) if found is not None
            for note in [described.count_note(train, len(found))] if note]


def open_event_dataset(dataset: str, train: bool, data_root: str | Path, mirror: str | Path | None = None,
                       download: bool = True, transform=None) -> EventRecordings:
    """The split's recordings (in sorted path order), every file listed and its size checked before any is read."""
    described = describe(dataset)
    root, split = find_event_split(dataset, train, data_root, mirror, download)
    recordings = list_recordings(dataset, split)
    ds = EventRecordings(described, root, train, recordings, transform)
    for path in ds.data:
        size = os.path.getsize(path)
        whole = described.record_bytes
        if size == 0 or (whole and size % whole):
            raise DatasetCorruptError(
                f"Dataset {dataset!r}: {path} is {size} bytes, " +
                ("empty" if size == 0 else f"not a whole number of {whole}-byte events") +
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
