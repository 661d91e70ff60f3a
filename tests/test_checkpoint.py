import json
import subprocess
import sys

import pytest
import torch

from common.files import atomic_write
from common.networks.registry import build_model
from common.runs.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint


def saved_cnn(path):
    model = build_model("cnn", dropout=0.1)
    save_checkpoint(path, model, "cnn", {"dropout": 0.1}, meta={"test_accuracy": 0.5})
    return model


@pytest.mark.slow
def test_round_trip_in_a_fresh_process(tmp_path):
    path = tmp_path / "m.pth"
    model = saved_cnn(path)
    x = torch.randn(2, 1, 28, 28)
    torch.save(x, tmp_path / "x.pt")
    code = ("import torch, common; m, meta = common.load_model(r'%s'); "
            "print(meta['test_accuracy']); torch.save(m(torch.load(r'%s')), r'%s')"
            % (path, tmp_path / "x.pt", tmp_path / "y.pt"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.5"
    assert torch.allclose(torch.load(tmp_path / "y.pt"), model.eval()(x))
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["model_name"] == "cnn" and card["model_kwargs"] == {"dropout": 0.1}


def test_loads_with_weights_only(tmp_path):
    saved_cnn(tmp_path / "m.pth")
    checkpoint = torch.load(tmp_path / "m.pth", weights_only=True)   # no pickled code inside
    assert checkpoint["format"].startswith("snn-study-checkpoint")


def test_wrong_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "m.pth"
    saved_cnn(path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["model_kwargs"] = {"n_classes": 11}
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="do not fit model 'cnn'"):
        load_model(path)


@pytest.mark.parametrize("content", [b"not a checkpoint", b""])
def test_non_checkpoint_files(tmp_path, content):
    path = tmp_path / "junk.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(path)


def test_foreign_torch_file_and_missing_file(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a checkpoint of this study"):
        read_checkpoint(tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="No checkpoint"):
        read_checkpoint(tmp_path / "absent.pth")


def test_interrupted_write_keeps_previous_file(tmp_path):
    path = tmp_path / "m.pth"
    saved_cnn(path)
    before = path.read_bytes()

    def killed(handle):
        handle.write(b"half a file")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, killed)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
