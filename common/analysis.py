"""Views of a trained spiking network that only time makes possible.

- accuracy as a function of how many time bins the network has seen: the network is causal, so
  the prediction from the spikes of bins 1..t is exactly what it would answer after seeing only
  those t bins; one forward pass gives every t at once;
- spikes per sample in each spiking layer (the activity an energy estimate counts).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn
from tqdm.auto import tqdm

from .objectives import NO_DECISION, Objective
from .train import to_device


@torch.no_grad()
def evaluate_over_time(model: nn.Module, loader, objective: Objective, device="cpu") -> dict:
    """``accuracy_by_time_bins[t-1]``: accuracy from the first t bins (a sample still silent, or tied,
    after t bins counts as wrong); ``no_decision_by_time_bins[t-1]``: the fraction of such samples;
    ``spikes_per_sample``: per layer."""
    model.eval()
    correct, undecided, spikes, n = None, None, {}, 0
    for inputs, labels in tqdm(loader, desc="accuracy over time", leave=False):
        inputs, labels = to_device(inputs, device), to_device(labels, device)
        output = model(inputs)                                  # [T, B, outputs]
        predictions = [objective.predict(output[:t]) for t in range(1, output.shape[0] + 1)]
        hits = torch.stack([(p == labels).sum() for p in predictions]).cpu()
        silent = torch.stack([(p == NO_DECISION).sum() for p in predictions]).cpu()
        correct = hits if correct is None else correct + hits
        undecided = silent if undecided is None else undecided + silent
        for layer, count in getattr(model, "spike_counts", {}).items():
            spikes[layer] = spikes.get(layer, 0.0) + count * len(labels)
        n += len(labels)
    return {"accuracy_by_time_bins": (correct.double() / n).tolist(),
            "no_decision_by_time_bins": (undecided.double() / n).tolist(),
            "spikes_per_sample": {layer: total / n for layer, total in spikes.items()}, "n_samples": n}


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
