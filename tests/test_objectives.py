"""Predictions that admit silence: no output spike, or a tie at the top, is no decision (a wrong answer),
never class 0; and it is counted beside accuracy, per class and per time bin."""
import torch

from common.data.loader import TensorLoader
from common.explanations.analysis import per_class_accuracy
from common.explanations.plots import confusion_matrix
from common.networks.objectives import CROSS_ENTROPY, NO_DECISION, decided_argmax, spike_count_mse
from common.runs.train import evaluate, evaluate_over_time


def test_silence_and_ties_are_no_decision_not_class_0():
    counts = torch.tensor([[0., 0, 0], [2, 2, 1], [0, 3, 1], [1, 0, 0]])
    assert decided_argmax(counts).tolist() == [NO_DECISION, NO_DECISION, 1, 0]
    objective = spike_count_mse(n_classes=3)
    silent = torch.zeros(5, 4, 3)                                    # [T, B, outputs]: no spike at all
    assert (objective.predict(silent) == NO_DECISION).all()
    assert CROSS_ENTROPY.predict(torch.tensor([[0.1, 0.3, 0.2]])).tolist() == [1]   # ANNs: unchanged


class Replay(torch.nn.Module):
    """A 'network' whose output spikes are given: silent for samples of class 0 until bin 3."""

    def forward(self, x):                      # x: [T, B, 1] holds each sample's label
        T, B = x.shape[:2]
        spikes = torch.zeros(T, B, 3)
        labels = x[0, :, 0].long()
        for b in range(B):
            first = 3 if labels[b] == 0 else 0
            spikes[first:, b, labels[b]] = 1
        return spikes


def test_a_silent_network_scores_nothing_and_the_count_is_reported():
    labels = torch.tensor([0, 0, 1, 2])
    loader = TensorLoader(labels.float()[:, None], labels, 4, shuffle=False,
                          transform=lambda x: x[None].expand(5, -1, -1))
    objective = spike_count_mse(n_classes=3)
    silent = type("Silent", (torch.nn.Module,), {"forward": lambda self, x: torch.zeros(x.shape[0], x.shape[1], 3)})()
    result = evaluate(silent, loader, objective)
    assert result["accuracy"] == 0 and result["no_decision"] == 4     # before: 50%, class 0 "recognised"

    over_time = evaluate_over_time(Replay(), loader, objective)
    assert over_time["accuracy_by_time_bins"] == [0.5, 0.5, 0.5, 1.0, 1.0]   # class 0 silent in bins 1-3
    assert over_time["no_decision_by_time_bins"] == [0.5, 0.5, 0.5, 0.0, 0.0]
    record = {"test": {"labels": labels, "predictions": objective.predict(silent(loader.transform(labels.float()[:, None])))}}
    table = per_class_accuracy(record, ["a", "b", "c"])
    assert table["accuracy"].tolist() == [0, 0, 0] and table["no decision"].tolist() == [1, 1, 1]
    assert table["samples"].tolist() == [2, 1, 1]


def test_confusion_matrix_gives_no_decision_its_own_column():
    matrix = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, NO_DECISION, 1, NO_DECISION]), 3)
    assert matrix.shape == (3, 4) and matrix[:, 3].tolist() == [0, 1, 1] and matrix.sum() == 4
    assert confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1]), 2).shape == (2, 2)


def test_cross_entropy_on_spike_counts_is_softmax_cross_entropy_of_the_counts_and_predicts_like_the_mse_loss():
    """benchmarks/loss_choice.py's loss: snntorch's ce_count_loss equals plain cross-entropy of the summed spikes;
    its answers are the spike-count answers (silence: no decision); a population code is refused in one sentence."""
    import pytest
    import torch.nn.functional as F

    from common.networks.objectives import build_objective

    objective = build_objective("spike_count_cross_entropy", population_size=1)
    torch.manual_seed(0)
    spikes = (torch.rand(6, 4, 10) < 0.3).float()
    labels = torch.tensor([0, 3, 9, 1])
    assert objective.loss(spikes, labels).item() == pytest.approx(F.cross_entropy(spikes.sum(0), labels).item(), rel=1e-6)
    spikes[:, 2] = 0                                       # a silent sample
    assert torch.equal(objective.predict(spikes), spike_count_mse().predict(spikes))
    assert objective.predict(spikes)[2].item() == NO_DECISION
    with pytest.raises(ValueError, match="population_size 1"):
        build_objective("spike_count_cross_entropy", population_size=10)
