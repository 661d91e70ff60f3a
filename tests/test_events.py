"""Event datasets: format-true fixtures through tonic's readers, frames, cache keys, errors,
the DVS Gesture download fallback, loaders."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import tonic
import tonic.datasets
import torch
from event_fixtures import make_dvsgesture_tree, make_nmnist_tree, write_nmnist_bin

from common.data import events, fetching, splits, validation
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.events import event_frames, event_loaders
from common.data.readers import open_event_dataset

pytestmark = pytest.mark.usefixtures("no_env")


def frames(root, dataset="nmnist", train=True, n_time_bins=5, **kwargs):
    kwargs.setdefault("download", False)
    return event_frames(dataset, train, n_time_bins, root, progress=False, **kwargs)


def test_nmnist_writer_round_trips_through_tonic_reader(tmp_path):
    rng = np.random.default_rng(0)
    n = 500
    x, y, p = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    t = np.sort(rng.integers(0, 2 ** 23, n))          # all 23 timestamp bits exercised
    path = write_nmnist_bin(tmp_path / "rec.bin", x, y, p, t)
    assert path.stat().st_size == 5 * n
    read = tonic.io.read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    for name, expected in zip("xytp", (x, y, t, p)):
        np.testing.assert_array_equal(read[name], expected)


def test_subset_of_ten_recordings_loads_with_tonic_reader(tmp_path):
    root = make_nmnist_tree(tmp_path, n_per_class=1, n_test_per_class=0)
    ds = open_event_dataset("nmnist", True, root, download=False)
    assert len(ds) == 10 and ds.targets == list(range(10))
    recording, label = ds[3]
    assert label == 3 and len(recording) > 100
    # the description's reader gives tonic's events, field by field
    read = tonic.io.read_mnist_file(ds.data[3], dtype=tonic.datasets.NMNIST.dtype)
    for name in "xytp":
        np.testing.assert_array_equal(recording[name], read[name])


def test_frames_count_events_per_bin_and_clip_at_255(tmp_path, any_span):   # a hand-made recording of 0.4 ms
    # tonic: 4 bins of (400 - 0) // 4 = 100 us from the first event, half-open: t = 400 is not counted
    x = [5] * 300 + [1, 33, 33, 7, 9]
    y = [6] * 300 + [2, 33, 33, 8, 9]
    p = [1] * 300 + [0, 1, 1, 0, 1]
    t = [0] * 300 + [150, 250, 250, 399, 400]
    write_nmnist_bin(tmp_path / "NMNIST" / "Train" / "3" / "00001.bin", x, y, p, t)
    result = frames(tmp_path, n_time_bins=4, denoise_filter_time=None)
    assert result.frames.shape == (1, 4, 2, 34, 34) and result.frames.dtype == torch.uint8
    assert result.labels.tolist() == [3] and result.labels.dtype == torch.int64
    assert result.sensor_size == (34, 34, 2) and len(result.classes) == 10
    expected = torch.zeros(4, 2, 34, 34, dtype=torch.uint8)
    expected[0, 1, 6, 5] = 255           # 300 events, clipped
    expected[1, 0, 2, 1] = 1
    expected[2, 1, 33, 33] = 2
    expected[3, 0, 8, 7] = 1
    assert torch.equal(result.frames[0], expected)


def test_denoise_and_pooling_change_frames_as_expected(tmp_path):
    root = make_nmnist_tree(tmp_path, n_per_class=2, n_test_per_class=0)
    raw = frames(root, denoise_filter_time=None)
    clean = frames(root, denoise_filter_time=10_000)
    assert (clean.frames.sum((1, 2, 3, 4)) < raw.frames.sum((1, 2, 3, 4))).all()   # noise dropped
    pooled = frames(root, denoise_filter_time=None, spatial_factor=0.5)
    assert pooled.frames.shape == (20, 5, 2, 17, 17) and pooled.sensor_size == (17, 17, 2)
    # event pooling: every event lands in a coarser pixel, none is lost (unlike an image resize)
    assert torch.equal(pooled.frames.sum((2, 3, 4)), raw.frames.sum((2, 3, 4)))


def test_synthetic_nmnist_is_learnable(tmp_path):
    root = make_nmnist_tree(tmp_path, n_per_class=4, n_test_per_class=2)
    train, test = frames(root, train=True), frames(root, train=False)
    means = torch.stack([train.frames[train.labels == c].float().mean(0) for c in range(10)]).flatten(1)
    guess = torch.cdist(test.frames.float().flatten(1), means).argmin(1)
    assert (guess == test.labels).float().mean() >= 0.9


def test_cache_hit_is_identical_and_every_setting_has_its_own_file(tmp_path, monkeypatch):
    root = make_nmnist_tree(tmp_path / "data", n_per_class=1, n_test_per_class=0)
    cache = tmp_path / "cache"
    first = frames(root, cache_dir=cache)
    assert first.cache_file and first.cache_file.startswith(str(cache))

    def no_framing(*args, **kwargs):
        raise AssertionError("a cache hit must not frame again")

    with monkeypatch.context() as patch:
        patch.setattr(events, "frame_transform", no_framing)
        again = frames(root, cache_dir=cache)
    assert again.cache_file == first.cache_file
    assert torch.equal(again.frames, first.frames) and torch.equal(again.labels, first.labels)
    assert again.sensor_size == first.sensor_size and again.classes == first.classes

    other_bins = frames(root, n_time_bins=6, cache_dir=cache)
    other_denoise = frames(root, denoise_filter_time=5_000, cache_dir=cache)
    other_limit = frames(root, limit=5, cache_dir=cache)
    assert other_bins.frames.shape[1] == 6 and len(other_limit.labels) == 5
    names = {first.cache_file, other_bins.cache_file, other_denoise.cache_file, other_limit.cache_file}
    assert len(names) == 4 and len(list(cache.glob("*.pt"))) == 4
    shutil.copy(root / "NMNIST" / "Train" / "4" / "00005.bin", root / "NMNIST" / "Train" / "4" / "99999.bin")
    assert frames(root, cache_dir=cache).cache_file not in names          # new source file, new key


def test_cache_tells_two_mirrors_apart_when_a_clip_differs_at_the_same_size(tmp_path):
    """A second mirror whose clip is flipped left-right (same bytes count) gets its own frames and source."""
    first = make_dvsgesture_tree(tmp_path / "first", users=[1], classes=[0, 1], train=False)
    second = tmp_path / "second"
    shutil.copytree(first, second)
    clip = next((second / "DVSGesture" / "ibmGestureTest").glob("*/0.npy"))
    recording = np.load(clip)
    recording[:, 0] = 127 - recording[:, 0]
    np.save(clip, recording)
    assert clip.stat().st_size == next(first.glob("DVSGesture/ibmGestureTest/*/0.npy")).stat().st_size
    cache = tmp_path / "cache"   # one data root's cache serves both mirrors
    a = frames(tmp_path / "data", "dvsgesture", train=False, mirror=first, cache_dir=cache, target_size=(32, 32))
    b = frames(tmp_path / "data", "dvsgesture", train=False, mirror=second, cache_dir=cache, target_size=(32, 32))
    assert a.cache_file != b.cache_file and a.source != b.source and str(second) in b.source
    assert torch.equal(b.frames[0], a.frames[0].flip(-1))                 # the flip, not the first mirror's frames
    assert torch.equal(b.frames[1], a.frames[1])


def test_limit_is_class_balanced(tmp_path):
    root = make_nmnist_tree(tmp_path, n_per_class=3, n_test_per_class=0)
    assert torch.bincount(frames(root, limit=20).labels).tolist() == [2] * 10


def test_missing_dataset_names_dataset_and_folders(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError) as info:
        frames(tmp_path / "data", mirror=tmp_path / "mirror")
    message = str(info.value)
    assert "'nmnist'" in message
    assert str(tmp_path / "mirror" / "NMNIST" / "Train") in message
    assert str(tmp_path / "data" / "NMNIST" / "Train") in message

    def offline(url, *args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(fetching, "download_and_extract_archive", offline)
    for dataset in ("nmnist", "dvsgesture"):
        with pytest.raises(DatasetNotFoundError) as info:
            frames(tmp_path / "data", dataset, mirror=tmp_path / "mirror", download=True)
        message = str(info.value)
        split = "NMNIST/Train" if dataset == "nmnist" else "DVSGesture/ibmGestureTrain"
        assert str(tmp_path / "mirror" / split) in message and str(tmp_path / "data" / split) in message
        assert "SNN_DATA_MIRROR" in message and (dataset != "nmnist" or "mendeley" in message.lower())


@pytest.mark.parametrize("keep_bytes", [0, 12])
def test_truncated_bin_is_corrupt(tmp_path, keep_bytes):
    root = make_nmnist_tree(tmp_path, n_per_class=1, n_test_per_class=0)
    victim = root / "NMNIST" / "Train" / "7" / "00008.bin"
    victim.write_bytes(victim.read_bytes()[:keep_bytes])
    with pytest.raises(DatasetCorruptError, match="00008.bin"):
        frames(root)


def test_dvsgesture_fixture_loads_through_tonic_reader(tmp_path):
    root = make_dvsgesture_tree(tmp_path, users=[1, 2], classes=[0, 3, 5])
    ds = open_event_dataset("dvsgesture", True, root, download=False)
    assert len(ds) == 6 and sorted(ds.targets) == [0, 0, 3, 3, 5, 5] and {g["user"] for g in ds.groups} == {1, 2}
    recording, _ = ds[0]
    tonic_reader = tonic.datasets.DVSGesture.__new__(tonic.datasets.DVSGesture)   # tonic's own reading of the file
    tonic_reader.data, tonic_reader.targets, tonic_reader.dtype = ds.data, ds.targets, tonic.datasets.DVSGesture.dtype
    tonic_reader.transform = tonic_reader.target_transform = tonic_reader.transforms = None
    expected, _ = tonic_reader[0]
    for name in "xytp":
        np.testing.assert_array_equal(recording[name], expected[name])
    on_disk = np.load(ds.data[0])
    assert on_disk.dtype == np.float64 and (on_disk[:, 3] % 1 > 0).any()   # fractional ms, as the real files
    np.testing.assert_allclose(recording["t"], on_disk[:, 3] * 1000, atol=1)   # ms on disk, us after tonic

    result = frames(root, "dvsgesture", n_time_bins=4, target_size=(32, 32))
    assert result.frames.shape == (6, 4, 2, 32, 32) and len(result.classes) == 11
    # the gesture moves: the centre of activity differs between the first and the last bin
    grid = torch.arange(32).float()
    activity = result.frames.float().sum(2)                                   # [N, T, H, W]
    centre_x = (activity.sum(2) * grid).sum(-1) / activity.sum((2, 3))
    assert ((centre_x[:, 0] - centre_x[:, -1]).abs() > 2).sum() >= 4


def test_dvsgesture_download_tries_tonic_url_then_figshare_api(tmp_path, monkeypatch):
    calls = []

    def challenge_page(url, download_root, filename=None, md5=None, **kwargs):
        calls.append((url, download_root, filename, md5))
        raise RuntimeError("File not found or corrupted.")

    monkeypatch.setattr(fetching, "download_and_extract_archive", challenge_page)
    with pytest.raises(DatasetNotFoundError) as info:
        frames(tmp_path, "dvsgesture", download=True)
    cls = tonic.datasets.DVSGesture
    assert [c[0] for c in calls] == [cls.train_url, "https://api.figshare.com/v2/file/download/38022171"]
    assert all(c[1:] == (str(tmp_path / "DVSGesture"), cls.train_filename, cls.train_md5) for c in calls)
    message = str(info.value)
    for step in ("'dvsgesture'", "ibmGestureTrain.tar.gz", cls.train_md5, "tar -xzf",
                 str(tmp_path / "DVSGesture"), "SNN_DATA_MIRROR"):
        assert step in message

    calls.clear()

    def second_source_works(url, download_root, filename=None, md5=None, **kwargs):
        calls.append(url)
        if "api.figshare.com" not in url:
            raise RuntimeError("File not found or corrupted.")
        make_dvsgesture_tree(tmp_path, users=[1], classes=[2], train=False)

    monkeypatch.setattr(fetching, "download_and_extract_archive", second_source_works)
    result = frames(tmp_path, "dvsgesture", train=False, download=True, target_size=(16, 16))
    assert len(calls) == 2 and result.labels.tolist() == [2]


def test_event_loaders_time_first_and_whole_test_set(tmp_path):
    root = make_nmnist_tree(tmp_path, n_per_class=2, n_test_per_class=1)
    train, test = frames(root, train=True), frames(root, train=False, limit=7)
    train_loader, test_loader = event_loaders(train, test, batch_size=4, seed=0)
    inputs, labels = next(iter(train_loader))
    assert inputs.shape == (5, 4, 2, 34, 34) and inputs.dtype == torch.float32
    seen = [(x, y) for x, y in test_loader]
    assert [len(y) for _, y in seen] == [4, 3]                                 # no drop_last
    assert torch.equal(torch.cat([y for _, y in seen]), test.labels)           # in order
    assert torch.equal(torch.cat([x for x, _ in seen], 1), test.frames.transpose(0, 1).float())
    with pytest.raises(ValueError, match="n_time_bins"):
        event_loaders(train, frames(root, train=False, n_time_bins=3), batch_size=4, seed=0)


@pytest.mark.mirror
def test_real_nmnist_from_mirror(mirror, tmp_path):
    if not (mirror / "NMNIST" / "Train").is_dir():
        pytest.skip("the mirror holds no NMNIST")
    result = event_frames("nmnist", True, 25, tmp_path, mirror=mirror, limit=50, progress=False)
    assert result.frames.shape == (50, 25, 2, 34, 34) and result.frames.dtype == torch.uint8
    assert result.source == str(mirror / "NMNIST" / "Train")
    assert torch.bincount(result.labels, minlength=10).tolist() == [5] * 10
    ds = open_event_dataset("nmnist", True, tmp_path, mirror=mirror)
    first_zero = ds.data[ds.targets.index(0)]
    assert "/Train/0/" in first_zero and result.labels[0] == 0
    assert (result.frames.sum((1, 2, 3, 4)) > 1000).all()      # real recordings: thousands of events


def test_max_shift_augments_training_batches_only():
    frames = torch.zeros(8, 4, 2, 34, 34, dtype=torch.uint8)
    frames[:, :, :, 10:20, 10:20] = 1
    split = lambda: events.EventFrames(frames.clone(), torch.arange(8) % 2, ["a", "b"], (34, 34, 2), "x", None)
    torch.manual_seed(0)
    train, test = events.event_loaders(split(), split(), batch_size=8, seed=0, max_shift=3)
    shifted, _ = next(iter(train))
    plain, _ = next(iter(test))
    assert torch.equal(plain, frames.float().transpose(0, 1))            # test: untouched
    assert shifted.shape == plain.shape and shifted.sum() == plain.sum()   # moved, not lost
    corners = {tuple(torch.nonzero(shifted[0, b, 0])[0].tolist()) for b in range(8)}
    assert corners != {(10, 10)}                                          # training: moved


@pytest.mark.mirror
def test_real_dvsgesture_test_clips_from_mirror(mirror, tmp_path):
    """The mirror's 10 real clips (float64, fractional ms, ~10% of pixel-bins active) through the loader;
    without a training split, load_event_data keeps the test split and says why there is no training."""
    from common.config import DataSettings, RunConfig

    if not (mirror / "DVSGesture" / "ibmGestureTest").is_dir():
        pytest.skip("the mirror holds no DVS Gesture clips")
    raw = np.load(next((mirror / "DVSGesture" / "ibmGestureTest").glob("*/0.npy")))
    assert raw.dtype == np.float64 and (raw[:, 3] % 1 > 0).any()
    config = RunConfig(run_name="x", dataset="dvsgesture", model="scnn", profile="smoke", batch_size=4,
                       data=DataSettings(n_time_bins=25, target_size=[32, 32]),
                       data_root=str(tmp_path), mirror=str(mirror), output_root=str(tmp_path / "out"))
    data = splits.load_event_data(config)
    assert data.train is None and data.train_loader is None
    assert "ibmGestureTrain" in data.missing_train and str(mirror) in data.missing_train
    assert data.test.frames.shape == (10, 25, 2, 32, 32) and data.test.labels.tolist() == list(range(10))
    assert 0.05 < (data.test.frames > 0).float().mean() < 0.25             # real density (~11%)
    assert data.test.frames.max() > 100
    assert "no training split (evaluation only) / 10 test recordings" in data.summary()
    inputs, labels = next(iter(data.test_loader))
    assert inputs.shape == (25, 4, 2, 32, 32) and labels.tolist() == [0, 1, 2, 3]
