import pytest
import torch

import common  # noqa: F401
from common.networks.registry import build_model
from common.runs.checkpoint import save_checkpoint
from common.study.compare import EXPERIMENTS, accuracy_over_seeds, measure_inference, not_run, source_comparison


def record(run, seed, accuracy, dataset="mnist", checkpoint="models/x.pth"):
    return {"run": f"{run}-quick", "config": {"run_name": run, "dataset": dataset, "profile": "quick",
                                              "seed": seed, "extra": {}},
            "test": {"accuracy": accuracy, "n_samples": 100}, "parameters": 10, "train_seconds": 5.0,
            "device": "cpu", "checkpoint": checkpoint}


def test_accuracy_over_seeds_pools_seeds():
    table = accuracy_over_seeds([record("cnn_mnist", 0, 0.90), record("cnn_mnist", 1, 0.94), record("other", 0, 0.5)])
    row = table.set_index("run").loc["cnn_mnist"]
    assert row["seeds"] == 2 and row["accuracy_mean"] == pytest.approx(0.92)
    assert row["accuracy_std"] == pytest.approx(torch.tensor([0.90, 0.94]).std().item())


def test_seed_suffixes_pool_into_one_experiment():
    table = accuracy_over_seeds([record("slstm_dvsgesture_seed0", 0, 0.5), record("slstm_dvsgesture_seed1", 1, 0.7)])
    assert list(table["run"]) == ["slstm_dvsgesture"] and table["seeds"].iloc[0] == 2


def test_source_comparison_lines_up_reported_numbers():
    comparison = source_comparison([record("cnn_mnist", 0, 0.99), record("unrelated", 0, 0.5)])
    assert list(comparison["run"]) == ["cnn_mnist"]
    row = comparison.iloc[0]
    assert row["source reported"] == 0.9516 and row["difference (points)"] == pytest.approx(3.84)


def test_measure_reopens_the_checkpoint_and_runs_neurobench(tmp_path):
    model = build_model("cnn")
    run = record("cnn_mnist", 0, 0.9)
    run["config"]["model"] = "cnn"
    save_checkpoint(tmp_path / "models" / "x.pth", model, "cnn", {}, meta={"config": run["config"]})
    row = measure_inference(run, torch.zeros(8, 1, 28, 28), torch.zeros(8, dtype=torch.long), tmp_path)
    # raw black images, normalisation folded in: the first layer sees zeros (only its mean-padded border works)
    dense_first = 24 * 26 * 26 * 25
    assert row["Effective_MACs"] < row["Dense"] - 0.5 * dense_first
    import pandas as pd

    from common.study.compare import with_energies
    energies = with_energies(pd.DataFrame([row]).set_index("run")).iloc[0]
    assert energies["energy_memory_nJ"] > energies["energy_nJ"] and row["neurons"] == 24 * 26 * 26 + 64 * 11 * 11 + 64 + 10
    assert row["Effective_MACs"] >= 0 and row["Dense"] > 1e6 and row["Effective_ACs"] == 0
    assert row["inference ms/sample"] > 0 and row["test samples"] == 8


def grid_row(model, dataset, seed, accuracy, neuron=None, encoding="rate", epochs=1, hidden=32):
    """A record of the LIF/ALIF grid as common.study.lif_alif.train_cell writes it (cell, key and all)."""
    from common.runs.grid import KEY, cell_key
    cell = {"dataset": dataset, "model": model, "hidden": hidden, "epochs": epochs, "seed": seed}
    extra = {}
    if model == "rsnn":
        cell.update(neuron=neuron, recurrent=False, learn_beta=True, encoding=encoding)
        extra = {"beta_hidden": 0.95, "beta_readout": 0.9}
    config = {"run_name": f"lif_alif_{dataset}_{model}_x", "dataset": dataset, "model": model, "profile": "smoke",
              "seed": seed, "extra": {"cell": cell, "n_steps": 8}}
    return {"run": f"lif_alif_{dataset}_{model}_x-smoke", "config": config,
            "test": {"accuracy": accuracy, "n_samples": 100}, "parameters": 7, "train_seconds": 2.0,
            "n_steps": 8, "checkpoint": f"models/{model}.pth", "device": "cpu", "machine": {"torch_threads": 1},
            **extra, "cell": cell, "seed": seed, KEY: cell_key(cell)}


def test_grid_records_bring_only_the_headline_cells(tmp_path):
    from common.runs.records import ResultsTable
    from common.study.compare import grid_records
    table = ResultsTable(tmp_path / "results" / "lif_alif-smoke.jsonl")
    table.append(grid_row("rsnn", "mnist", 0, 0.90, "alif"), grid_row("rsnn", "mnist", 1, 0.94, "alif"),
                 grid_row("mlp", "fashion-mnist", 0, 0.8),
                 grid_row("rsnn", "mnist", 0, 0.99, "alif", encoding="latency"))   # a factor cell, not headline
    records = grid_records("smoke", tmp_path)
    assert sorted(r["config"]["run_name"] for r in records) == [
        "mlp_fashion-mnist_seed0", "rsnn_alif_mnist_seed0", "rsnn_alif_mnist_seed1"]
    pooled = accuracy_over_seeds(records).set_index("run")
    assert pooled.loc["rsnn_alif_mnist", "seeds"] == 2
    assert pooled.loc["rsnn_alif_mnist", "accuracy_mean"] == pytest.approx(0.92)
    assert grid_records("quick", tmp_path) == []                      # no table for that profile


def test_measure_counts_spike_driven_work_of_the_lif_alif_network(tmp_path):
    model = build_model("rsnn", neuron="alif", hidden=16)
    run = record("rsnn_alif_mnist", 0, 0.9)
    run["config"]["model"] = "rsnn"
    save_checkpoint(tmp_path / "models" / "x.pth", model, "rsnn", {"neuron": "alif", "hidden": 16},
                    meta={"config": run["config"]})
    spikes = torch.zeros(6, 4, 784)
    spikes[:, :, :10] = 1.0                                           # 10 input spikes per step
    row = measure_inference(run, spikes, torch.zeros(4, dtype=torch.long), tmp_path)
    assert row["Effective_ACs"] == 6 * 10 * 16 + row["spikes/sample"] * 10   # input spikes into fc_in, hidden into fc_out
    assert row["Effective_MACs"] == 0 and row["MembraneUpdates"] > 0
    model.eval()
    model(spikes)                                                     # same weights as the checkpoint
    assert row["spikes/sample"] == pytest.approx(model.spike_counts["hidden"])


def test_not_run_lists_every_experiment_without_results_and_the_study_s_reason():
    status = {"profile": "quick", "date": "2026-12-01T00:00:00+00:00", "notebooks": [
        {"notebook": "05_scnn_dvsgesture.ipynb", "status": "skipped",
         "reason": "No training split of 'dvsgesture' and no saved model\nLooked in: ..."},
        {"notebook": "01_cnn_mnist_gradcam.ipynb", "status": "ran", "reason": ""}]}
    table = not_run([record("cnn_mnist", 0, 0.99), record("scnn_nmnist_beta0.8_seed1", 1, 0.9)], status)
    missing = table.set_index("experiment")
    assert "cnn_mnist" not in missing.index and "scnn_nmnist_beta0.8" not in missing.index
    assert len(table) == len(EXPERIMENTS) - 2
    assert missing.loc["scnn_dvsgesture", "why"] == "skipped: No training split of 'dvsgesture' and no saved model"
    assert missing.loc["cmp_slstm_dvsgesture", "why"] == "no results file"     # 06 not in this study run


def test_pareto_front_keeps_only_models_no_other_beats_on_both_axes():
    from common.study.compare import pareto_front
    points = [(10, 5.0), (100, 1.0), (50, 6.0), (1000, 0.9), (1000, 2.0), (5, 20.0)]
    assert pareto_front(points) == [5, 0, 1, 3]


def test_every_comparison_figure_renders_from_small_records(tmp_path):
    """Each figure the README embeds, drawn from records alone, written as PNG and SVG, not empty."""
    import json

    import pandas as pd
    from test_nmnist_folds import row as fold_row

    from common.study.compare import plot_accuracy, plot_spikes, plot_tradeoff
    from common.study.report import write_figures

    records = [record("cnn_mnist", 0, 0.99), record("mlp_mnist_seed0", 0, 0.98), record("mlp_mnist_seed1", 1, 0.982),
               record("scnn_nmnist_beta0.8", 0, 0.97, dataset="nmnist")]
    records[-1]["config"]["model"] = "scnn"
    records[-1]["spikes_per_sample"] = {"lif1": 900.0, "lif2": 300.0, "lif3": 20.0}
    table = accuracy_over_seeds(records)
    efficiency = pd.DataFrame({"energy_nJ": [11000.0, 900.0, 4800.0], "energy_memory_nJ": [40000.0, 3000.0, 20000.0],
                               "ClassificationAccuracy": [0.99, 0.98, 0.97], "MembraneUpdates": [0.0, 0.0, 87000.0],
                               "Effective_MACs": [2.6e6, 2e5, 6.4e5], "Effective_ACs": [0.0, 0.0, 2.1e6],
                               "spikes/sample": [float("nan"), float("nan"), 4500.0], "Footprint": [5.7e5, 8.1e5, 7.3e4],
                               "neurons": [2e4, 266.0, 3510.0], "dataset": ["mnist", "mnist", "nmnist"]},
                              index=pd.Index(["cnn_mnist", "mlp_mnist", "scnn_nmnist_beta0.8"], name="run"))
    for figure in (plot_accuracy(table), plot_tradeoff(efficiency, table), plot_spikes(records)):
        assert figure.axes and all(ax.has_data() for ax in figure.axes if ax.get_label() != "<colorbar>")
    # what the accuracy figure draws is the table's error rates, labelled with the models' names
    panel = plot_accuracy(table).axes[0]
    mnist = table[table["dataset"] == "mnist"]
    drawn = sorted(line.get_xdata()[0] for line in panel.lines if line.get_marker() in ("o", "D"))
    assert drawn == pytest.approx(sorted(100 * (1 - mnist["accuracy_mean"])))
    assert {t.get_text() for t in panel.get_yticklabels()} == {"CNN (1x)", "MLP (2x)"}
    # what the trade-off figure draws is the table: MNIST row, second column = the memory-aware energies
    # its errors are the replicates' (the MLP's mean over 2 seeds, with a bar), not the saved model's 0.98; the CNN's
    # single run is a hollow diamond
    drawn = plot_tradeoff(efficiency, table).axes[1]
    points = {line.get_marker(): (line.get_xdata()[0], line.get_ydata()[0]) for line in drawn.lines
              if line.get_marker() in ("o", "D")}
    assert points["D"] == pytest.approx((40000.0, 1.0)) and points["o"] == pytest.approx((3000.0, 1.9))
    assert len(drawn.collections) == 1                  # one error bar: the replicated MLP's
    from common.study.compare import spikes_table
    bars = plot_spikes(records).axes[0].patches
    assert [b.get_width() for b in bars] == pytest.approx(list(spikes_table(records)["mean"])) == [1220.0]
    results = tmp_path / "results"
    results.mkdir()
    for r in records:
        (results / f"{r['run']}.json").write_text(json.dumps({**r, "machine": {"torch_threads": 1}, "date": "2026-12-01"}))
    rows = [fold_row(v, f, [[1, 1, 0, 1]] * 3) for v in ("beta 0.5", "beta 0.8") for f in (0, 1)]
    (results / "nmnist_folds-quick.jsonl").write_text(
        "".join(json.dumps({**r, "parameters": 1, "train_seconds": 1.0, "device": "cpu", "checkpoint": "x",
                            "spikes_per_sample": {"lif1": 1.0, "lif2": 1.0, "lif3": 1.0}, "cell_key": str(i),
                            "folds": 2}) + "\n" for i, r in enumerate(rows)))
    (results / "efficiency-quick.json").write_text(json.dumps({"rows": efficiency.reset_index().to_dict("records")}))
    write_figures(records, results)
    for name in ("accuracy", "tradeoff", "spikes", "nmnist_folds"):
        for suffix in (".png", ".svg"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 5_000, name


def test_error_bars_never_point_the_wrong_way():
    """A zero-width interval computed another way than the mean differs in its last bit; the bar stays >= 0."""
    from common.study.compare import _error
    row = {"accuracy_mean": 0.09333333333333334, "accuracy_low": 0.09333333333333335,
           "accuracy_high": 0.09333333333333335, "seeds": 2}
    err, low, high = _error(row)
    assert low <= err <= high
    wide = {"accuracy_mean": 0.5, "accuracy_low": -0.2, "accuracy_high": 1.3, "seeds": 2}
    assert _error(wide)[1:] == (0.0, 100.0)            # clipped to what an error rate can be
