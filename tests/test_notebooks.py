"""Every numbered notebook, executed top to bottom in the smoke profile on fixture data."""
import json

import pytest
import torch

from common.study import numbered_notebooks, run_notebook
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
