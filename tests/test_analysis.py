import matplotlib
import torch
from torch import nn

matplotlib.use("Agg")
from common.data.images import TensorLoader  # noqa: E402
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
    # after 1 or 2 bins class 0 leads (1 vs 0, then 1 vs 0); tie at 3 bins (argmax picks 0); then class 1
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
    assert plot_population_activity(Fixed(), loader, 2, 2).axes




def test_figures():
    assert plot_accuracy_over_time({"a": [0.1, 0.5]}).axes
    assert plot_spikes_per_layer({"a": {"l1": 10.0, "l2": 2.0}, "b": {"l1": 5.0, "l2": 1.0}}).axes
    history = [{"epoch": 1, "beta_lif1": 0.7}, {"epoch": 2, "beta_lif1": 0.75}]
    assert plot_learned_beta(history, start=0.8).axes[0].lines[0].get_ydata().tolist() == [0.8, 0.7, 0.75]
