"""The N-MNIST fold study's pieces: folds that test every recording once, stratified; statistics at both
levels from rows as the grid writes them."""
import numpy as np
import pytest

from common.study import nmnist_folds as F


def test_stratified_folds_test_every_recording_exactly_once():
    labels = np.repeat(np.arange(10), [110, 95, 100, 120, 90, 100, 105, 100, 80, 100])
    folds = F.stratified_folds(labels, 5, seed=0)
    everything = np.concatenate(folds)
    assert sorted(everything.tolist()) == list(range(len(labels)))           # each once
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1                                        # even folds
    for fold in folds:                                                         # stratified by digit
        counts = np.bincount(labels[fold], minlength=10)
        assert (np.abs(counts - np.bincount(labels) / 5) <= 1).all()
    assert [f.tolist() for f in F.stratified_folds(labels, 5, seed=0)] == [f.tolist() for f in folds]
    assert [f.tolist() for f in F.stratified_folds(labels, 5, seed=1)] != [f.tolist() for f in folds]


def row(variant, fold, correct_per_bin, seed=0):
    """A record of the fold study (as fold_cell writes it) of 4 recordings over 3 time bins;
    correct_per_bin[t][i] says if recording i is right."""
    labels = [1, 2, 3, 4]
    predictions = [[y if ok else -1 for y, ok in zip(labels, bin_)] for bin_ in correct_per_bin]
    return {"run": f"nmnist_folds_{variant}_fold{fold}_seed{seed}-quick",
            "config": {"run_name": "x", "dataset": "nmnist", "model": "scnn", "profile": "quick", "seed": seed},
            "test": {"accuracy": float(np.mean(correct_per_bin[-1])), "n_samples": 4,
                     "no_decision": 4 - sum(correct_per_bin[-1])},
            "cell": {"variant": variant, "fold": fold, "seed": seed}, "seed": seed, "labels": labels,
            "recordings": [f"f{fold}/r{i}" for i in range(4)], "predictions_by_time_bins": predictions,
            "accuracy_by_time_bins": [float(np.mean(b)) for b in correct_per_bin], "folds": 2,
            "parameters": 1, "train_seconds": 1.0, "device": "cpu", "checkpoint": "x", "spikes_per_sample": {}}


def test_head_to_head_pairs_over_folds_and_over_recordings():
    rows = [row("beta 0.5", 0, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]]),
            row("beta 0.5", 1, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]),
            row("beta 0.8", 0, [[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]),
            row("beta 0.8", 1, [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]])]
    table = F.head_to_head(rows, [("beta 0.5", "beta 0.8")])
    line = table.iloc[0]
    assert line["time bins"] == 3 and line["replicates"] == 2
    assert line["b - a (points)"] == pytest.approx(100 * np.mean([0.5, 0.5]))
    assert (line["only a right"], line["only b right"], line["paired predictions"]) == (0, 4, 8)
    assert line["McNemar p"] == pytest.approx(2 / 16)
    early = F.head_to_head(rows, [("beta 0.5", "beta 0.8")], t=1).iloc[0]   # after the first bin
    assert early["b - a (points)"] == pytest.approx(25.0) and early["only b right"] == 2
    assert list(F.over_time(rows, [("beta 0.5", "beta 0.8")], bins=(1, 2, 9))["time bins"]) == [1, 2, 3]
    accuracy = F.accuracy_table(rows)
    assert accuracy.loc["beta 0.8", "test_predictions"] == 8 and accuracy.loc["beta 0.5", "no_decision"] == 5
    records = F.as_records(rows, "quick")
    from common.study.compare import accuracy_table
    pooled = accuracy_table(records).set_index("run")
    assert pooled.loc["scnn_nmnist_beta_0.8_folds", "seeds"] == 2
    assert pooled.loc["scnn_nmnist_beta_0.8_folds", "accuracy_mean"] == pytest.approx(0.875)


def test_the_full_profile_keeps_the_official_split_with_seeds_as_replicates(tmp_path, no_env):
    from event_fixtures import make_nmnist_tree

    from common.runs.specs import profile_settings

    full = profile_settings("scnn_nmnist", "full")
    assert full["folds"] is None and full["n_seeds"] >= 3
    assert F.study_cells(full) == [{"variant": list(F.VARIANTS), "fold": [None], "seeds": [0, 1, 2]}]
    root = make_nmnist_tree(tmp_path / "data", n_per_class=3, n_test_per_class=2)
    settings = {**profile_settings("scnn_nmnist", "smoke"), "folds": None, "n_seeds": 1}
    train, test = F.fold_split(settings, root, None, None)
    assert len(train.labels) == 30 and len(test.labels) == 20
    assert all(r.startswith("Test/") for r in test.recordings) and all(r.startswith("Train/") for r in train.recordings)
    row = F.fold_cell({"variant": "beta 0.8", "fold": None, "seed": 0},
                      {"profile": "smoke", "overrides": {"folds": None, "n_seeds": 1}, "data_root": str(root),
                       "output_root": str(tmp_path / "out")})
    assert row["cell"]["fold"] is None and row["folds"] is None and row["test"]["n_samples"] == 20
    assert row["config"]["model_kwargs"]["beta"] == 0.8 and row["config"]["extra"]["fold"] is None
    assert len(row["predictions_by_time_bins"]) == settings["n_time_bins"]
