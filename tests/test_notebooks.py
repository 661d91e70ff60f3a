"""Every numbered notebook, executed top to bottom in the smoke profile on fixture data."""
import json

import pytest
import torch

from common.study import numbered_notebooks, run_notebook
from event_fixtures import make_nmnist_tree
from idx_fixtures import write_image_dataset


def execute(name, tmp_path, **parameters):
    notebook = next(p for p in numbered_notebooks() if p.name.startswith(name))
    output_root = tmp_path / "out"
    run_notebook(notebook, "smoke", tmp_path / "executed",
                 {"output_root": str(output_root), **parameters})
    return output_root


def test_01_cnn_mnist_gradcam(tmp_path, no_env):
    data = write_image_dataset(tmp_path / "data", n_train=1500, n_test=300)
    out = execute("01", tmp_path, data_root=str(data))
    record = json.loads((out / "results" / "cnn_mnist-smoke.json").read_text())
    assert record["test"]["n_samples"] == 300                 # the whole (fixture) test set
    assert record["test"]["accuracy"] > 0.3                   # chance is 0.1
    assert record["config"]["profile"] == "smoke" and record["parameters"] > 100_000
    checkpoint = torch.load(out / "models" / "cnn_mnist-smoke.pth", weights_only=True)
    assert checkpoint["model_name"] == "cnn"
    executed = (tmp_path / "executed" / "01_cnn_mnist_gradcam.ipynb").read_text()
    assert executed.count("image/png") >= 5                   # curves, confusion, grids, Grad-CAM


@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory):
    """Format-true N-MNIST .bin recordings, read by tonic's real reader; framed once per module."""
    return make_nmnist_tree(tmp_path_factory.mktemp("nmnist"), n_per_class=20, n_test_per_class=10)


@pytest.mark.parametrize("name, runs", [
    ("02", ["scnn_nmnist_beta0.5"]),
    ("03", ["scnn_nmnist_beta0.8", "scnn_nmnist_learned_beta"]),
    ("04", ["scnn_nmnist_population"]),
])
def test_nmnist_notebooks(name, runs, tmp_path, nmnist_root, no_env):
    out = execute(name, tmp_path, data_root=str(nmnist_root))
    for run in runs:
        record = json.loads((out / "results" / f"{run}-smoke.json").read_text())
        assert record["test"]["n_samples"] == 100                    # every fixture test recording
        assert len(record["accuracy_by_time_bins"]) == 10            # smoke profile: T = 10
        assert set(record["spikes_per_sample"]) == {"lif1", "lif2", "lif3"}
        torch.load(out / "models" / f"{run}-smoke.pth", weights_only=True)
    if name == "03":
        learned = json.loads((out / "results" / "scnn_nmnist_learned_beta-smoke.json").read_text())
        assert all(0 < b < 1 for b in learned["learned_beta"].values())
        assert any(abs(b - 0.8) > 1e-6 for b in learned["learned_beta"].values())   # it moved
    videos = sorted(p.name for p in (out / "videos").iterdir())
    assert videos == [f"{runs[0]}-smoke_gradcam.mp4", f"{runs[0]}-smoke_spike_counts.mp4"]
