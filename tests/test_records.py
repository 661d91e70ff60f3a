import json

import torch

from common.config import RunConfig
from common.runs.records import ResultsTable, flat, load_results, make_record, package_versions, save_record


def test_results_file_records_the_run(tmp_path):
    config = RunConfig("toy", "mnist", "cnn", profile="smoke", output_root=str(tmp_path), device="cpu")
    outcome = {"history": [{"epoch": 1, "train_seconds": 2.0}], "train_seconds": 2.0,
               "checkpoint": str(tmp_path / "models" / "toy-smoke.pth"),
               "test": {"accuracy": 0.75, "n_samples": 4, "predictions": torch.zeros(4)}}
    path = save_record(make_record(config, outcome, parameters=123, predictions_by_time_bins=torch.zeros(3, 4)),
                       tmp_path)
    record = json.loads(path.read_text())
    assert path.name == "toy-smoke.json"
    assert record["test"] == {"accuracy": 0.75, "n_samples": 4, "predictions": [0.0] * 4}   # lists on disk
    assert "predictions_by_time_bins" not in record                  # other tensors are left out
    assert record["config"]["seed"] == 0 and record["parameters"] == 123
    assert record["checkpoint"] == "models/toy-smoke.pth"
    assert record["packages"]["torch"] and record["machine"]["cpu_count"] >= 1 and record["date"]
    assert [r["run"] for r in load_results(tmp_path / "results", profile="smoke")] == ["toy-smoke"]
    assert load_results(tmp_path / "results", profile="quick") == []


def test_package_versions_names_the_core_packages():
    versions = package_versions()
    assert versions["snntorch"] == "1.0.0" and versions["grad-cam"]


def test_a_grid_record_is_a_record_plus_its_cell_and_reads_flat(tmp_path):
    config = RunConfig("cell", "mnist", "rsnn", profile="smoke", output_root=str(tmp_path), device="cpu")
    outcome = {"history": [], "train_seconds": 1.0, "checkpoint": str(tmp_path / "models" / "cell-smoke.pth"),
               "test": {"accuracy": 0.5, "n_samples": 2, "loss": 0.7, "labels": torch.tensor([0, 1])}}
    record = {**make_record(config, outcome, beta_hidden=0.9), "cell": {"neuron": "alif", "seed": 0}, "cell_key": "k"}
    table = ResultsTable(tmp_path / "results" / "grid-smoke.jsonl")
    table.append(record)
    (line,) = table.rows()
    assert line["config"] == record["config"] and line["test"]["labels"] == [0, 1]
    row = flat(line)
    assert row["neuron"] == "alif" and row["test_accuracy"] == 0.5 and row["test_loss"] == 0.7
    assert row["beta_hidden"] == 0.9 and flat(row) is row
    assert table.frame()["test_accuracy"].tolist() == [0.5]
