import json

import torch

from common.config import RunConfig
from common.results import load_results, package_versions, save_results


def test_results_file_records_the_run(tmp_path):
    config = RunConfig("toy", "mnist", "cnn", profile="smoke", output_root=str(tmp_path), device="cpu")
    outcome = {"history": [{"epoch": 1, "train_seconds": 2.0}], "train_seconds": 2.0,
               "checkpoint": str(tmp_path / "models" / "toy-smoke.pth"),
               "test": {"accuracy": 0.75, "n_samples": 4, "predictions": torch.zeros(4)}}
    path = save_results(config, outcome, parameters=123)
    record = json.loads(path.read_text())
    assert path.name == "toy-smoke.json"
    assert record["test"] == {"accuracy": 0.75, "n_samples": 4}     # tensors are left out
    assert record["config"]["seed"] == 0 and record["parameters"] == 123
    assert record["checkpoint"] == "models/toy-smoke.pth"
    assert record["packages"]["torch"] and record["machine"]["cpu_count"] >= 1 and record["date"]
    assert [r["run"] for r in load_results(tmp_path / "results", profile="smoke")] == ["toy-smoke"]
    assert load_results(tmp_path / "results", profile="quick") == []


def test_package_versions_names_the_core_packages():
    versions = package_versions()
    assert versions["snntorch"] == "1.0.0" and versions["grad-cam"]
