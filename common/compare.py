"""The study's comparison across every model: read results files, reopen checkpoints, never retrain."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import torch

from .checkpoint import load_model
from .energy import energy_per_inference, operation_counts

# What the source studies reported (../shared/reference/source-studies.md), and why ours differs.
SOURCE_REPORTED = {
    "cnn_mnist": (0.9516, "the source stopped after 21 x 5 iterations (about a quarter of an epoch)"),
    "scnn_nmnist_beta0.5": (0.7114, "the source trained on ~13k samples and rotated its test set too"),
    "scnn_nmnist_beta0.8": (0.6908, "the source trained on ~13k samples, tested on 9,984 with drop_last, and rotated its test set"),
    "scnn_nmnist_population": (0.7401, "the source's 'population code' was a 100-way classifier; ours groups 10 neurons per class"),
    "scnn_dvsgesture": (0.6016, "the source tested on 256 clips resized by keeping 1 pixel in 16"),
    "cmp_slstm_dvsgesture": (0.8516, "the source gave its LSTM 13 epochs against the CNN's 5"),
    "rsnn_alif_mnist": (0.9619, "the source's best of many single unseeded cells (REC, 30 epochs); "
                                "its inputs were a binary threshold of the image"),
    "rsnn_alif_fashion-mnist": (0.8194, "source: 100 hidden, 15 epochs, one unseeded run, binary-threshold input"),
    "rsnn_lif_fashion-mnist": (0.7936, "source: 100 hidden, 15 epochs, one unseeded run, binary-threshold input"),
    "mlp_mnist": (0.953, "the source's MLP baseline; its training length is not stated"),
    "mlp_fashion-mnist": (0.914, "the source's MLP baseline; its training length is not stated"),
}


# Every experiment of the study and the notebook that runs it, so the comparison can say what is missing.
EXPERIMENTS = {
    "cnn_mnist": "01", "scnn_nmnist_beta0.5": "02", "scnn_nmnist_beta0.8": "03", "scnn_nmnist_learned_beta": "03",
    "scnn_nmnist_population": "04", "scnn_dvsgesture": "05", "scnn_dvsgesture_wide": "05",
    "cmp_scnn_dvsgesture": "06", "cmp_slstm_dvsgesture": "06",
    **{f"{m}_{d}": "07" for m in ("rsnn_lif", "rsnn_alif", "mlp") for d in ("mnist", "fashion-mnist")},
}


def not_run(records: list[dict], status: dict | None = None) -> pd.DataFrame:
    """The study's experiments with no results here, with the reason the last study run gave
    (``status``: :func:`common.study.read_status`) for skipping or failing their notebook."""
    from .study import first_lines

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
    """The LIF/ALIF grid's headline cells (``common.rsnn.main_comparison``) as results records, one per
    seed, named ``rsnn_<neuron>_<dataset>`` / ``mlp_<dataset>``, so they sit in the same tables."""
    from .config import profile_settings
    from .rsnn import main_comparison, results_table_path
    from .sweep import ResultsTable

    path = results_table_path(profile, output_root)
    if not path.exists():
        return []
    rows = main_comparison(ResultsTable(path).rows(), profile_settings("lif_alif", profile))
    records = []
    for row in rows:
        name = f"rsnn_{row['neuron']}_{row['dataset']}" if row["model"] == "rsnn" else f"mlp_{row['dataset']}"
        records.append({
            "run": f"{name}_seed{row['seed']}-{profile}",
            "config": {"run_name": f"{name}_seed{row['seed']}", "dataset": row["dataset"], "model": row["model"],
                       "profile": profile, "seed": row["seed"],
                       "extra": {"encoding": row.get("encoding"), "n_steps": row.get("n_steps")}},
            "test": {"accuracy": row["test_accuracy"], "n_samples": row["test_samples"]},
            "parameters": row["parameters"], "train_seconds": row["train_seconds"],
            "device": row.get("device", "not recorded"), "checkpoint": row["checkpoint"]})
    return records


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """One row per run name: accuracy mean and std over seeds, sizes, time, device, profile."""
    rows = [{"run": run_name(r), "dataset": r["config"]["dataset"], "profile": r["config"]["profile"],
             "seed": r["config"]["seed"], "accuracy": r["test"]["accuracy"],
             "test samples": r["test"]["n_samples"], "parameters": r.get("parameters"),
             "training s": r["train_seconds"], "device": r["device"]} for r in records]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    grouped = frame.groupby(["run", "dataset", "profile", "device"], as_index=False)
    return grouped.agg(accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                       seeds=("seed", "nunique"), test_samples=("test samples", "first"),
                       parameters=("parameters", "first"), training_s=("training s", "mean"))


@torch.no_grad()
def measure(record: dict, inputs: torch.Tensor, n_samples: int, output_root: str | Path) -> dict:
    """Reopen a run's checkpoint; time inference on ``inputs``, count its spikes (all layers) and operations."""
    model, _ = load_model(Path(output_root) / record["checkpoint"])
    spiking = inputs.dim() != 4            # [T, B, C, H, W] event frames or [T, B, 784] spike trains
    seconds = []
    for _ in range(3):                     # the median of three passes: one pass is at the mercy of the machine
        start = time.perf_counter()
        model(inputs)
        seconds.append(time.perf_counter() - start)
    seconds = sorted(seconds)[1]
    # spiking models record their spikes per sample and layer at every forward (spike_counts)
    spikes = sum(model.spike_counts.values()) if spiking else float("nan")
    counts = operation_counts(model, inputs, spiking=spiking, n_samples=n_samples)
    return {"run": run_name(record), "inference ms/sample": 1000 * seconds / n_samples,
            "spikes/sample": spikes, "MACs/sample": counts["mac"], "ACs/sample": counts["ac"],
            **{f"energy {k}": v for k, v in energy_per_inference(counts).items()}}


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


def test_inputs(record: dict, n_samples: int, data_root, mirror) -> torch.Tensor:
    """The first ``n_samples`` test inputs of a run's dataset, prepared as the run's model takes them."""
    from .data import IMAGE_DATASETS, image_transform, load_image_dataset
    from .events import event_frames

    config, settings = record["config"], record["config"]["extra"]
    if config["dataset"] in IMAGE_DATASETS:
        test = load_image_dataset(config["dataset"], False, data_root, mirror, limit=n_samples)
        if config.get("model") == "rsnn":                   # the LIF/ALIF grid's spike trains
            from .encodings import encode
            return encode(test.images, settings["encoding"], settings["n_steps"],
                          torch.Generator().manual_seed(0))
        return image_transform(test.mean_std)(test.images)
    frames = event_frames(config["dataset"], False, settings["n_time_bins"], data_root, mirror,
                          limit=n_samples, target_size=settings.get("target_size"), progress=False)
    return frames.frames.float().transpose(0, 1)


def measure_all(records: list[dict], n_samples: int, data_root, mirror, output_root) -> pd.DataFrame:
    """Inference time and operation/energy estimates of every run with a checkpoint (one seed each)."""
    rows, seen = [], set()
    for record in records:
        if run_name(record) in seen or not (Path(output_root) / record["checkpoint"]).exists():
            continue
        seen.add(run_name(record))
        inputs = test_inputs(record, n_samples, data_root, mirror)
        rows.append(measure(record, inputs, inputs.shape[0 if inputs.dim() == 4 else 1], output_root))
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def plot_accuracy(table: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * len(table)))
    colors = dict(zip(dict.fromkeys(table["dataset"]), plt.cm.tab10.colors))   # one color per dataset
    ax.barh(table["run"], 100 * table["accuracy_mean"], xerr=100 * table["accuracy_std"].fillna(0),
            color=[colors[d] for d in table["dataset"]])
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()], labels=list(colors),
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set(xlabel="test accuracy (%), error bars: std over seeds", xlim=(0, 100))
    for y, (mean, n) in enumerate(zip(table["accuracy_mean"], table["test_samples"])):
        ax.text(1, y, f"{mean:.2%} on {n:,}", va="center", color="white", fontsize=8)
    fig.tight_layout()
    return fig


def plot_energy(measurements: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * len(measurements)))
    measurements[["energy mac_nJ", "energy ac_nJ"]].rename(
        columns={"energy mac_nJ": "multiply-accumulate", "energy ac_nJ": "accumulate (spike-driven)"}
    ).plot.barh(stacked=True, ax=ax, logx=False)
    ax.set(xlabel="estimated energy per inference (nJ, 45 nm fp32 arithmetic only)", ylabel="")
    fig.tight_layout()
    return fig
