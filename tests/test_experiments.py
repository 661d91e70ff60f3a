"""Shared experiment steps (common/experiments.py) that the notebook smoke runs do not pin down alone."""
import pytest

import common.experiments as E
from common.config import RunConfig


def test_train_seeds_keeps_the_run_name_for_its_own_seed_and_reuses_finished_runs(monkeypatch):
    calls = []
    monkeypatch.setattr(E, "train_spiking", lambda config, data, objective, reuse_trained:
                        calls.append((config.run_name, config.seed, reuse_trained)) or (None, {"run": config.run_name}))
    config = RunConfig("scnn_nmnist_beta0.8", "nmnist", "scnn", {"beta": 0.8}, seed=1)
    records = E.train_seeds(config, [1, 2, 3], data=None, objective=None)
    assert calls == [("scnn_nmnist_beta0.8", 1, True), ("scnn_nmnist_beta0.8_seed2", 2, True),
                     ("scnn_nmnist_beta0.8_seed3", 3, True)]
    assert [r["run"] for r in records] == [c[0] for c in calls]


def test_mean_curve_averages_bin_by_bin():
    runs = [{"accuracy_by_time_bins": [0.1, 0.5, 0.9]}, {"accuracy_by_time_bins": [0.3, 0.7, 1.0]}]
    assert E.mean_curve(runs) == pytest.approx([0.2, 0.6, 0.95])


def test_paired_accuracy_lines_seeds_up_and_subtracts_second_minus_first():
    run = lambda seed, accuracy: {"seed": seed, "test": {"accuracy": accuracy}}
    table = E.paired_accuracy({"scnn": [run(0, 0.5), run(1, 0.6)], "slstm": [run(1, 0.9), run(0, 0.4)]})
    assert list(table.index) == [0, 1] and table.index.name == "seed"
    assert list(table["slstm - scnn"]) == pytest.approx([-0.1, 0.3])
