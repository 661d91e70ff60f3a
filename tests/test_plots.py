import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
from common.explanations.plots import confusion_matrix, image_grid, plot_confusion, plot_history  # noqa: E402


def test_confusion_matrix_counts():
    labels, predictions = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2])
    assert confusion_matrix(labels, predictions, 3).tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_figures_draw():
    history = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 0.9, "test_accuracy": 0.6}]
    assert len(plot_history(history).axes) == 2
    assert plot_confusion(torch.tensor([0, 1]), torch.tensor([0, 0]), ["a", "b"]).axes
    fig = image_grid([np.zeros((4, 4))] * 3, ["x", "y", "z"], n_cols=2)
    assert len(fig.axes) == 4
