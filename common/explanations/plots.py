"""Figures shared by the notebooks: curves, confusion matrices, example grids."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def plot_history(history: list[dict], title: str = ""):
    """Loss and accuracy per epoch, training (over the whole epoch) against the full test set."""
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, [r[f"train_{metric}"] for r in history], "o-", label="train (whole epoch)")
        tested = [r for r in history if f"test_{metric}" in r]
        ax.plot([r["epoch"] for r in tested], [r[f"test_{metric}"] for r in tested], "s-",
                label="test (full set)")
        ax.set(xlabel="epoch", ylabel=metric, title=f"{title} {metric}".strip())
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> np.ndarray:
    """``[true, predicted]`` counts; with one more column, last, for samples with no decision
    (prediction -1: a silent or tied spiking output) when there are any. Tensors or lists (a record read from disk)."""
    labels, predictions = torch.as_tensor(labels), torch.as_tensor(predictions)
    undecided = predictions.long() < 0
    columns = n_classes + int(undecided.any())
    matrix = torch.zeros(n_classes, columns, dtype=torch.long)
    matrix.index_put_((labels.long(), torch.where(undecided, n_classes, predictions.long())),
                      torch.ones_like(labels.long()), accumulate=True)
    return matrix.numpy()


def plot_confusion(labels, predictions, class_names: list[str], title: str = "confusion matrix"):
    matrix = confusion_matrix(labels, predictions, len(class_names))
    fig, ax = plt.subplots(figsize=(6, 5))
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, count, ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    predicted_names = list(class_names) + ["no decision"] * (matrix.shape[1] - len(class_names))
    ax.set(xticks=range(len(predicted_names)), yticks=range(len(class_names)), xlabel="predicted",
           ylabel="true", title=title)
    ax.set_xticklabels(predicted_names, rotation=45, ha="right")
    ax.set_yticklabels(class_names)
    fig.colorbar(shown, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    return fig


def image_grid(images, titles: list[str], n_cols: int = 8, cmap="gray", title: str = ""):
    """``images``: a sequence of ``[H, W]`` or ``[H, W, 3]`` arrays."""
    n_rows = max(1, -(-len(images) // n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols, 1.8 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, titles):
        ax.imshow(np.asarray(image), cmap=cmap)
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
