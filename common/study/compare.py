"""The study's comparison across every model: read results files, reopen checkpoints, never retrain."""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pandas as pd
import torch

from common.data.datasets import describe
from common.config import identity_of
from common.networks.registry import AnswersEveryPrefix, PopulationCoded, is_spiking
from common.runs.checkpoint import load_model
from common.runs.specs import SOURCE_REPORTED, SPECS
from common.study.lif_alif import HEADLINE_RUNS

# Every experiment of the study and the notebook that runs it, so the comparison can say what is missing:
# the specs, and the LIF/ALIF grid's headline cells under the names common.study.compare.grid_records gives them.
EXPERIMENTS = {**{name: spec.notebook for name, spec in SPECS.items() if name != "lif_alif"},
               **{name: "07" for name in HEADLINE_RUNS}}


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
    ``rsnn_<neuron>_<dataset>`` / ``mlp_<dataset>`` / ``mlp_spikes_<dataset>`` so that they sit in the same tables as the other runs."""
    from common.runs.records import ResultsTable, table_path
    from common.runs.specs import profile_settings
    from common.study.lif_alif import STUDY, headline_name, main_comparison

    records = []
    for record in main_comparison(ResultsTable(table_path(STUDY, profile, output_root)).rows(),
                                  profile_settings("lif_alif", profile)):
        cell = record["cell"]
        name = f"{headline_name(cell)}_seed{cell['seed']}"
        records.append({**record, "run": f"{name}-{profile}", "config": {**record["config"], "run_name": name},
                        "trained_as": record["config"]["run_name"]})   # the name its checkpoint proves
    return records




def accuracy_over_seeds(records: list[dict]) -> pd.DataFrame:
    """One row per run name: accuracy mean, std and 95% interval over its replicates (``seeds``: how many runs,
    seeds or folds x seeds; the fold study's interval corrected for overlap), sizes, time."""
    from common.runs.stats import seed_summary

    rows = [{"run": run_name(r), "twin": r.get("twin", run_name(r)), "label": r.get("label", run_name(r)),
             "interval": tuple(r.get("interval") or (None, None)),
             "dataset": r["config"]["dataset"], "profile": r["config"]["profile"],
             "model": r["config"].get("model"), "seed": r["config"]["seed"], "accuracy": r["test"]["accuracy"],
             "test samples": r["test"]["n_samples"], "parameters": r.get("parameters"),
             "training s": r["train_seconds"], "device": r["device"]} for r in records]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keys = ["run", "dataset", "profile", "device"]
    summary = seed_summary(frame, keys, "accuracy")
    grouped = frame.groupby(keys, sort=False)
    given = list(grouped["interval"].first())     # the fold study's corrected interval, where a record has one
    table = pd.DataFrame({
        **{k: summary[k] for k in keys}, "accuracy_mean": summary["mean"], "accuracy_std": summary["std"],
        "twin": list(grouped["twin"].first()), "label": list(grouped["label"].first()),
        "seeds": list(grouped.size()), "test_samples": list(grouped["test samples"].first()),
        "parameters": list(grouped["parameters"].first()), "training_s": list(grouped["training s"].mean()),
        "model": list(grouped["model"].first()),
        "accuracy_low": [g[0] if g[0] is not None else low for g, low in zip(given, summary["low"])],
        "accuracy_high": [g[1] if g[1] is not None else high for g, high in zip(given, summary["high"])]})
    # the model's kind, as the registry has it (a record that names no model, a test's, is not taken for spiking)
    table["spiking"] = table["model"].map(lambda model: isinstance(model, str) and is_spiking(model))
    return table.sort_values(keys, ignore_index=True)


def predictor(model, training: dict | None = None):
    """How NeuroBench turns the model's output into a class: the run's own objective (``training``: the record's,
    :meth:`common.runs.specs.ResolvedSpec.training`), i.e. most spikes per class group for a spiking output (no
    decision when silent or tied), argmax of logits otherwise. Records written before the objective was kept
    name none; for them it follows from the model's outputs."""
    from common.networks.objectives import (CROSS_ENTROPY, CROSS_ENTROPY_OVER_PREFIXES, build_objective,
                                            spike_count_mse)

    if training and training.get("objective"):
        return build_objective(**training["objective"]).predict
    if isinstance(model, PopulationCoded):      # outputs spikes [T, B, n_classes * population_size]
        return spike_count_mse(n_classes=model.n_classes, population_size=model.population_size).predict
    if isinstance(model, AnswersEveryPrefix):  # a CNN on event frames: logits [T', B, C], the last row decides
        return CROSS_ENTROPY_OVER_PREFIXES.predict
    return CROSS_ENTROPY.predict


# The layer that reads a conventional network's input: where its input normalisation folds in.
FIRST_LAYER = {"cnn": "conv1", "mlp": "fc1"}


def neurons_per_sample(model, batch: torch.Tensor, time_first: bool) -> float:
    """Values a network holds per inference at once: the outputs of its Conv/Linear layers (a conventional
    network's activations) or of its spiking layers per time bin (a spiking network's membranes)."""
    from common.networks.neurons import SpikeTrace

    spiking = any(isinstance(m, SpikeTrace) for m in model.modules())
    kinds = (SpikeTrace,) if spiking else (torch.nn.Conv2d, torch.nn.Linear)
    n = batch.shape[1] if time_first else batch.shape[0]
    counted = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: counted.append(
        (out[0] if isinstance(out, tuple) else out).numel())) for m in model.modules() if isinstance(m, kinds)]
    model(batch)
    for hook in hooks:
        hook.remove()
    steps = batch.shape[0] if (time_first and spiking) else 1
    return sum(counted) / n / steps


@torch.no_grad()
def measure_inference(record: dict, inputs: torch.Tensor, labels: torch.Tensor, output_root: str | Path,
            n_timing: int = 200) -> dict:
    """Reopen a run's checkpoint: time inference on ``n_timing`` test inputs (fastest of 5 passes after a
    warm-up pass), and run NeuroBench's metrics on all of ``inputs`` (time-first ``[T, N, ...]`` for spiking
    models; raw ``[0, 1]`` images for the conventional image networks, whose input normalisation is folded into
    their first layer, so that the background's zeros count as the zeros they are); then both cost models."""
    from common.data.datasets import describe, is_images
    from common.networks.folding import fold_input_normalisation
    from common.study import neurobench

    expect = {**record["config"], "run_name": record.get("trained_as", record["config"]["run_name"])}
    model, _ = load_model(Path(output_root) / record["checkpoint"], raw_inputs=False, expect=expect)
    config = record["config"]
    if is_images(config["dataset"]) and config["model"] in FIRST_LAYER:
        mean, std = describe(config["dataset"]).mean_std
        model = fold_input_normalisation(model, FIRST_LAYER[config["model"]], mean, std)
    if isinstance(model, AnswersEveryPrefix):
        model.answer_every_prefix = False     # one inference: the whole clip once, not one pass per prefix
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
    counts = getattr(model, "spike_counts", None)   # spiking models only (a CNN on event frames is time-first too)
    spikes = sum(counts.values()) if counts else float("nan")
    neurons = neurons_per_sample(model, batch, time_first)
    nb = neurobench.metrics(model, inputs.transpose(0, 1) if time_first else inputs, labels,
                            predictor(model, record.get("training")), time_first)
    return {"run": run_name(record), "dataset": record["config"]["dataset"], "test samples": len(labels),
            "inference ms/sample": 1000 * seconds / n, "spikes/sample": spikes, "neurons": neurons, **nb}


def source_comparison(records: list[dict]) -> pd.DataFrame:
    """This project's accuracy beside what the source study reported for the same experiment."""
    table = accuracy_over_seeds(records)
    rows = []
    for _, row in table.iterrows():
        if row["run"] in SOURCE_REPORTED:
            reported, why = SOURCE_REPORTED[row["run"]]
            rows.append({"run": row["run"], "source reported": reported, "this project": row["accuracy_mean"],
                         "difference (points)": 100 * (row["accuracy_mean"] - reported),
                         "this project's test samples": row["test_samples"], "why they differ": why})
    return pd.DataFrame(rows)


def test_inputs(record: dict, data_root, mirror, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The test split of a run (all of it, or ``limit``), through the loaders it was evaluated with
    (common.runs.runner.load_data: its time bins, its fold, its spike encoding and seed), and its labels. Images
    come raw, in [0, 1]: :func:`measure_inference` folds their normalisation into the network's first layer."""
    from dataclasses import replace

    from common.config import RunConfig
    from common.data.datasets import is_images
    from common.runs.runner import load_data

    config = RunConfig.from_dict({**record["config"], "data_root": data_root, "mirror": mirror, "device": "cpu"})
    if limit:
        config = replace(config, data=replace(config.data, test_limit=limit))
    loader = load_data(config).test_loader
    if is_images(config.dataset) and not config.data.encoding:    # images the network sees as images, not spikes
        return loader.inputs.float() / 255, loader.labels
    return torch.cat([inputs for inputs, _ in loader], dim=1), loader.labels


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
        rows.append(measure_inference(record, inputs, labels, output_root, n_timing))
    return with_energies(pd.DataFrame(rows).set_index("run")) if rows else pd.DataFrame()


def _datasets(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["dataset"]))


def _error(row) -> tuple[float, float, float]:
    """Error rate in % and its 95% interval (the interval is the point itself for a single run)."""
    err = 100 * (1 - row["accuracy_mean"])
    if row["seeds"] < 2 or pd.isna(row["accuracy_low"]):
        return err, err, err
    # clipped to [0, 100] and around the point (a zero-width interval computed another way differs in its last bit)
    low, high = 100 * (1 - min(1.0, row["accuracy_high"])), 100 * (1 - max(0.0, row["accuracy_low"]))
    return err, min(low, err), max(high, err)


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
    for ax, dataset_name in zip(axes[:, 0], datasets):
        part = table[table["dataset"] == dataset_name].sort_values("accuracy_mean").reset_index(drop=True)
        for y, row in part.iterrows():
            err, low, high = _error(row)
            style = _style(row)
            ax.errorbar(err, y, xerr=[[err - low], [high - err]], capsize=3, ms=7, ls="none", **style)
            if row["run"] in SOURCE_REPORTED:
                ax.plot(100 * (1 - SOURCE_REPORTED[row["run"]][0]), y, "x", color="red", ms=8, mew=2)
        names = [label(r) if lab == r else lab for r, lab in zip(part["run"], part["label"])]
        ax.set_yticks(range(len(part)), [f"{name} ({n}x)" for name, n in zip(names, part["seeds"])], fontsize=9)
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_title(describe(dataset_name).title, fontsize=11, loc="left")
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


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (lower cost and lower error), ordered by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best = [], float("inf")
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


# Names a reader knows the models by (run ids stay in the tables); the fold study's variants name themselves.
LABELS = {"cnn_mnist": "CNN", "mlp_mnist": "MLP", "mlp_fashion-mnist": "MLP", "mlp_spikes_mnist": "MLP on spikes",
          "mlp_spikes_fashion-mnist": "MLP on spikes", "rsnn_lif_mnist": "LIF",
          "rsnn_alif_mnist": "ALIF", "rsnn_lif_fashion-mnist": "LIF", "rsnn_alif_fashion-mnist": "ALIF",
          "scnn_nmnist_beta0.5": "spiking CNN, beta 0.5", "scnn_nmnist_beta0.8": "spiking CNN, beta 0.8",
          "scnn_nmnist_learned_beta": "spiking CNN, learned beta", "scnn_nmnist_population": "spiking CNN, population code",
          "scnn_nmnist_population_small": "spiking CNN, population code, equal size",
          "cnn_nmnist_summed": "CNN, summed events", "cnn_nmnist_time_bins": "CNN, time bins as channels",
          "slstm_nmnist_small": "spiking LSTM, equal size"}


def label(run: str) -> str:
    return LABELS.get(run, run)


def replicated_accuracy(efficiency: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Each model of the efficiency table with its accuracy from its replicates, not from the one saved model whose
    operations were counted: ``table`` is :func:`accuracy_over_seeds` of the study's records. A model the fold study
    trained (its ``twin``) takes the fold study's mean and corrected interval ("folds x seeds"); the LIF/ALIF/MLP
    headline cells their mean and t-interval over seeds ("seeds"); any other model its single run ("one run", no
    interval). Columns: accuracy, low, high, runs, replicates."""
    rows = {}
    for run in efficiency.index:
        mine = table[((table["twin"] == run) | (table["run"] == run)) & (table["dataset"] == efficiency.loc[run, "dataset"])]
        best = mine.sort_values("seeds", ascending=False).iloc[0] if len(mine) else None
        if best is None or best["seeds"] < 2:
            accuracy = best["accuracy_mean"] if best is not None else efficiency.loc[run, "ClassificationAccuracy"]
            rows[run] = {"accuracy": accuracy, "low": math.nan, "high": math.nan, "runs": 1, "replicates": "one run"}
        else:
            rows[run] = {"accuracy": best["accuracy_mean"], "low": best["accuracy_low"], "high": best["accuracy_high"],
                         "runs": int(best["seeds"]),
                         "replicates": "folds x seeds" if best["run"] != run else "seeds"}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["accuracy", "low", "high", "runs", "replicates"])


def plot_tradeoff(efficiency: pd.DataFrame, table: pd.DataFrame):
    """Test error against energy per inference, one row per dataset and one column per cost model
    (:data:`COST_MODELS`): the cost of the saved model whose operations were counted, the error of the model's
    replicates (:func:`replicated_accuracy`: bars are their 95% interval; a hollow diamond is a single run);
    conventional blue, spiking orange; dashed: the non-dominated models (by mean error). The points' data are
    the efficiency table's, which tests/test_compare.py checks."""
    import matplotlib.pyplot as plt

    accuracy = replicated_accuracy(efficiency, table)
    frame = efficiency.assign(error=100 * (1 - accuracy["accuracy"]), error_low=100 * (1 - accuracy["high"]),
                              error_high=100 * (1 - accuracy["low"]), runs=accuracy["runs"])
    datasets = list(dict.fromkeys(frame["dataset"]))
    fig, axes = plt.subplots(len(datasets), len(COST_MODELS), figsize=(9, 3.2 * len(datasets)), squeeze=False)
    for row, dataset_name in enumerate(datasets):
        part = frame[frame["dataset"] == dataset_name]
        for col, (name, column) in enumerate(COST_MODELS.items()):
            ax = axes[row, col]
            points = list(zip(part[column], part["error"]))
            for (run, line), (x, y) in zip(part.iterrows(), points):
                color = "tab:orange" if line["MembraneUpdates"] > 0 else "tab:blue"
                if line["runs"] > 1:
                    ax.errorbar(x, y, yerr=[[max(0.0, y - line["error_low"])], [max(0.0, line["error_high"] - y)]],
                                fmt="o", color=color, ms=6, capsize=3)
                else:
                    ax.plot(x, y, "D", color=color, mfc="white", ms=6)
                ax.annotate(label(run), (x, y), fontsize=8, xytext=(4, 2 + 9 * (list(part.index).index(run) % 2)),
                            textcoords="offset points")
            front = pareto_front(points)
            if len(front) > 1:
                ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "--", color="grey", lw=1)
            ax.set(xscale="log", title=f"{describe(dataset_name).title}, cost: {name}")
            _plain_log_ticks(ax.xaxis)
            ax.margins(x=0.25, y=0.2)          # room for the labels inside the panel
            ax.set_xlabel("energy per inference (nJ, log)", fontsize=9)
            ax.set_ylabel("test error (%)", fontsize=9)
            ax.grid(alpha=0.3, which="both")
    from matplotlib.lines import Line2D
    fig.legend(handles=[Line2D([], [], color="tab:blue", marker="o", ls="none", label="conventional"),
                        Line2D([], [], color="tab:orange", marker="o", ls="none", label="spiking"),
                        Line2D([], [], color="grey", marker="D", mfc="white", ls="none", label="one run"),
                        Line2D([], [], color="grey", ls="--", label="non-dominated")],
               loc="upper center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def spikes_table(records: list[dict]) -> pd.DataFrame:
    """Spikes per inference of every spiking model, summed over its layers, mean and std over its replicates:
    the spiking CNNs from their per-layer counts, the LIF/ALIF networks from their hidden layer's spike rate
    (rate x hidden neurons x time bins)."""
    rows = []
    for record in records:
        if record.get("spikes_per_sample"):
            total = sum(record["spikes_per_sample"].values())
        elif record.get("spike_rate") is not None and record["config"].get("model") == "rsnn":
            total = (record["spike_rate"] * record["config"]["model_kwargs"]["hidden"]
                     * identity_of(record["config"])["data"]["n_steps"])
        else:
            continue
        rows.append({"run": run_name(record), "label": record.get("label", label(run_name(record))),
                     "dataset": record["config"]["dataset"], "spikes": total})
    frame = pd.DataFrame(rows, columns=["run", "label", "dataset", "spikes"])
    return frame.groupby(["dataset", "run", "label"], sort=False)["spikes"].agg(["mean", "std", "count"]).reset_index()


def plot_spikes(records: list[dict]):
    """Spikes per inference of every spiking model (LIF/ALIF included), one bar each with its std over
    replicates, on a log axis (the models differ by 10x), grouped by dataset."""
    import matplotlib.pyplot as plt

    table = spikes_table(records)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.32 * max(1, len(table))))
    if table.empty:
        return fig
    names = [f"{r.label} ({r.dataset}, {int(r['count'])}x)" for _, r in table.iterrows()]
    ax.barh(range(len(table)), table["mean"], xerr=table["std"].fillna(0), capsize=2, color="tab:orange")
    ax.set_yticks(range(len(table)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel="spikes per inference, all layers (log axis; error bars: std over replicates)")
    ax.grid(alpha=0.3, which="both", axis="x")
    fig.tight_layout()
    return fig


def efficiency_path(profile: str, output_root) -> Path:
    return Path(output_root) / "results" / f"efficiency-{profile}.json"


TIMING_COLUMNS = ("inference ms/sample",)    # moves with the machine's load: not a reason to rewrite the file


def save_efficiency(measurements: pd.DataFrame, profile: str, output_root) -> Path:
    """Notebook 08's measurements, so the README's figures and findings are drawn from a file like every other.
    A file whose counts are the same (its CPU timings aside) is left as it was: a rerun on a busy or another
    machine changes no committed file unless a count changed."""
    from common.files import write_json
    from common.runs.records import same_result

    path = efficiency_path(profile, output_root)
    frame = measurements.drop(columns=[c for c in DERIVED if c in measurements])   # counts only: energies on read
    new = {"profile": profile, "rows": frame.reset_index().to_dict(orient="records")}
    if path.exists():
        old = pd.DataFrame(json.loads(path.read_text())["rows"]).set_index("run")   # as stored (an old file: energies too)
        drop = lambda f: json.loads(f.drop(columns=[c for c in TIMING_COLUMNS if c in f]).reset_index()
                                    .to_json(orient="records"))
        if list(old.columns) == list(frame.columns) and same_result(drop(old), drop(frame)):
            return path
    write_json(path, new)
    return path


def load_efficiency(profile: str, output_root) -> pd.DataFrame:
    """Notebook 08's counts as kept, with the energies derived from them (:func:`with_energies`)."""
    path = efficiency_path(profile, output_root)
    if not path.exists():
        return pd.DataFrame()
    frame = pd.DataFrame(json.loads(path.read_text())["rows"]).set_index("run")
    frame = frame.drop(columns=[c for c in DERIVED if c in frame])   # a file written before energies were derived
    return with_energies(frame)


def head_to_head_records(profile: str, output_root=None) -> list[dict]:
    """The gesture study's runs (notebooks 05-06: one record per model and seed, each with its checkpoint), from its
    grid's table on every gesture dataset."""
    from common.study import gestures

    return [r for rows in gestures.records_by_dataset(profile, output_root).values() for r in rows]


def study_records(profile: str, output_root) -> list[dict]:
    """Every run of the profile: the results files, the records of the grids (notebook 07's headline
    cells, the N-MNIST fold study, notebook 06's head-to-head)."""
    from common.runs.records import load_results
    from common.study import nmnist_folds

    return (load_results(Path(output_root) / "results", profile=profile) + head_to_head_records(profile, output_root)
            + grid_records(profile, output_root) + nmnist_folds.records(profile, output_root))


# ------------------------------------------------------------------------------ energy under two cost models

# Spiking against conventional, each pair on the same data at about the same size (b is the spiking one).
ENERGY_PAIRS = [("mlp_mnist", "rsnn_lif_mnist"), ("mlp_mnist", "rsnn_alif_mnist"),
                ("mlp_fashion-mnist", "rsnn_lif_fashion-mnist"), ("mlp_fashion-mnist", "rsnn_alif_fashion-mnist"),
                ("cnn_nmnist_summed", "scnn_nmnist_beta0.8"), ("cnn_nmnist_time_bins", "scnn_nmnist_beta0.8")]
COST_MODELS = {"operations": "energy_nJ", "operations + memory": "energy_memory_nJ"}
# The same, with a spiking network's first-layer MACs (its graded inputs: event counts) priced as accumulates, as an
# event-driven core would (common/study/energy.py): what NeuroBench's MAC pricing of those inputs moves.
AS_ACS = "_event_inputs_as_acs"
# Columns derived from the counts when the table is read, never stored (common.study.neurobench keeps counts only).
DERIVED = (*COST_MODELS.values(), *(c + AS_ACS for c in COST_MODELS.values()), "first_layer_share",
           "operations/sample")


def _counts(row, event_inputs_as_acs: bool = False) -> dict:
    """A row of the efficiency table as the cost models' arguments; ``event_inputs_as_acs``: a spiking network's
    MACs (NeuroBench's count for its graded-input first layer, the only layer of it whose inputs are not spikes)
    counted as ACs instead."""
    spiking = row["MembraneUpdates"] > 0
    moved = row["Effective_MACs"] if (spiking and event_inputs_as_acs) else 0.0
    return {"macs": row["Effective_MACs"] - moved, "acs": row["Effective_ACs"] + moved,
            "membrane_updates": row["MembraneUpdates"], "spikes": row["spikes/sample"] if spiking else 0.0,
            "weight_bytes": row["Footprint"], "neurons": row["neurons"], "outputs": 0.0 if spiking else row["neurons"]}


def cost(model: str):
    """Cost model ``model`` (a key of :data:`COST_MODELS`) as a function of :func:`_counts`."""
    from common.study.energy import energy_nj, memory_aware_nj
    if model == "operations":
        return lambda c: energy_nj(c["macs"], c["acs"])
    return lambda c: memory_aware_nj(**c)


def with_energies(frame: pd.DataFrame) -> pd.DataFrame:
    """The efficiency table's counts with the energies derived from them: per cost model (:data:`COST_MODELS`)
    as NeuroBench prices the first layer and with a spiking network's event inputs as ACs (:data:`AS_ACS`), and the
    share of the operations energy that the MAC-priced inputs take (``first_layer_share``; 0 for a network without
    graded inputs to a spiking layer, NaN for a conventional one)."""
    from common.study.energy import ENERGY_PJ

    frame = frame.copy()
    for name, column in COST_MODELS.items():
        model = cost(name)
        frame[column] = [model(_counts(row)) for _, row in frame.iterrows()]
        frame[column + AS_ACS] = [model(_counts(row, True)) for _, row in frame.iterrows()]
    spiking = frame["MembraneUpdates"] > 0
    frame["first_layer_share"] = (frame["Effective_MACs"] * ENERGY_PJ["mac"] / 1000 / frame["energy_nJ"]).where(spiking)
    frame["operations/sample"] = frame["Effective_MACs"] + frame["Effective_ACs"]
    return frame


def energy_pairs(efficiency: pd.DataFrame) -> pd.DataFrame:
    """Each spiking/conventional pair of :data:`ENERGY_PAIRS` that has both rows, under each cost model: both
    energies, the winner, and the spike rate (spikes per neuron per time bin) at which the winner would change."""
    from common.study.energy import crossover_spike_rate

    lines = []
    for conventional, spiking in ENERGY_PAIRS:
        if conventional not in efficiency.index or spiking not in efficiency.index:
            continue
        a, b = _counts(efficiency.loc[conventional]), _counts(efficiency.loc[spiking])
        b_acs = _counts(efficiency.loc[spiking], event_inputs_as_acs=True)
        for name in COST_MODELS:
            model = cost(name)
            e_a, e_b, e_acs = model(a), model(b), model(b_acs)
            lines.append({"conventional": conventional, "spiking": spiking, "cost model": name,
                          "conventional nJ": e_a, "spiking nJ": e_b, "spiking / conventional": e_b / e_a,
                          "cheaper": "spiking" if e_b < e_a else "conventional",
                          "spike rate": b["spikes"] / b["membrane_updates"],
                          "crossover spike rate": crossover_spike_rate(b, e_a, model),
                          "first layer share": with_energies(efficiency.loc[[spiking]])["first_layer_share"].iloc[0],
                          "spiking nJ, event inputs as ACs": e_acs, "ratio, event inputs as ACs": e_acs / e_a,
                          "crossover, event inputs as ACs": crossover_spike_rate(
                              b_acs, e_a, model, fixed_acs=b_acs["acs"] - b["acs"])})
    return pd.DataFrame(lines, columns=["conventional", "spiking", "cost model", "conventional nJ", "spiking nJ",
                                        "spiking / conventional", "cheaper", "spike rate", "crossover spike rate",
                                        "first layer share", "spiking nJ, event inputs as ACs",
                                        "ratio, event inputs as ACs", "crossover, event inputs as ACs"])


def plot_energy_sweep(efficiency: pd.DataFrame):
    """Energy per inference of each spiking model of :data:`ENERGY_PAIRS` as its spike rate is scaled (first
    layer and membrane updates fixed), one panel per cost model, against its conventional partners' energies
    (dashed, same colour, named at the right); a dot marks the measured rate. Where a curve crosses a dashed
    line of its colour, the winner changes."""
    import matplotlib.pyplot as plt
    import numpy as np

    pairs = energy_pairs(efficiency)
    spiking_models = list(dict.fromkeys(pairs["spiking"]))
    fig, axes = plt.subplots(1, len(COST_MODELS), figsize=(9, 4.6), squeeze=False)
    for ax, name in zip(axes[0], COST_MODELS):
        model = cost(name)
        for i, spiking in enumerate(spiking_models):
            color = f"C{i}"
            counts = _counts(efficiency.loc[spiking])
            rate = counts["spikes"] / counts["membrane_updates"]
            scale = np.logspace(-1.5, 1, 60)
            energy = [model({**counts, "acs": counts["acs"] * k, "spikes": counts["spikes"] * k}) for k in scale]
            ax.plot(rate * scale, energy, color=color, label=f"{label(spiking)} ({describe(efficiency.loc[spiking, 'dataset']).title})")
            ax.plot(rate, model(counts), "o", color=color)
            for _, line in pairs[(pairs["spiking"] == spiking) & (pairs["cost model"] == name)].iterrows():
                ax.axhline(line["conventional nJ"], color=color, ls="--", lw=0.8)
                ax.annotate(label(line.conventional), (1.0, line["conventional nJ"]), xycoords=("axes fraction", "data"),
                            fontsize=7, color=color, ha="right", va="bottom")
        ax.set(xscale="log", yscale="log", xlabel="spike rate (spikes per neuron per time bin)",
               ylabel="energy per inference (nJ)", title=f"cost model: {name}")
        _plain_log_ticks(ax.yaxis)
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
