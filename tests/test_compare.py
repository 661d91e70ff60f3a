import pytest
import torch

import common  # noqa: F401
from common.checkpoint import save_checkpoint
from common.compare import accuracy_table, measure, source_comparison
from common.models import build_model


def record(run, seed, accuracy, dataset="mnist", checkpoint="models/x.pth"):
    return {"run": f"{run}-quick", "config": {"run_name": run, "dataset": dataset, "profile": "quick",
                                              "seed": seed, "extra": {}},
            "test": {"accuracy": accuracy, "n_samples": 100}, "parameters": 10, "train_seconds": 5.0,
            "device": "cpu", "checkpoint": checkpoint}


def test_accuracy_table_pools_seeds():
    table = accuracy_table([record("cnn_mnist", 0, 0.90), record("cnn_mnist", 1, 0.94), record("other", 0, 0.5)])
    row = table.set_index("run").loc["cnn_mnist"]
    assert row["seeds"] == 2 and row["accuracy_mean"] == pytest.approx(0.92)
    assert row["accuracy_std"] == pytest.approx(torch.tensor([0.90, 0.94]).std().item())


def test_seed_suffixes_pool_into_one_experiment():
    table = accuracy_table([record("slstm_dvsgesture_seed0", 0, 0.5), record("slstm_dvsgesture_seed1", 1, 0.7)])
    assert list(table["run"]) == ["slstm_dvsgesture"] and table["seeds"].iloc[0] == 2


def test_source_comparison_lines_up_reported_numbers():
    comparison = source_comparison([record("cnn_mnist", 0, 0.99), record("unrelated", 0, 0.5)])
    assert list(comparison["run"]) == ["cnn_mnist"]
    row = comparison.iloc[0]
    assert row["source reported"] == 0.9516 and row["difference (points)"] == pytest.approx(3.84)


def test_measure_reopens_the_checkpoint(tmp_path):
    model = build_model("cnn")
    save_checkpoint(tmp_path / "models" / "x.pth", model, "cnn", {}, meta={})
    row = measure(record("cnn_mnist", 0, 0.9), torch.zeros(8, 1, 28, 28), 8, tmp_path)
    assert row["MACs/sample"] > 1e6 and row["ACs/sample"] == 0 and row["inference ms/sample"] > 0
    assert row["energy total_nJ"] == pytest.approx(row["MACs/sample"] * 4.6 / 1000)
