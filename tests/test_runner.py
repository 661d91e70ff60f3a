"""The one runner (common/runs/runner.py): seeds, trains, evaluates, records; evaluates a saved model when
there is no training split; runs any list of specs x seeds as a resumable grid."""
import json

import pytest
import torch
from event_fixtures import make_nmnist_tree

import common
from common.explanations.analysis import runs_table
from common.runs import grid, runner
from common.runs.specs import resolve

SMALL = {"n_time_bins": 5, "batch_size": 8, "epochs": 1}


def test_nmnist_test_split_alone_evaluates_the_saved_model(tmp_path, monkeypatch, no_env):
    """Only N-MNIST's test split on disk and a checkpoint trained elsewhere: run() evaluates it."""
    monkeypatch.setenv("SNN_OFFLINE", "1")
    root = make_nmnist_tree(tmp_path / "data", n_per_class=0, n_test_per_class=2)
    spec = resolve("scnn_nmnist_beta0.5", "smoke", data_root=str(root), output_root=str(tmp_path / "out"))
    data = runner.load_data(spec.config)
    assert data.train_loader is None and "NMNIST/Train" in data.missing_train and "SNN_OFFLINE" in data.missing_train
    torch.manual_seed(0)
    history = [{"epoch": 1, "train_seconds": 3.0}, {"epoch": 2, "train_seconds": 2.0}]
    config = spec.config
    model = common.build_model("scnn", **config.model_kwargs)
    # a checkpoint of another run (here: more epochs) is refused, naming both
    common.save_checkpoint(config.path("models", ".pth"), model, "scnn", config.model_kwargs,
                           meta={"config": {**config.to_dict(), "epochs": 2}, "history": history})
    with pytest.raises(common.CheckpointError, match="not a checkpoint of run 'scnn_nmnist_beta0.5'.*epochs: checkpoint 2, run 1"):
        runner.run(spec, data)
    common.save_checkpoint(config.path("models", ".pth"), model, "scnn", config.model_kwargs,
                           meta={"config": config.to_dict(), "history": history})
    record = runner.run(spec, data)
    assert record["test"]["n_samples"] == 20 and record["evaluation_only"]
    assert record["seconds_per_epoch"] == 2.0 and record["history"] == history
    saved = json.loads(config.path("results", ".json").read_text())
    assert saved["train_seconds"] == 5.0 and saved["trained_with"]["run_name"] == "scnn_nmnist_beta0.5"
    assert len(saved["test"]["predictions"]) == 20                 # on disk as a list, for paired tests
    assert runs_table([record])["s/epoch (measured)"].isna().all()   # no training here: no timing


def test_same_spec_and_seed_give_the_same_record_and_another_seed_another(tmp_path, no_env):
    root = make_nmnist_tree(tmp_path / "data", n_per_class=4, n_test_per_class=2)
    runs = []
    for seed, folder in ((0, "a"), (0, "b"), (1, "c")):
        spec = resolve("scnn_nmnist_beta0.8", "smoke", overrides={**SMALL, "seed": seed}, data_root=str(root),
                       output_root=str(tmp_path / folder))
        runs.append(runner.run(spec, runner.load_data(spec.config)))
    losses = [[row["train_loss"] for row in r["history"]] for r in runs]
    assert losses[0] == losses[1] and losses[0] != losses[2]
    assert runs[0]["accuracy_by_time_bins"] == runs[1]["accuracy_by_time_bins"]
    assert runs[2]["run"].endswith("_seed1-smoke")                    # another seed: its own files


def test_run_seeds_is_a_resumable_grid_of_specs(tmp_path, no_env, capsys):
    root = make_nmnist_tree(tmp_path / "data", n_per_class=4, n_test_per_class=2)
    args = dict(profile="smoke", overrides=SMALL, data_root=str(root), output_root=str(tmp_path / "out"))
    records = grid.run_seeds("pair", ["scnn_nmnist_beta0.5", "scnn_nmnist_beta0.8"], [0, 1], **args)
    assert len(records) == 4 and {r["cell"]["spec"] for r in records} == {"scnn_nmnist_beta0.5", "scnn_nmnist_beta0.8"}
    assert all(r["config"]["epochs"] == 1 and r["config"]["data"]["n_time_bins"] == 5 for r in records)
    lines = (tmp_path / "out" / "results" / "pair-smoke.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all("cell_key" in json.loads(line) for line in lines)
    capsys.readouterr()
    again = grid.run_seeds("pair", ["scnn_nmnist_beta0.5", "scnn_nmnist_beta0.8"], [0, 1], **args)
    assert "4 already in pair-smoke.jsonl, 0 to run" in capsys.readouterr().out
    assert [r["test"]["accuracy"] for r in again] == [r["test"]["accuracy"] for r in records]


def test_without_training_split_or_checkpoint_run_says_both(tmp_path, monkeypatch, no_env):
    monkeypatch.setenv("SNN_OFFLINE", "1")
    root = make_nmnist_tree(tmp_path / "data", n_per_class=0, n_test_per_class=1)
    spec = resolve("scnn_nmnist_beta0.5", "smoke", data_root=str(root), output_root=str(tmp_path / "out"))
    data = runner.load_data(spec.config)
    assert runner.run(spec, data, required=False) is None
    with pytest.raises(common.DatasetNotFoundError, match="no saved model"):
        runner.run(spec, data)
