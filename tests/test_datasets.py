"""The datasets' descriptions (common/data/datasets.py) and DVS_Sign through the real pipeline: the authors' files
from the mirror, read as .csv and .csv.gz, checked raw, framed; every split checked as a set."""
from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from common.data.datasets import datasets, describe, event_names, is_images
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.events import event_frames
from common.data.readers import check_as_a_set, list_recordings, open_event_dataset
from common.data.splits import check_splits

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("no_env")


def sign_clip(mirror: Path, split="train", label=3, n=0) -> Path:
    path = mirror / "DVSSign" / split / str(label) / f"{n}.csv.gz"
    if not path.is_file():
        pytest.skip("the mirror holds no DVS_Sign")
    return path


def sign_tree(tmp_path: Path, mirror: Path, clips: dict) -> Path:
    """A DVS_Sign folder of real clips: ``{(split, label): [n, ...]}`` copied from the mirror (gzipped as there)."""
    for (split, label), numbers in clips.items():
        for n in numbers:
            target = tmp_path / "DVSSign" / split / str(label) / f"{n}.csv.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(sign_clip(mirror, split, label, n), target)
    return tmp_path


def test_every_dataset_is_described_once_with_what_the_layers_read():
    assert set(datasets()) == {"mnist", "fashion-mnist", "nmnist", "dvsgesture", "dvssign"}
    for name, d in datasets().items():
        assert d.name == name and len(d.classes) == d.n_classes >= 10 and d.source and d.how_to_get
        assert set(d.expected) == {"train", "test"}
        if d.kind == "events":
            assert d.read_raw and d.raw_problems and d.to_events and d.label and d.span_us[0] < d.span_us[1]
    assert is_images("mnist") and not is_images("dvssign") and not is_images("a toy set")
    assert event_names() == ["nmnist", "dvsgesture", "dvssign"]
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*dvssign"):
        describe("cifar")


def test_no_dataset_branch_outside_the_descriptions():
    """Issue #41's check: `git grep -nE "dataset ?(==|!=|in) "` finds nothing outside the descriptions and tests."""
    found = subprocess.run(["git", "grep", "-nE", "dataset ?(==|!=|in) ", "--", ":!tests", ":!*.ipynb"],
                           cwd=PROJECT, capture_output=True, text=True).stdout
    assert found == "", found


@pytest.mark.mirror
def test_a_clip_read_as_csv_and_as_csv_gz_gives_the_same_frames(mirror, tmp_path):
    gz = sign_clip(mirror)
    plain_root = tmp_path / "plain"
    plain = plain_root / "DVSSign" / "train" / "3" / "0.csv"
    plain.parent.mkdir(parents=True)
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    zipped_root = sign_tree(tmp_path / "zipped", mirror, {("train", 3): [0]})
    frames = [event_frames("dvssign", True, 16, root, mirror="none", download=False, target_size=(32, 32),
                           progress=False, cache_dir=tmp_path / f"cache-{i}").frames
              for i, root in enumerate((plain_root, zipped_root))]
    assert frames[0].shape == (1, 16, 2, 32, 32) and frames[0].sum() > 1000
    assert torch.equal(frames[0], frames[1])


@pytest.mark.mirror
def test_the_real_clips_float_rounding_passes_and_a_real_reordering_is_named(mirror, tmp_path):
    described = describe("dvssign")
    raw = described.read_raw(sign_clip(mirror))
    steps = np.diff(raw[:, 0])
    assert (steps < 0).any() and steps.min() > -1e-15            # the authors' rounding: steps back of ~1e-16 s
    assert described.raw_problems(raw) == []
    events = described.read(sign_clip(mirror))
    assert (np.diff(events["t"]) >= 0).all() and len(events) == len(raw)    # nothing reordered or dropped
    swapped = raw.copy()
    swapped[[10, -10]] = swapped[[-10, 10]]                       # a real reordering: seconds apart
    path = tmp_path / "DVSSign" / "train" / "3" / "0.csv"
    path.parent.mkdir(parents=True)
    np.savetxt(path, swapped, delimiter=",", fmt="%.17g")
    with pytest.raises(DatasetCorruptError, match=r"0\.csv.*field t: times out of order \(\d+ steps back by more"):
        described.read(path)


@pytest.mark.mirror
@pytest.mark.parametrize("column, value, message", [
    (1, 128, "field x: values .* outside the 128 x 128 sensor"), (2, -1, "field y"),
    (3, 2, "field p: polarities other than 0/1"), (0, np.nan, "NaN or infinite"), (0, -5.0, "negative times"),
])
def test_every_raw_field_is_checked_before_any_transform(mirror, tmp_path, column, value, message):
    raw = describe("dvssign").read_raw(sign_clip(mirror))
    raw[100, column] = value
    path = tmp_path / "bad.csv"
    np.savetxt(path, raw, delimiter=",", fmt="%.17g")
    with pytest.raises(DatasetCorruptError, match=message):
        describe("dvssign").read(path)


@pytest.mark.mirror
def test_the_six_known_off_grid_events_are_dropped_and_no_other(mirror, tmp_path):
    """test/13/2 holds one event at (71, 71.1): the reader drops that event only; the same event in another file
    is refused."""
    known = mirror / "DVSSign" / "test" / "13" / "2.csv.gz"
    if not known.is_file():
        pytest.skip("the mirror holds no DVS_Sign")
    described = describe("dvssign")
    raw = described.read_raw(known)
    assert len(described.read(known)) == len(raw) - 1
    other = tmp_path / "DVSSign" / "test" / "13" / "3.csv.gz"
    other.parent.mkdir(parents=True)
    shutil.copy(known, other)
    with pytest.raises(DatasetCorruptError, match="field y: values .* not whole pixels"):
        described.read(other)


@pytest.mark.mirror
def test_a_recording_twice_in_a_split_or_in_both_splits_stops_the_run(mirror, tmp_path):
    root = sign_tree(tmp_path, mirror, {("train", 0): [0, 1], ("train", 1): [0], ("test", 0): [0], ("test", 1): [0]})
    check_splits("dvssign", root, "none")                          # distinct clips: fine (counts noted)
    copy = root / "DVSSign" / "train" / "1" / "7.csv.gz"
    shutil.copy(root / "DVSSign" / "train" / "0" / "1.csv.gz", copy)
    with pytest.raises(DatasetCorruptError, match=r"train/1/7\.csv\.gz repeats .*train/0/1\.csv\.gz"):
        check_splits("dvssign", root, "none")
    copy.unlink()
    shutil.copy(root / "DVSSign" / "test" / "1" / "0.csv.gz", root / "DVSSign" / "train" / "1" / "8.csv.gz")
    with pytest.raises(DatasetCorruptError, match=r"train/1/8\.csv\.gz \(train\) is the same recording as .*test"):
        check_splits("dvssign", root, "none")


@pytest.mark.mirror
def test_the_mirror_splits_have_their_known_sizes_and_a_subset_is_said(mirror, tmp_path):
    for name in ("dvssign", "nmnist"):
        assert check_splits(name, tmp_path / "data", mirror) == []          # the mirror's known sizes: no note
    root = sign_tree(tmp_path, mirror, {("train", 0): [0], ("test", 0): [0]})
    notes = check_as_a_set("dvssign", [str(p) for p, _, _ in list_recordings("dvssign", root / "DVSSign" / "train")],
                           [str(p) for p, _, _ in list_recordings("dvssign", root / "DVSSign" / "test")])
    assert notes == ["DVS_Sign train split: 1 recordings found, where it is known to hold 600 (complete); results on it "
                     "are on a subset", "DVS_Sign test split: 1 recordings found, where it is known to hold 150 "
                     "(complete); results on it are on a subset"]


def test_missing_dvssign_names_the_repository_and_the_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        open_event_dataset("dvssign", True, tmp_path / "data", mirror="none")
    message = str(info.value)
    assert "'dvssign' was not found" in message and "najie1314/DVS" in message and "-b master" in message
    assert str(tmp_path / "data" / "DVSSign" / "train") in message


@pytest.mark.mirror
def test_the_layout_refuses_what_is_not_a_recording(mirror, tmp_path):
    root = sign_tree(tmp_path, mirror, {("train", 2): [0]})
    (root / "DVSSign" / "train" / "2" / "notes.txt").write_text("x")
    (root / "DVSSign" / "train" / "15").mkdir()                   # no class 15
    with pytest.raises(DatasetCorruptError, match=r"2 entries.*15/ \(an empty folder.*notes\.txt \(not a recording"):
        list_recordings("dvssign", root / "DVSSign" / "train")


def test_knobs_are_checked_against_the_data_before_any_loads():
    from common.runs.specs import KnobError, resolve

    for overrides, message in [({"max_shift": 1000}, "below the 34-pixel frame of N-MNIST"),
                               ({"n_classes": 5}, "'n_classes' .* must be 10 for N-MNIST"),
                               ({"in_channels": 3}, "'in_channels' .* must be 2"),
                               ({"input_size": 28}, "'input_size' .* must be 34"),
                               ({"n_time_bins": 900}, "GiB of frames")]:
        with pytest.raises(KnobError, match=message):
            resolve("scnn_nmnist_beta0.5", "quick", overrides=overrides)
    with pytest.raises(KnobError, match="'input_size' .* must be 32 for DVS_Sign"):
        resolve("scnn_dvssign", "quick", overrides={"input_size": 34})
    resolve("scnn_nmnist_beta0.5", "quick", overrides={"max_shift": 5})  # in range: accepted


@pytest.mark.mirror
def test_an_nmnist_recording_cut_to_88_percent_on_an_event_boundary_is_named(mirror, tmp_path):
    """The fault probe's case: a real recording cut on an event boundary to 88% of its bytes spans ~260 ms, above the
    old 250 ms floor; N-MNIST's description says a whole recording spans at least 280 ms (1,100 real ones: 291-314)."""
    source = next((mirror / "NMNIST" / "Train" / "3").glob("*.bin"))
    data = source.read_bytes()
    victim = tmp_path / "NMNIST" / "Train" / "3" / source.name
    victim.parent.mkdir(parents=True)
    victim.write_bytes(data[: int(len(data) * 0.88) // 5 * 5])
    whole = describe("nmnist").read(source)
    assert 0.29e6 < whole["t"][-1] - whole["t"][0] < 0.315e6
    with pytest.raises(DatasetCorruptError, match=rf"{victim.name}.*events over only .* us, where a whole recording "
                                                 "spans at least 280000 us"):
        describe("nmnist").read(victim)
