"""Bad input never passes silently: damaged recordings, wrong layouts, a cache or a checkpoint that is not
what it claims, a run killed at a random point. Every case ends in a clear error naming the file (and
the fix) or in correct data. Real files are used where the mirror has them (copies, never the originals).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from event_fixtures import make_dvsgesture_tree, make_nmnist_tree

from common.data import validation
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.events import event_frames
from common.files import atomic_write
from common.networks.registry import build_model
from common.runs.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("no_env")
TESTS = Path(__file__).parent


def frames(root, dataset="nmnist", train=True, **kwargs):
    return event_frames(dataset, train, 5, root, download=False, progress=False, **kwargs)


@pytest.fixture
def nmnist(tmp_path, mirror_or_none):
    """A small N-MNIST tree: real recordings copied from the mirror where it has them, else synthetic."""
    root = tmp_path / "nmnist"
    if mirror_or_none is not None and (mirror_or_none / "NMNIST" / "Train").is_dir():
        for digit in range(10):
            source = sorted((mirror_or_none / "NMNIST" / "Train" / str(digit)).glob("*.bin"))[0]
            (root / "NMNIST" / "Train" / str(digit)).mkdir(parents=True)
            shutil.copy(source, root / "NMNIST" / "Train" / str(digit) / source.name)
        return root
    return make_nmnist_tree(root, n_per_class=1, n_test_per_class=0)


@pytest.fixture
def mirror_or_none():
    from conftest import MIRROR
    return MIRROR


@pytest.fixture
def dvs(tmp_path, mirror_or_none):
    """DVS Gesture test clips: copies of the mirror's real ones where present, else synthetic."""
    root = tmp_path / "dvs"
    real = None if mirror_or_none is None else mirror_or_none / "DVSGesture" / "ibmGestureTest"
    if real is not None and real.is_dir():
        shutil.copytree(real, root / "DVSGesture" / "ibmGestureTest")
        return root
    return make_dvsgesture_tree(root, users=[1], classes=range(3), train=False)


def a_recording(root, dataset="nmnist"):
    split = "NMNIST/Train" if dataset == "nmnist" else "DVSGesture/ibmGestureTest"
    return sorted((root / split).glob("*/*.bin" if dataset == "nmnist" else "*/*.npy"))[0]


# ---------------------------------------------------------------- recordings


def test_random_bytes_of_the_same_length_are_refused(nmnist):
    victim = a_recording(nmnist)
    victim.write_bytes(np.random.default_rng(0).integers(0, 256, victim.stat().st_size, dtype=np.uint8).tobytes())
    with pytest.raises(DatasetCorruptError, match=f"{victim.name}.*(outside the 34 x 34 sensor|out of order)"):
        frames(nmnist, cache_dir=nmnist / "cache")
    assert not list((nmnist / "cache").glob("*.pt"))                 # nothing wrong is cached


def test_a_recording_cut_on_an_event_boundary_is_truncated(nmnist):
    victim = a_recording(nmnist)
    data = victim.read_bytes()
    victim.write_bytes(data[: (len(data) // 10) // 5 * 5])            # a tenth of its events, whole events
    with pytest.raises(DatasetCorruptError, match=f"{victim.name}.*only.*truncated"):
        frames(nmnist)


def test_a_35_byte_recording_names_the_file_instead_of_a_ufunc_error(nmnist):
    victim = a_recording(nmnist)
    victim.write_bytes(victim.read_bytes()[:35])
    with pytest.raises(DatasetCorruptError, match=victim.name):
        frames(nmnist)


def test_a_recording_emptied_by_denoising_is_named(tmp_path, any_span):
    from event_fixtures import write_nmnist_bin

    # isolated events 50 ms apart, each at another corner: the 10 ms filter keeps none of them
    path = write_nmnist_bin(tmp_path / "NMNIST" / "Train" / "1" / "00001.bin", [0, 33, 0, 33], [0, 0, 33, 33],
                            [1, 1, 0, 0], [20_000, 70_000, 120_000, 170_000])
    with pytest.raises(DatasetCorruptError, match=f"{path.name}: none of its 4 events is left after denoising"):
        frames(tmp_path)
    kept = frames(tmp_path, denoise_filter_time=None)      # the named way to keep it
    assert kept.frames.sum() == 3                          # tonic: the event at exactly t_last is not binned


def test_dvs_clip_with_nan_times_or_no_events(dvs):
    victim = a_recording(dvs, "dvsgesture")
    clip = np.load(victim)
    clip[5:50, 3] = np.nan
    np.save(victim, clip)
    with pytest.raises(DatasetCorruptError, match=f"{victim.name}.*45 values that are NaN"):
        frames(dvs, "dvsgesture", train=False, target_size=(32, 32))
    np.save(victim, np.zeros((0, 4)))
    with pytest.raises(DatasetCorruptError, match=f"{victim.name}.*holds no events"):
        frames(dvs, "dvsgesture", train=False, target_size=(32, 32))


def test_dvs_coordinates_off_the_sensor(dvs):
    victim = a_recording(dvs, "dvsgesture")
    clip = np.load(victim)
    clip[0, 0] = 128
    np.save(victim, clip)
    with pytest.raises(DatasetCorruptError, match="outside the 128 x 128 sensor"):
        frames(dvs, "dvsgesture", train=False, target_size=(32, 32))


def test_bin_files_without_digit_folders_are_a_layout_error(nmnist):
    for path in list((nmnist / "NMNIST" / "Train").rglob("*.bin"))[:3]:
        shutil.move(path, nmnist / "NMNIST" / "Train" / path.name)
    with pytest.raises(DatasetCorruptError, match=r"not in the layout .*Train/<digit 0-9>/<id>\.bin"):
        frames(nmnist)


def test_dvs_clips_without_user_folders_are_a_layout_error(dvs):
    victim = a_recording(dvs, "dvsgesture")
    shutil.move(victim, dvs / "DVSGesture" / "ibmGestureTest" / victim.name)
    with pytest.raises(DatasetCorruptError, match="user<NN>_<lighting>"):
        frames(dvs, "dvsgesture", train=False)


def test_near_miss_folder_names_and_a_missing_mirror_are_pointed_out(nmnist, tmp_path):
    (nmnist / "NMNIST").rename(nmnist / "nmnist")
    with pytest.raises(DatasetNotFoundError) as info:
        frames(tmp_path / "data", mirror=nmnist)
    message = str(info.value)
    assert f"there is {nmnist / 'nmnist'}: rename it to 'NMNIST'" in message
    with pytest.raises(DatasetNotFoundError) as info:
        frames(tmp_path / "data", mirror=tmp_path / "no-such-mirror")
    assert f"no folder {tmp_path / 'no-such-mirror'}" in str(info.value)


# ---------------------------------------------------------------- the frame cache


def test_cache_damaged_in_place_is_rebuilt_and_says_so(nmnist, capsys):
    good = frames(nmnist, cache_dir=nmnist / "cache")
    cache = Path(good.cache_file)
    saved = torch.load(cache, weights_only=True)
    saved["frames"][0, 0, 0, 0, 0] += 7                              # same size, other bytes
    torch.save(saved, cache)
    again = frames(nmnist, cache_dir=nmnist / "cache")
    assert "do not match their checksum" in capsys.readouterr().out
    assert torch.equal(again.frames, good.frames)


def test_cache_file_of_other_settings_under_the_expected_name_is_not_served(nmnist, capsys):
    good = frames(nmnist, cache_dir=nmnist / "cache")
    other = frames(nmnist, cache_dir=nmnist / "other", limit=5)
    shutil.copy(other.cache_file, good.cache_file)                  # valid file, wrong content
    again = frames(nmnist, cache_dir=nmnist / "cache")
    assert "built for other settings" in capsys.readouterr().out
    assert torch.equal(again.frames, good.frames) and len(again.labels) == 10


def test_a_bad_recording_replaced_by_a_good_copy_of_the_same_size_is_framed_again(nmnist, tmp_path):
    victim = a_recording(nmnist)
    original = victim.read_bytes()
    shifted = bytearray(original)
    shifted[0::5] = bytes(max(0, b - 1) for b in original[0::5])   # every x one pixel left: valid, other data
    victim.write_bytes(bytes(shifted))
    bad = frames(nmnist, cache_dir=nmnist / "cache")
    time.sleep(0.01)
    victim.write_bytes(original)                                     # the "re-copy the mirror" advice
    good = frames(nmnist, cache_dir=nmnist / "cache")
    assert good.cache_file != bad.cache_file and not torch.equal(good.frames[0], bad.frames[0])
    assert torch.equal(good.frames, frames(nmnist, cache_dir=tmp_path / "fresh").frames)


# ---------------------------------------------------------------- checkpoints


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "models" / "toy.pth"
    save_checkpoint(path, build_model("cnn", n_classes=2), "cnn", {"n_classes": 2}, meta={"note": "toy"})
    return path


@pytest.mark.parametrize("change, expected", [
    (lambda c: c.pop("model_name"), "lacks model_name"),
    (lambda c: c.update(model_name="no_such_model"), "model 'no_such_model'.*cannot be built"),
    (lambda c: c["model_kwargs"].update(wings=2), "cannot be built.*wings"),
    (lambda c: c["state_dict"]["fc2.bias"].fill_(float("nan")), "do not match the checksum"),
])
def test_checkpoint_faults_are_checkpoint_errors_naming_the_file(checkpoint, change, expected):
    saved = torch.load(checkpoint, weights_only=True)
    change(saved)
    torch.save(saved, checkpoint)
    with pytest.raises(CheckpointError, match=f"{checkpoint.name}.*{expected}|{expected}"):
        load_model(checkpoint)


def test_nan_weights_are_refused_even_with_a_matching_checksum(checkpoint):
    from common.runs.checkpoint import weights_checksum

    saved = torch.load(checkpoint, weights_only=True)
    saved["state_dict"]["fc2.bias"].fill_(float("nan"))
    saved["weights_sha256"] = weights_checksum(saved["state_dict"])   # a run that diverged, saved faithfully
    torch.save(saved, checkpoint)
    with pytest.raises(CheckpointError, match=r"toy\.pth: weights fc2\.bias hold NaN"):
        load_model(checkpoint)


def test_committed_models_load_with_their_checksums():
    from common.config import PROJECT_ROOT

    paths = sorted((PROJECT_ROOT / "models").glob("*.pth"))
    assert paths
    for path in paths:
        saved = read_checkpoint(path)
        assert "weights_sha256" in saved, f"{path.name} has no weights checksum"
        load_model(path)


def test_a_card_that_disagrees_is_named_by_a_read_and_rewritten_only_when_asked(checkpoint, capsys):
    from common.runs.checkpoint import write_card

    card = checkpoint.with_suffix(".json")
    card.write_text(json.dumps({"model_name": "something else"}))
    read_checkpoint(checkpoint)                                    # a read: the card is named, not written
    said = capsys.readouterr().out
    assert "toy.json does not match toy.pth" in said and "write_card(" in said
    assert json.loads(card.read_text()) == {"model_name": "something else"}
    assert write_card(checkpoint) == card and json.loads(card.read_text())["model_name"] == "cnn"
    read_checkpoint(checkpoint)
    assert capsys.readouterr().out == ""                           # agrees again: nothing said


def test_stale_temporary_files_are_removed_on_the_next_save_but_a_live_writers_are_not(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    target = tmp_path / "x.json"
    stale = tmp_path / f".x.json.pid{int(gone.stdout)}.abc123.tmp"      # its writer has exited: a kill's leftover
    live = tmp_path / f".x.json.pid{os.getpid()}.def456.tmp"           # a write in progress (this process)
    unnamed = tmp_path / ".x.json.ghi789.tmp"                           # no owner named: never taken for stale
    for path in (stale, live, unnamed):
        path.write_text("half a write")
    atomic_write(target, lambda f: f.write(b"{}"))
    assert target.read_text() == "{}" and not stale.exists() and live.exists() and unnamed.exists()


# ---------------------------------------------------------------- a run killed at a random point

TRAIN_TOY = """
import sys
sys.path.insert(0, {tests!r})
from test_bad_input import train_toy
train_toy({out!r})
"""


def train_toy(out: str, reuse_trained: bool = True) -> dict:
    """A small CNN run of 6 epochs through common.fit (checkpoint every epoch)."""
    from test_train import separable

    from common.config import RunConfig
    from common.data.loader import TensorLoader
    from common.networks.objectives import CROSS_ENTROPY
    from common.runs.train import adamw_one_cycle, fit

    config = RunConfig("toy", "toy", "cnn", {"n_classes": 2}, profile="smoke", epochs=6, batch_size=32,
                       lr=3e-3, output_root=out, device="cpu")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = build_model("cnn", n_classes=2)
    train = TensorLoader(*separable(512), 32, shuffle=True, seed=0)
    test = TensorLoader(*separable(100, seed=1), 50, shuffle=False)
    optimizer, scheduler = adamw_one_cycle(model, config, len(train))
    return fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler, reuse_trained=reuse_trained)


@pytest.mark.slow
def test_a_run_killed_at_a_random_point_resumes_trains_nothing_twice_and_ends_as_if_never_killed(tmp_path, monkeypatch):
    from common.runs import train as train_module

    uninterrupted = train_toy(str(tmp_path / "a"))
    out = tmp_path / "b"
    process = subprocess.Popen([sys.executable, "-c", TRAIN_TOY.format(tests=str(TESTS), out=str(out))])
    checkpoint = out / "models" / "toy-smoke.pth"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(random.uniform(0, 1.5))                                # anywhere in epochs 2-6, or a write
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = read_checkpoint(checkpoint)["training_state"]["epoch"]
    trained = []
    real_epoch = train_module.train_one_epoch
    monkeypatch.setattr(train_module, "train_one_epoch", lambda *a, **k: trained.append(1) or real_epoch(*a, **k))
    resumed = train_toy(str(out))
    assert len(trained) == 6 - done                                   # nothing trained twice
    strip = lambda history: [{k: v for k, v in row.items() if "seconds" not in k and "per_s" not in k}
                             for row in history]
    assert strip(resumed["history"]) == strip(uninterrupted["history"])
    assert torch.equal(resumed["test"]["predictions"], uninterrupted["test"]["predictions"])
    assert resumed["test"]["loss"] == pytest.approx(uninterrupted["test"]["loss"], rel=1e-6)


# ------------------------------------------------------------------------------ issue 42: checkpoints prove their weights

def test_a_checkpoint_without_a_checksum_is_refused_unless_opened_without_checksum(checkpoint):
    saved = torch.load(checkpoint, weights_only=True)
    del saved["weights_sha256"]
    saved["state_dict"]["fc2.bias"].add_(1.0)          # weights edited, and no checksum left to say so
    torch.save(saved, checkpoint)
    with pytest.raises(CheckpointError, match=r"toy\.pth has no weights checksum .*without_checksum=True"):
        load_model(checkpoint)
    model, _ = load_model(checkpoint, without_checksum=True)   # the explicit way, for a file one trusts
    assert torch.equal(model.fc2.bias, saved["state_dict"]["fc2.bias"])


def test_load_model_takes_accuracy_and_history_from_the_runs_record_or_says_they_are_the_checkpoints(tmp_path):
    import json
    import shutil

    from common.config import PROJECT_ROOT

    for kind, suffix in (("models", ".pth"), ("models", ".json"), ("results", ".json")):
        (tmp_path / kind).mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / kind / f"cnn_mnist-quick{suffix}", tmp_path / kind / f"cnn_mnist-quick{suffix}")
    path = tmp_path / "models" / "cnn_mnist-quick.pth"
    saved = torch.load(path, weights_only=True)
    saved["meta"]["test_accuracy"] = 0.999              # edited inside the .pth: no checksum covers the meta
    torch.save(saved, path)
    record = json.loads((tmp_path / "results" / "cnn_mnist-quick.json").read_text())
    _, meta = load_model(path)
    assert meta["test_accuracy"] == record["test"]["accuracy"] != 0.999
    assert meta["results_from"].endswith("cnn_mnist-quick.json")
    (tmp_path / "results" / "cnn_mnist-quick.json").unlink()
    _, meta = load_model(path)
    assert meta["results_from"] == "checkpoint" and meta["test_accuracy"] == 0.999   # marked as unproven


def test_a_state_dict_that_does_not_fit_names_the_file_the_tensor_and_both_shapes(checkpoint):
    from common.runs.checkpoint import weights_checksum

    saved = torch.load(checkpoint, weights_only=True)
    saved["state_dict"]["fc2.weight"] = torch.zeros(3, *saved["state_dict"]["fc2.weight"].shape[1:])
    saved["weights_sha256"] = weights_checksum(saved["state_dict"])
    torch.save(saved, checkpoint)
    shape = list(build_model("cnn", n_classes=2).fc2.weight.shape)
    with pytest.raises(CheckpointError, match=rf"toy\.pth: the weights do not fit model 'cnn' \(fc2\.weight: "
                                              rf"checkpoint \[3, {shape[1]}\], model \[2, {shape[1]}\]\)"):
        load_model(checkpoint)
