import matplotlib
import torch
from torch import nn

matplotlib.use("Agg")
from common.data.loader import TensorLoader  # noqa: E402
from common.explanations.analysis import (  # noqa: E402
    plot_accuracy_over_time,
    plot_learned_beta,
    plot_population_activity,
    plot_spikes_per_layer,
    population_activity,
)
from common.networks.objectives import spike_count_mse  # noqa: E402
from common.runs.train import evaluate_over_time  # noqa: E402


class Scripted(nn.Module):
    """Output spikes [T, B, 2]: class 1 fires late (from bin 3 on), class 0 fires once at bin 0."""

    def forward(self, x):
        T, B = x.shape[0], x.shape[1]
        spikes = torch.zeros(T, B, 2)
        spikes[0, :, 0] = 1
        spikes[2:, :, 1] = 1
        self.spike_counts = {"out": spikes.sum().item() / B}
        return spikes


def time_first_loader(n=6):
    return TensorLoader(torch.zeros(n, 5, 1), torch.ones(n, dtype=torch.long), 4, False,
                        transform=lambda b: b.transpose(0, 1))


def test_accuracy_by_time_bins_uses_only_the_first_t_bins():
    result = evaluate_over_time(Scripted(), time_first_loader(), spike_count_mse(n_classes=2))
    # after 1 or 2 bins class 0 leads (1 vs 0); at 3 bins a tie (1 vs 1) is no decision, so wrong; then class 1 leads
    assert result["accuracy_by_time_bins"] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert result["spikes_per_sample"] == {"out": 4.0} and result["n_samples"] == 6


def test_population_activity_averages_per_true_class():
    class Fixed(nn.Module):
        def forward(self, x):
            return torch.ones(3, x.shape[1], 4) * x[0, :, :1]     # spike count = 3 * input value
    inputs = torch.tensor([[1.0], [2.0], [3.0]]).unsqueeze(0).repeat(2, 1, 1).transpose(0, 1)
    loader = TensorLoader(inputs, torch.tensor([0, 1, 1]), 2, False, transform=lambda b: b.transpose(0, 1))
    activity = population_activity(Fixed(), loader, n_classes=2)
    assert activity.shape == (2, 4)
    assert torch.allclose(activity[0], torch.full((4,), 3.0)) and torch.allclose(activity[1], torch.full((4,), 7.5))
    assert torch.allclose(torch.as_tensor(plot_population_activity(Fixed(), loader, 2, 2).axes[0].images[0].get_array()),
                          activity)


def test_accuracy_figure_draws_each_curve_against_time_bins_seen():
    curves = {"a": [0.1, 0.5, 0.75], "b": [0.2, 0.3, 0.9]}
    lines = plot_accuracy_over_time(curves).axes[0].lines
    assert [line.get_label() for line in lines] == ["a", "b"]
    for line, accuracy in zip(lines, curves.values()):
        assert line.get_xdata().tolist() == [1, 2, 3] and line.get_ydata().tolist() == accuracy


def test_spikes_figure_draws_one_bar_per_layer_at_its_count():
    spikes = {"a": {"l1": 10.0, "l2": 2.0}, "b": {"l1": 5.0, "l2": 1.0}}
    ax = plot_spikes_per_layer(spikes).axes[0]
    assert [bars.get_label() for bars in ax.containers] == ["a", "b"]
    for bars, per_layer in zip(ax.containers, spikes.values()):
        assert [bar.get_height() for bar in bars] == list(per_layer.values())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["l1", "l2"]


def test_learned_beta_figure_draws_each_layer_from_its_start():
    history = [{"epoch": 1, "beta_lif1": 0.7, "beta_lif2": 0.85}, {"epoch": 2, "beta_lif1": 0.75, "beta_lif2": 0.9}]
    lines = plot_learned_beta(history, start=0.8).axes[0].lines
    assert [line.get_label() for line in lines] == ["lif1", "lif2"]
    assert [line.get_xdata().tolist() for line in lines] == [[0, 1, 2]] * 2
    assert [line.get_ydata().tolist() for line in lines] == [[0.8, 0.7, 0.75], [0.8, 0.85, 0.9]]
