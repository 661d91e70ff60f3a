"""The study's comparison across every model: read results files, reopen checkpoints, never retrain."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import torch

from common.runs.checkpoint import load_model
from common.runs.specs import SOURCE_REPORTED, SPECS

# Every experiment of the study and the notebook that runs it, so the comparison can say what is missing:
# the specs, and the LIF/ALIF grid's headline cells under the names common.study.compare.grid_records gives them.
EXPERIMENTS = {**{name: spec.notebook for name, spec in SPECS.items() if name != "lif_alif"},
               **{f"{m}_{d}": "07" for m in ("rsnn_lif", "rsnn_alif", "mlp") for d in ("mnist", "fashion-mnist")}}


def not_run(records: list[dict], status: dict | None = None) -> pd.DataFrame:
    """The study's experiments with no results here, with the reason the last study run gave
    (``status``: :func:`common.study.status.read_status`) for skipping or failing their notebook."""
    from common.study.status import first_lines

    have = {run_name(r) for r in records}
    reasons = {n["notebook"][:2]: f"{n['status']}: {first_lines(n['reason'], 1)}"
               for n in (status or {}).get("notebooks", []) if n["status"] != "ran"}
    rows = [{"experiment": name, "notebook": notebook, "why": reasons.get(notebook, "no results file")}
            for name, notebook in EXPERIMENTS.items() if name not in have]
    return pd.DataFrame(rows, columns=["experiment", "notebook", "why"])


def run_name(record: dict) -> str:
    """The experiment a run belongs to: runs of several seeds share it (``..._seed2`` is dropped)."""
    return re.sub(r"_seed\d+$", "", record["config"]["run_name"])


def grid_records(profile: str, output_root=None) -> list[dict]:
    """The LIF/ALIF grid's headline cells (``common.study.lif_alif.main_comparison``), one record per seed, named
    ``rsnn_<neuron>_<dataset>`` / ``mlp_<dataset>`` so that they sit in the same tables as the other runs."""
    from common.runs.records import ResultsTable
    from common.runs.specs import profile_settings
    from common.study.lif_alif import main_comparison, results_table_path

    records = []
    for record in main_comparison(ResultsTable(results_table_path(profile, output_root)).rows(),
                                  profile_settings("lif_alif", profile)):
        cell = record["cell"]
        name = f"rsnn_{cell['neuron']}_{cell['dataset']}" if cell["model"] == "rsnn" else f"mlp_{cell['dataset']}"
        name += f"_seed{cell['seed']}"
        records.append({**record, "run": f"{name}-{profile}", "config": {**record["config"], "run_name": name}})
    return records


SPIKING_MODELS = {"scnn", "scnn_wide", "slstm", "rsnn"}


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """One row per run name: accuracy mean, std and 95% t-interval over seeds (or folds), sizes, time."""
    from common.runs.stats import seed_summary

    rows = [{"run": run_name(r), "dataset": r["config"]["dataset"], "profile": r["config"]["profile"],
             "model": r["config"].get("model"), "seed": r["config"]["seed"], "accuracy": r["test"]["accuracy"],
             "test samples": r["test"]["n_samples"], "parameters": r.get("parameters"),
             "training s": r["train_seconds"], "device": r["device"]} for r in records]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keys = ["run", "dataset", "profile", "device"]
    summary = seed_summary(frame, keys, "accuracy")
    grouped = frame.groupby(keys, sort=False)
    table = pd.DataFrame({
        **{k: summary[k] for k in keys}, "accuracy_mean": summary["mean"], "accuracy_std": summary["std"],
        "seeds": list(grouped["seed"].nunique()), "test_samples": list(grouped["test samples"].first()),
        "parameters": list(grouped["parameters"].first()), "training_s": list(grouped["training s"].mean()),
        "model": list(grouped["model"].first()), "accuracy_low": summary["low"], "accuracy_high": summary["high"]})
    table["spiking"] = table["model"].isin(SPIKING_MODELS)
    return table.sort_values(keys, ignore_index=True)


def predictor(model):
    """How NeuroBench turns the model's output into a class: the study's own objectives, i.e. most spikes
    per class group for a spiking output (no decision when silent or tied), argmax of logits otherwise."""
    from common.networks.objectives import CROSS_ENTROPY, spike_count_mse

    if hasattr(model, "population_size"):      # outputs spikes [T, B, n_classes * population_size]
        return spike_count_mse(n_classes=model.n_classes, population_size=model.population_size).predict
    return CROSS_ENTROPY.predict


@torch.no_grad()
def measure(record: dict, inputs: torch.Tensor, labels: torch.Tensor, output_root: str | Path,
            n_timing: int = 200) -> dict:
    """Reopen a run's checkpoint: time inference on ``n_timing`` test inputs (fastest of 5 passes after a
    warm-up pass), and run
    NeuroBench's metrics on all of ``inputs`` (time-first ``[T, N, ...]`` for spiking models)."""
    from common.study import neurobench

    model, _ = load_model(Path(output_root) / record["checkpoint"])
    time_first = inputs.dim() != 4            # [T, N, C, H, W] event frames or [T, N, 784] spike trains
    batch = inputs[:, :n_timing] if time_first else inputs[:n_timing]
    n = batch.shape[1 if time_first else 0]
    model(batch)                           # warm-up: the first pass of a shape also pays for oneDNN's set-up
    seconds = []
    for _ in range(5):                     # the fastest of five passes: the one least disturbed by the machine
        start = time.perf_counter()
        model(batch)
        seconds.append(time.perf_counter() - start)
    seconds = min(seconds)
    spikes = sum(model.spike_counts.values()) if time_first else float("nan")
    nb = neurobench.metrics(model, inputs.transpose(0, 1) if time_first else inputs, labels, predictor(model),
                            time_first)
    return {"run": run_name(record), "test samples": len(labels), "inference ms/sample": 1000 * seconds / n,
            "spikes/sample": spikes, **nb}


def source_comparison(records: list[dict]) -> pd.DataFrame:
    """This project's accuracy beside what the source study reported for the same experiment."""
    table = accuracy_table(records)
    rows = []
    for _, row in table.iterrows():
        if row["run"] in SOURCE_REPORTED:
            reported, why = SOURCE_REPORTED[row["run"]]
            rows.append({"run": row["run"], "source reported": reported, "this project": row["accuracy_mean"],
                         "difference (points)": 100 * (row["accuracy_mean"] - reported),
                         "this project's test samples": row["test_samples"], "why they differ": why})
    return pd.DataFrame(rows)


def test_inputs(record: dict, data_root, mirror, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The test split of a run's dataset (all of it, or ``limit``), prepared as the run's model takes it,
    and its labels. A fold-study run is tested on its own fold."""
    from common.data.events import event_frames
    from common.data.images import IMAGE_DATASETS, image_transform, load_image_dataset

    config, settings = record["config"], record["config"]["extra"]
    if config["dataset"] in IMAGE_DATASETS:
        test = load_image_dataset(config["dataset"], False, data_root, mirror, limit=limit)
        if config.get("model") == "rsnn":                   # the LIF/ALIF grid's spike trains
            from common.data.encodings import encode
            return encode(test.images, settings["cell"]["encoding"], settings["n_steps"],
                          torch.Generator().manual_seed(0)), test.labels
        return image_transform(test.mean_std)(test.images), test.labels
    frames = event_frames(config["dataset"], False, settings["n_time_bins"], data_root, mirror,
                          limit=limit, target_size=settings.get("target_size"), progress=False)
    return frames.frames.float().transpose(0, 1), frames.labels


def measure_all(records: list[dict], n_timing: int, data_root, mirror, output_root,
                limit: int | None = None) -> pd.DataFrame:
    """Inference time and NeuroBench's metrics of every run with a checkpoint (one seed each; the fold
    study's variants are the official-split models' twins and are left out), on full test sets."""
    from tqdm.auto import tqdm

    rows, seen = [], set()
    for record in tqdm(records, desc="NeuroBench", leave=False):
        name = run_name(record)
        if name in seen or name.endswith("_folds") or not (Path(output_root) / record["checkpoint"]).exists():
            continue
        seen.add(name)
        inputs, labels = test_inputs(record, data_root, mirror, limit)
        rows.append(measure(record, inputs, labels, output_root, n_timing))
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def _datasets(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["dataset"]))


def _error(row) -> tuple[float, float, float]:
    """Error rate in % and its 95% interval (the interval is the point itself for a single run)."""
    err = 100 * (1 - row["accuracy_mean"])
    if row["seeds"] < 2 or pd.isna(row["accuracy_low"]):
        return err, err, err
    return err, 100 * (1 - row["accuracy_high"]), 100 * (1 - row["accuracy_low"])


def _short(value: float) -> str:
    """0.5, 2, 200k, 3M: short tick labels."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _plain_log_ticks(axis, subs=(1.0, 2.0, 5.0)) -> None:
    """0.5, 1, 2 or 200k, 1M rather than 5 x 10^-1 on a log axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _style(row):
    return dict(color="tab:orange" if row["spiking"] else "tab:blue",
                marker="o" if row["seeds"] >= 2 else "D", mfc="white" if row["seeds"] < 2 else None)


def plot_accuracy(table: pd.DataFrame):
    """Test error rate (%) of every model, one panel per dataset, log scale so that 0.5% and 3% differ;
    bars are 95% t-intervals over seeds/folds (hollow diamonds: a single run, no interval); red
    crosses: what the source studies reported for the same experiment."""
    import matplotlib.pyplot as plt

    datasets = _datasets(table)
    heights = [max(1, (table["dataset"] == d).sum()) for d in datasets]
    fig, axes = plt.subplots(len(datasets), 1, figsize=(9, 1.2 + 0.42 * sum(heights) + 0.6 * len(datasets)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = table[table["dataset"] == dataset].sort_values("accuracy_mean").reset_index(drop=True)
        for y, row in part.iterrows():
            err, low, high = _error(row)
            style = _style(row)
            ax.errorbar(err, y, xerr=[[err - low], [high - err]], capsize=3, ms=7, ls="none", **style)
            if row["run"] in SOURCE_REPORTED:
                ax.plot(100 * (1 - SOURCE_REPORTED[row["run"]][0]), y, "x", color="red", ms=8, mew=2)
        ax.set_yticks(range(len(part)), [f"{r} ({n}x)" for r, n in zip(part["run"], part["seeds"])], fontsize=9)
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_title(dataset, fontsize=11, loc="left")
        ax.grid(alpha=0.3, which="both", axis="x")
    axes[-1, 0].set_xlabel("test error rate (%, log scale); lower is better", fontsize=10)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color="tab:blue", marker="o", ls="none", label="conventional"),
               Line2D([], [], color="tab:orange", marker="o", ls="none", label="spiking"),
               Line2D([], [], color="grey", marker="D", mfc="white", ls="none", label="single run"),
               Line2D([], [], color="red", marker="x", ls="none", mew=2, label="source study reported")]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


FOLD_TWINS = {"scnn_nmnist_beta_0.5_folds": "scnn_nmnist_beta0.5", "scnn_nmnist_beta_0.8_folds": "scnn_nmnist_beta0.8",
              "scnn_nmnist_learned_beta_folds": "scnn_nmnist_learned_beta",
              "scnn_nmnist_population_code_folds": "scnn_nmnist_population"}


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (fewer operations and lower error), ordered by operations."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best = [], float("inf")
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def plot_tradeoff(table: pd.DataFrame, efficiency: pd.DataFrame, operations: str = "operations/sample",
                  label: str = "effective synaptic operations per inference (NeuroBench: MACs + ACs)"):
    """Error rate against operations per inference, log-log, one panel per dataset: every model a point
    with its 95% interval, spiking and conventional told apart, the non-dominated models joined."""
    import matplotlib.pyplot as plt

    # a fold-study variant costs what its official-split twin costs; where the folds exist, they replace
    # the single official-split run (5 replicates and every recording tested, against one test set)
    table = table.assign(twin=table["run"].map(lambda r: FOLD_TWINS.get(r, r)))
    table = table[~table["run"].isin([twin for run, twin in FOLD_TWINS.items() if run in set(table["run"])])]
    merged = table.merge(efficiency[[operations]], left_on="twin", right_index=True)
    datasets = _datasets(merged)
    # one panel per dataset, stacked: 9 inches wide, so text keeps its size at the README's width
    fig, axes = plt.subplots(max(1, len(datasets)), 1, figsize=(9, 3.6 * max(1, len(datasets))), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = merged[merged["dataset"] == dataset].reset_index(drop=True)
        points = []
        for _, row in part.iterrows():
            err, low, high = _error(row)
            ax.errorbar(row[operations], err, yerr=[[err - low], [high - err]], capsize=3, ms=7, ls="none",
                        **_style(row))
            ax.annotate(row["run"], (row[operations], err), fontsize=9, xytext=(4, 3), textcoords="offset points")
            points.append((row[operations], err))
        front = pareto_front(points)
        ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "--", color="grey", lw=1,
                label="non-dominated (Pareto front)")
        ax.set(xscale="log", yscale="log", title=dataset)
        _plain_log_ticks(ax.yaxis)
        _plain_log_ticks(ax.xaxis, subs=(1.0, 2.0, 5.0))
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel("test error rate (%)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9, loc="upper right")
    fig.suptitle("accuracy against cost (blue: conventional, orange: spiking; hollow diamond: single run)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    return fig


def plot_spikes(records: list[dict]):
    """Spikes per sample in each layer: one bar per model (seeds/folds pooled) with its std, per layer."""
    import matplotlib.pyplot as plt
    import numpy as np

    by_run: dict[str, list[dict]] = {}
    for record in records:
        if record.get("spikes_per_sample"):
            by_run.setdefault(run_name(record), []).append(record["spikes_per_sample"])
    fig, ax = plt.subplots(figsize=(9, 4))
    if not by_run:
        return fig
    names = list(by_run)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        layers = list(by_run[name][0])
        values = np.array([[s[layer] for layer in layers] for s in by_run[name]])
        ax.bar(np.arange(len(layers)) + i * width, values.mean(0), width,
               yerr=values.std(0, ddof=1) if len(values) > 1 else None, capsize=2,
               label=f"{name} ({len(values)}x)")
    ax.set_xticks(np.arange(3) + 0.4 - width / 2, ["layer 1", "layer 2", "output"], fontsize=10)
    ax.set(yscale="log", ylabel="spikes per sample (log)", title="spikes per layer (error bars: std over seeds/folds)")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig


def efficiency_path(profile: str, output_root) -> Path:
    return Path(output_root) / "results" / f"efficiency-{profile}.json"


def save_efficiency(measurements: pd.DataFrame, profile: str, output_root) -> Path:
    """Notebook 08's measurements, so the README's trade-off figure is drawn from a file like every other."""
    from common.files import write_json

    path = efficiency_path(profile, output_root)
    frame = measurements.copy()
    frame["operations/sample"] = frame["Effective_MACs"] + frame["Effective_ACs"]
    write_json(path, {"profile": profile, "rows": frame.reset_index().to_dict(orient="records")})
    return path


def load_efficiency(profile: str, output_root) -> pd.DataFrame:
    import json

    path = efficiency_path(profile, output_root)
    if not path.exists():
        return pd.DataFrame()
    return pd.DataFrame(json.loads(path.read_text())["rows"]).set_index("run")


def head_to_head_records(profile: str, output_root=None) -> list[dict]:
    """Notebook 06's runs (one record per model and seed, each with its checkpoint), from its grid's table."""
    from common.runs.records import ResultsTable, table_path

    return ResultsTable(table_path("dvs_head_to_head", profile, output_root)).rows()


def study_records(profile: str, output_root) -> list[dict]:
    """Every run of the profile: the results files, the records of the grids (notebook 07's headline
    cells, the N-MNIST fold study, notebook 06's head-to-head)."""
    from common.runs.records import load_results
    from common.study import nmnist_folds

    return (load_results(Path(output_root) / "results", profile=profile) + head_to_head_records(profile, output_root)
            + grid_records(profile, output_root) + nmnist_folds.records(profile, output_root))
