"""Shared experiment steps (common/experiments.py) that the notebook smoke runs do not pin down alone."""
import pytest

import common.experiments as E
from common.config import RunConfig


def test_mean_curve_averages_bin_by_bin():
    runs = [{"accuracy_by_time_bins": [0.1, 0.5, 0.9]}, {"accuracy_by_time_bins": [0.3, 0.7, 1.0]}]
    assert E.mean_curve(runs) == pytest.approx([0.2, 0.6, 0.95])


def test_paired_accuracy_lines_seeds_up_and_subtracts_second_minus_first():
    run = lambda seed, accuracy: {"seed": seed, "test": {"accuracy": accuracy}}
    table = E.paired_accuracy({"scnn": [run(0, 0.5), run(1, 0.6)], "slstm": [run(1, 0.9), run(0, 0.4)]})
    assert list(table.index) == [0, 1] and table.index.name == "seed"
    assert list(table["slstm - scnn"]) == pytest.approx([-0.1, 0.3])


def test_nmnist_test_split_alone_evaluates_the_saved_model(tmp_path, monkeypatch, no_env):
    """Only N-MNIST's test split on disk and a checkpoint trained elsewhere: train_spiking evaluates it."""
    import json

    import torch

    import common
    from common.events import load_event_data
    from common.objectives import spike_count_mse
    from event_fixtures import make_nmnist_tree

    monkeypatch.setenv("SNN_OFFLINE", "1")
    root = make_nmnist_tree(tmp_path / "data", n_per_class=0, n_test_per_class=2)
    config = RunConfig("scnn_nmnist_beta0.5", "nmnist", "scnn", {"beta": 0.5}, profile="smoke", batch_size=8,
                       data_root=str(root), output_root=str(tmp_path / "out"))
    data = load_event_data(config, {"n_time_bins": 5, "train_limit": None, "test_limit": None})
    assert data.train_loader is None and "NMNIST/Train" in data.missing_train and "SNN_OFFLINE" in data.missing_train
    torch.manual_seed(0)
    history = [{"epoch": 1, "train_seconds": 3.0}, {"epoch": 2, "train_seconds": 2.0}]
    common.save_checkpoint(config.path("models", ".pth"), common.build_model("scnn", beta=0.5), "scnn",
                           {"beta": 0.5}, meta={"config": {**config.to_dict(), "epochs": 2}, "history": history})
    model, record = E.train_spiking(config, data, spike_count_mse())
    assert record["test"]["n_samples"] == 20 and record["evaluation_only"]
    assert record["seconds_per_epoch"] == 2.0 and record["history"] == history
    saved = json.loads(config.path("results", ".json").read_text())
    assert saved["train_seconds"] == 5.0 and saved["trained_with"]["epochs"] == 2
    assert E.runs_table([record])["s/epoch (measured)"].isna().all()   # no training here: no timing
