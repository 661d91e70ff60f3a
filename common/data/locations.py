"""Where a dataset is looked for, and what a missing one says.

In order:
1. the mirror folder (``mirror=`` or $SNN_DATA_MIRROR), a local copy in the same layout the
   library writes (e.g. ``<mirror>/MNIST/raw/train-images-idx3-ubyte``); it may hold a subset;
2. the data root (``data_root=`` or $SNN_DATA_ROOT, default ``./data``);
3. a download into the data root, where the library offers one.
If all fail, :class:`common.data.errors.DatasetNotFoundError` says which dataset, where it looked and how to get it
(:func:`not_found_message`).
"""
from __future__ import annotations

from pathlib import Path

from common.config import ENV_MIRROR, ENV_OFFLINE, NO_MIRROR


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
    return [Path(r) for r in (mirror, data_root) if r and str(r).lower() != NO_MIRROR]
