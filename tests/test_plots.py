import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
from common.explanations.plots import confusion_matrix, image_grid, plot_confusion, plot_history  # noqa: E402


def test_confusion_matrix_counts():
    labels, predictions = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2])
    assert confusion_matrix(labels, predictions, 3).tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_history_figure_draws_each_curve_from_the_history():
    history = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5},      # no test after epoch 1
               {"epoch": 2, "train_loss": 0.7, "train_accuracy": 0.6, "test_loss": 0.9, "test_accuracy": 0.65}]
    fig = plot_history(history)
    assert len(fig.axes) == 2
    for ax, metric in zip(fig.axes, ("loss", "accuracy")):
        train, test = ax.lines
        assert train.get_xdata().tolist() == [1, 2] and train.get_ydata().tolist() == [r[f"train_{metric}"] for r in history]
        assert test.get_xdata().tolist() == [2] and test.get_ydata().tolist() == [history[1][f"test_{metric}"]]
        assert ax.get_ylabel() == metric


def test_confusion_figure_shows_the_counts_it_was_given():
    labels, predictions = torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, -1])   # -1: no decision
    fig = plot_confusion(labels, predictions, ["a", "b"])
    ax = fig.axes[0]
    expected = [[1, 0, 0], [1, 1, 1]]                                        # the last column: no decision
    assert np.allclose(ax.images[0].get_array(), np.log1p(expected))
    shown = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert shown == {(i, j): n for i, row in enumerate(expected) for j, n in enumerate(row) if n}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "no decision"]


def test_image_grid_places_each_image_under_its_title():
    images = [np.full((4, 4), float(k)) for k in range(3)]
    fig = image_grid(images, ["x", "y", "z"], n_cols=2)
    assert len(fig.axes) == 4
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in drawn] == ["x", "y", "z"]
    assert all(np.array_equal(ax.images[0].get_array(), image) for ax, image in zip(drawn, images))
