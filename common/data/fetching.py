"""Where an event dataset's split is (the mirror, then the data root, as :mod:`common.data.locations` orders them),
and its download when neither has it: tonic's URL and md5 for N-MNIST; for DVS Gesture tonic's figshare link,
then a fallback address for the same file, because tonic 1.7.0's figshare links return a challenge page (tonic
issues #329/#330)."""
from __future__ import annotations

from pathlib import Path

import tonic.datasets
from tonic.download_utils import download_and_extract_archive

from common.config import downloads_allowed, resolve_locations
from common.data.errors import DatasetNotFoundError
from common.data.locations import candidate_roots, not_found_message, offline_hint

# name -> (folder under the root, split folders (train, test), recording file suffix): tonic's layout
EVENT_LAYOUT = {
    "nmnist": ("NMNIST", ("Train", "Test"), ".bin"),
    "dvsgesture": ("DVSGesture", ("ibmGestureTrain", "ibmGestureTest"), ".npy"),
}


def split_folder(root: Path, dataset: str, train: bool) -> Path:
    folder, splits, _ = EVENT_LAYOUT[dataset]
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
        folder = split_folder(root, "nmnist", train)
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
    folder = split_folder(root, "dvsgesture", train)
    tried = "\n".join(f"    {f}" for f in failures)
    raise DatasetNotFoundError(not_found_message("dvsgesture", looked_in, (
        f"every download source failed:\n{tried}\n"
        f"  Manual steps: 1. in a browser, download {filename} (md5 {md5}) from "
        f"{dvsgesture_sources(train)[0]} (figshare, 'Tonic DVSGesture' files);\n"
        f"  2. put it in {target}/ ;\n"
        f"  3. extract it there: tar -xzf {target / filename} -C {target}\n"
        f"     so that {folder}/userNN_<lighting>/<class>.npy exists.")))


def find_event_split(dataset: str, train: bool, data_root: str | Path, mirror: str | Path | None = None,
                     download: bool = True) -> tuple[Path, Path]:
    """The root (mirror or data root) holding the split, and the split's folder there; downloads into the data
    root if allowed."""
    if dataset not in EVENT_LAYOUT:
        raise ValueError(f"unknown event dataset {dataset!r}; choose one of {sorted(EVENT_LAYOUT)}")
    suffix = EVENT_LAYOUT[dataset][2]
    mirror = mirror or resolve_locations(data_root)[1]     # the one way to find a mirror (common.config)
    roots = candidate_roots(data_root, mirror)
    for root in roots:
        if _has_files(split_folder(root, dataset, train), suffix):
            return root, split_folder(root, dataset, train)
    looked_in = [split_folder(r, dataset, train) for r in roots]
    if not downloads_allowed(download):
        how = (offline_hint(download) + "use tonic's download into the data root" +
               (", or fetch it from https://data.mendeley.com/datasets/468j46mzdv" if dataset == "nmnist"
                else f", or fetch {'ibmGestureTrain' if train else 'ibmGestureTest'}.tar.gz from "
                     f"{dvsgesture_sources(train)[0]} and extract it into {Path(data_root) / 'DVSGesture'}"))
        raise DatasetNotFoundError(not_found_message(dataset, looked_in, how + "."))
    root = Path(data_root)
    (_fetch_nmnist if dataset == "nmnist" else _fetch_dvsgesture)(root, train, looked_in)
    if not _has_files(split_folder(root, dataset, train), suffix):
        raise DatasetNotFoundError(not_found_message(dataset, looked_in, (
            f"the download finished but {split_folder(root, dataset, train)} holds no {suffix} files; "
            f"the archive may have another layout. Delete it and retry, or use a mirror.")))
    return root, split_folder(root, dataset, train)
