"""Where an event dataset's split is (the mirror, then the data root, as :mod:`common.data.locations` orders them),
and its download when neither has it, as its description (:mod:`common.data.datasets`) says: tonic's URL and md5
for N-MNIST; for DVS Gesture tonic's figshare link, then a fallback address for the same file, because tonic
1.7.0's figshare links return a challenge page (tonic issues #329/#330); DVS_Sign has no download, only the steps."""
from __future__ import annotations

from pathlib import Path

import tonic.datasets
from tonic.download_utils import download_and_extract_archive

from common.config import downloads_allowed, resolve_locations
from common.data.errors import DatasetNotFoundError
from common.data.locations import candidate_roots, not_found_message, offline_hint


def _has_files(folder: Path, suffixes: tuple[str, ...]) -> bool:
    return folder.is_dir() and any(next(folder.glob(f"**/*{s}"), None) is not None for s in suffixes)


def fetch_nmnist(root: Path, train: bool, looked_in: list[Path]) -> None:
    """tonic's own N-MNIST download (Mendeley, md5-checked) into ``root/NMNIST``."""
    cls = tonic.datasets.NMNIST
    url, filename, md5 = ((cls.train_url, cls.train_filename, cls.train_md5) if train
                          else (cls.test_url, cls.test_filename, cls.test_md5))
    try:
        download_and_extract_archive(url, str(root / "NMNIST"), filename=filename, md5=md5)
    except Exception as error:   # offline, proxy, checksum: all end in the same advice
        from common.data.datasets import describe
        folder = describe("nmnist").split_folder(root, train)
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


def fetch_dvsgesture(root: Path, train: bool, looked_in: list[Path]) -> None:
    """Try each source in turn, each md5-checked by tonic; explain the manual steps if all fail."""
    from common.data.datasets import describe

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
    folder = describe("dvsgesture").split_folder(root, train)
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
    root if the dataset has a download and downloads are allowed."""
    from common.data.datasets import describe

    described = describe(dataset)
    if described.kind != "events":
        raise ValueError(f"{described.title} is not an event dataset")
    mirror = mirror or resolve_locations(data_root)[1]     # the one way to find a mirror (common.config)
    roots = candidate_roots(data_root, mirror)
    for root in roots:
        if _has_files(described.split_folder(root, train), described.suffixes):
            return root, described.split_folder(root, train)
    looked_in = [described.split_folder(r, train) for r in roots]
    if described.fetch is None or not downloads_allowed(download):
        why = "it has no download: " if described.fetch is None else offline_hint(download)
        raise DatasetNotFoundError(not_found_message(dataset, looked_in, f"{why}{described.how_to_get}."))
    root = Path(data_root)
    described.fetch(root, train, looked_in)
    if not _has_files(described.split_folder(root, train), described.suffixes):
        raise DatasetNotFoundError(not_found_message(dataset, looked_in, (
            f"the download finished but {described.split_folder(root, train)} holds no recordings "
            f"({described.layout}); the archive may have another layout. Delete it and retry, or use a mirror.")))
    return root, described.split_folder(root, train)
