"""Views of trained networks: accuracy against time bins seen and spikes per layer (from a record:
common.runs.train.evaluate_over_time measures them), learned betas, the population code's activity,
per-class accuracy and the runs table of notebooks 05-06."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn

from common.networks.objectives import NO_DECISION
from common.runs.train import to_device


def plot_accuracy_over_time(curves: dict[str, list[float]], title="accuracy vs time bins seen"):
    """``curves``: label -> accuracy_by_time_bins."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, accuracy in curves.items():
        ax.plot(range(1, len(accuracy) + 1), accuracy, "o-", ms=3, label=label)
    ax.set(xlabel="time bins seen", ylabel="test accuracy", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_spikes_per_layer(spikes: dict[str, dict[str, float]], title="spikes per sample per layer"):
    """``spikes``: label -> {layer: mean spikes per sample}."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = list(spikes)
    layers = list(next(iter(spikes.values())))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ax.bar([j + i * width for j in range(len(layers))], [spikes[label][l] for l in layers], width,
               label=label)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(layers))], layers)
    ax.set(ylabel="spikes per sample (log)", yscale="log", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def show_run(record: dict, label: str | None = None):
    """Notebook 02's figures of a spiking run in one call: training curves, accuracy after t time bins,
    spikes per layer (from its record)."""
    from common.explanations.plots import plot_history

    label = label or record["config"]["run_name"]
    print(f"{record['run']}: test accuracy {record['test']['accuracy']:.2%} on {record['test']['n_samples']} "
          f"samples, {record['train_seconds']:.0f} s of training on {record['device']}")
    return (plot_history(record["history"], label), plot_accuracy_over_time({label: record["accuracy_by_time_bins"]}),
            plot_spikes_per_layer({label: record["spikes_per_sample"]}))


def beta_gradient(spec, data) -> list[float]:
    """The gradient reaching each layer's beta (through its logit) from one training batch, no update:
    the proof that a learned beta is trained."""
    from common.networks.registry import build_model

    model = build_model(spec.config.model, **spec.config.model_kwargs)
    inputs, labels = next(iter(data.train_loader or data.test_loader))
    spec.build_objective().loss(model(inputs), labels).backward()
    return model.beta_logit.grad.tolist()


def plot_learned_beta(history: list[dict], start: float | None = None, title="learned beta per layer"):
    """Each layer's beta after every epoch, from ``fit``'s history (``beta_<layer>`` entries)."""
    layers = sorted(k for k in history[0] if k.startswith("beta_"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [row["epoch"] for row in history]
    for layer in layers:
        ax.plot([0, *epochs] if start is not None else epochs,
                ([start] if start is not None else []) + [row[layer] for row in history], "o-", ms=3,
                label=layer.removeprefix("beta_"))
    ax.set(xlabel="epoch", ylabel="beta", title=title, ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


@torch.no_grad()
def population_activity(model: nn.Module, loader, n_classes: int, device="cpu") -> torch.Tensor:
    """Mean spike count of every output neuron per true class: ``[n_classes, n_outputs]``."""
    model.eval()
    totals, counts = None, torch.zeros(n_classes)
    for inputs, labels in loader:
        per_neuron = model(to_device(inputs, device)).sum(0).cpu()          # [B, n_outputs]
        if totals is None:
            totals = torch.zeros(n_classes, per_neuron.shape[1])
        totals.index_add_(0, labels, per_neuron)
        counts += torch.bincount(labels, minlength=n_classes)
    return totals / counts.clamp(min=1)[:, None]


def plot_population_activity(model: nn.Module, loader, n_classes: int, population_size: int, device="cpu"):
    activity = population_activity(model, loader, n_classes, device)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    shown = ax.imshow(activity.numpy(), aspect="auto", cmap="magma")
    for c in range(1, n_classes):
        ax.axvline(c * population_size - 0.5, color="white", lw=0.5)
    ax.set(xlabel=f"output neuron (groups of {population_size})", ylabel="true class",
           title="mean output spikes per test sample", yticks=range(n_classes))
    fig.colorbar(shown, ax=ax, label="spikes")
    fig.tight_layout()
    return fig


DVS_FULL_TRAIN = 1077   # clips in DVS128 Gesture's training split (264 in the test split)


def runs_table(records: list[dict], full_train: int = DVS_FULL_TRAIN):
    """One row per run: test accuracy, parameters, measured s/epoch and the estimate for ``full_train`` clips."""
    import pandas as pd

    def per_epoch(r, clips):   # None for a saved model evaluated here (trained elsewhere)
        return round(r["seconds_per_epoch"] * clips / r["train_samples"], 2) if r["train_samples"] else None

    return pd.DataFrame([{
        "run": r["run"], "model": r["config"]["model"], "seed": r["config"]["seed"],
        "test accuracy": r["test"]["accuracy"], "test clips": r["test"]["n_samples"], "parameters": r["parameters"],
        "s/epoch (measured)": per_epoch(r, r["train_samples"]), "train clips": r["train_samples"],
        f"s/epoch est. {full_train} clips": per_epoch(r, full_train),
    } for r in records]).set_index("run")


def per_class_accuracy(record: dict, class_names: list[str]):
    """Per true class: test accuracy, the share of samples with no decision (silent or tied output:
    wrong, not a guess of class 0) and the number of samples, from a record of :func:`common.runs.runner.run`."""
    import pandas as pd

    labels, predictions = (torch.as_tensor(record["test"][k]) for k in ("labels", "predictions"))
    rate = lambda hit, c: hit[labels == c].float().mean().item() if (labels == c).any() else float("nan")
    return pd.DataFrame({"accuracy": {n: rate(predictions == c, c) for c, n in enumerate(class_names)},
                         "no decision": {n: rate(predictions == NO_DECISION, c) for c, n in enumerate(class_names)},
                         "samples": {n: int((labels == c).sum()) for c, n in enumerate(class_names)}})
