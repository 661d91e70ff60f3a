"""The splits a run of an event dataset trains and tests on (:func:`load_event_data`): the dataset's own, or a
stratified k-fold split, where every recording at hand (training and test split pooled) is tested exactly once, in
one of ``k`` folds drawn with a seed (the N-MNIST fold study, common/study/nmnist_folds.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.events import EventData, EventFrames, event_frames, event_loaders
from common.data.readers import check_as_a_set, open_event_dataset


def stratified_folds(labels, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint test folds covering every sample once, each class split as evenly as possible."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    offset = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        for i, index in enumerate(members):
            folds[(i + offset) % k].append(int(index))
        offset += len(members)                  # start the next class where this one stopped: even folds
    return [np.sort(np.array(f, dtype=int)) for f in folds]


def official_split(dataset: str, data, data_root, mirror) -> tuple[EventFrames, EventFrames]:
    """(train frames, test frames) of the dataset's own split, as ``data`` (common.config.DataSettings) frames and
    limits them."""
    args = dict(n_time_bins=data.n_time_bins, data_root=data_root, mirror=mirror, target_size=data.target_size,
                progress=False)
    return (event_frames(dataset, True, limit=data.train_limit, **args),
            event_frames(dataset, False, limit=data.test_limit, **args))


def pooled_frames(dataset: str, data, data_root, mirror) -> EventFrames:
    """Every recording at hand (training and test split) as one set of frames, labels and file names."""
    parts = official_split(dataset, data, data_root, mirror)
    return EventFrames(torch.cat([p.frames for p in parts]), torch.cat([p.labels for p in parts]),
                       parts[0].classes, parts[0].sensor_size, str(Path(parts[0].source).parent), None,
                       [r for p in parts for r in p.recordings])


def subset(frames: EventFrames, index) -> EventFrames:
    index = torch.as_tensor(index, dtype=torch.long)
    return EventFrames(frames.frames[index], frames.labels[index], frames.classes, frames.sensor_size,
                       frames.source, None, [frames.recordings[i] for i in index.tolist()])


def fold_split(dataset: str, data, data_root, mirror) -> tuple[EventFrames, EventFrames]:
    """(train frames, test frames) of fold ``data.fold`` of ``data.folds`` (seed ``data.fold_seed``), or of the
    official split when ``data.fold`` is None."""
    if data.fold is None:
        return official_split(dataset, data, data_root, mirror)
    everything = pooled_frames(dataset, data, data_root, mirror)
    test = stratified_folds(everything.labels.numpy(), data.folds, data.fold_seed)[data.fold]
    train = np.setdiff1d(np.arange(len(everything.labels)), test)
    refuse_a_leak(dataset, everything, train, test, data_root, mirror)
    return subset(everything, train), subset(everything, test)


def refuse_a_leak(dataset: str, frames: EventFrames, train, test, data_root, mirror) -> None:
    """No recording's content on both sides of a fold (a copy under another name included): the fold study's
    guarantee, checked for every fold it draws."""
    from common.config import resolve_locations
    from common.data.datasets import describe
    from common.data.fetching import find_event_split
    from common.data.readers import content_hashes

    folder = find_event_split(dataset, False, data_root, mirror or resolve_locations(data_root)[1],
                              download=False)[0] / describe(dataset).folder
    hashes = content_hashes([str(folder / name) for name in frames.recordings])
    seen = {hashes[i]: frames.recordings[i] for i in test}
    leaks = [f"{frames.recordings[i]} (train) = {seen[hashes[i]]} (test)" for i in train if hashes[i] in seen]
    if leaks:
        raise DatasetCorruptError(f"Dataset {dataset!r}: {len(leaks)} recording(s) on both sides of a fold: "
                                  f"{'; '.join(leaks[:5])}. Remove the copies, or re-copy the mirror.")


def check_splits(dataset: str, data_root, mirror) -> list[str]:
    """Both splits checked as a set before any is framed (:func:`common.data.readers.check_as_a_set`: a recording
    twice in a split, or in both, stops the run); a split whose size differs from every known one is said."""
    def listed(train: bool):   # no download here: a split not yet at hand is fetched (and checked) by its loader
        try:
            return open_event_dataset(dataset, train, data_root, mirror, download=False).data
        except DatasetNotFoundError:
            return None

    test, train = listed(False), listed(True)
    if test is None:
        return []
    notes = check_as_a_set(dataset, train, test)
    for note in notes:
        print(note)
    return notes


def load_event_data(config) -> EventData:
    """Frames (cached) and loaders of a run (common.config.RunConfig): its dataset as ``config.data`` frames, limits
    and folds it (time bins, limits, ``target_size``, a fold of the fold study), training recordings shifted by up
    to ``max_shift`` pixels.

    The test split is required. A missing training split is not an error here: the notebooks then
    evaluate a saved model instead of training one (:func:`common.runs.runner.run`)."""
    data = config.data
    check_splits(config.dataset, config.data_root, config.mirror)
    if data.fold is not None:
        train, test = fold_split(config.dataset, data, config.data_root, config.mirror)
    else:
        test = event_frames(config.dataset, False, data.n_time_bins, config.data_root, config.mirror,
                            limit=data.test_limit, target_size=data.target_size)
        try:
            train = event_frames(config.dataset, True, data.n_time_bins, config.data_root, config.mirror,
                                 limit=data.train_limit, target_size=data.target_size)
        except DatasetNotFoundError as error:
            print(f"No training split of {config.dataset!r}: only a saved model can be evaluated.")
            test_loader = event_loaders(test, test, batch_size=config.batch_size, seed=config.seed)[1]
            return EventData(None, test, None, test_loader, missing_train=str(error))
    return EventData(train, test, *event_loaders(train, test, batch_size=config.batch_size, seed=config.seed,
                                                 max_shift=data.max_shift))
