"""How a model's output becomes a loss and a predicted class: the only thing that differs
between an ANN and the spiking networks in the training core (common/runs/train.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Objective:
    """``loss(output, labels)`` to minimise, and ``predict(output) -> [B]`` class indices."""

    name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    predict: Callable[[torch.Tensor], torch.Tensor]


# The prediction of a sample that has no decision: no output spike at all, or a tie at the top. It is
# never a label, so it counts as wrong; evaluate() reports how many there were.
NO_DECISION = -1


def predict_argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(-1)


def decided_argmax(scores: torch.Tensor) -> torch.Tensor:
    """The class with the highest score, or :data:`NO_DECISION` where the top score is 0 (silence) or
    shared by several classes (``argmax`` alone would answer the first of them: class 0 for silence)."""
    top = scores.max(-1, keepdim=True).values
    unique_top = (scores == top).sum(-1) == 1
    return torch.where(unique_top & (top.squeeze(-1) > 0), scores.argmax(-1),
                       torch.full_like(scores[..., 0], NO_DECISION, dtype=torch.long))


CROSS_ENTROPY = Objective("cross_entropy", F.cross_entropy, predict_argmax)
# A conventional network on event data (common.networks.cnn.EventCNN) answers ``[T', B, C]``: row t the logits
# from the first t + 1 bins. It is trained, and judged, on the last row: the whole clip.
CROSS_ENTROPY_OVER_PREFIXES = Objective("cross_entropy_over_prefixes",
                                        lambda logits, labels: F.cross_entropy(logits[-1], labels),
                                        lambda logits: logits[-1].argmax(-1))

# With ``prefix_training`` (EventCNN) a training batch answers after a random prefix and after the whole clip; eval
# answers after every prefix. The loss is the mean cross-entropy over the rows given; the answer is the last row's.
CROSS_ENTROPY_WHOLE_AND_PREFIX = Objective(
    "cross_entropy_whole_and_prefix",
    lambda logits, labels: F.cross_entropy(logits.flatten(0, 1), labels.repeat(logits.shape[0])),
    lambda logits: logits[-1].argmax(-1))


def class_spike_counts(spikes: torch.Tensor, n_classes: int, population_size: int = 1) -> torch.Tensor:
    """Output spikes ``[T, B, n_classes * population_size]`` -> spikes per class ``[B, n_classes]``.

    Summed over time and over each class's group of ``population_size`` neighbouring neurons
    (class c owns outputs ``c * population_size ... (c + 1) * population_size - 1``, the grouping
    snntorch's ``mse_count_loss(population_code=True)`` uses).
    """
    counts = spikes.sum(0)
    if counts.shape[-1] != n_classes * population_size:
        raise ValueError(f"{counts.shape[-1]} output neurons, expected n_classes * population_size = "
                         f"{n_classes} * {population_size}")
    return counts.reshape(*counts.shape[:-1], n_classes, population_size).sum(-1)


def spike_count_mse(correct_rate: float = 0.8, incorrect_rate: float = 0.2, population_size: int = 1,
                    n_classes: int = 10) -> Objective:
    """The spiking networks' objective: snntorch's ``mse_count_loss`` on output spikes ``[T, B, N]``.

    The correct class should fire in ``correct_rate`` of the time bins, the others in
    ``incorrect_rate``. The predicted class is the one with most spikes over the whole sample,
    counted per class group when ``population_size > 1``; a silent output or a tie at the top is
    :data:`NO_DECISION` (a wrong answer).
    """
    from snntorch import functional as SF  # imported here so ANN-only use needs no snntorch

    if population_size > 1:
        loss = SF.mse_count_loss(correct_rate=correct_rate, incorrect_rate=incorrect_rate,
                                 population_code=True, num_classes=n_classes)
    else:
        loss = SF.mse_count_loss(correct_rate=correct_rate, incorrect_rate=incorrect_rate)

    def predict(spikes: torch.Tensor) -> torch.Tensor:
        return decided_argmax(class_spike_counts(spikes, n_classes, population_size))

    name = "spike_count_mse" + (f"_pop{population_size}" if population_size > 1 else "")
    return Objective(name, loss, predict)


def spike_count_cross_entropy(population_size: int = 1, n_classes: int = 10) -> Objective:
    """Cross-entropy on the output spike counts (snntorch's ``ce_count_loss``: softmax over each class's spikes
    summed over time), the loss of the conventional networks put on a spiking output; predicted as
    :func:`spike_count_mse` predicts (most spikes, :data:`NO_DECISION` on silence or a tie). For measuring what the
    loss choice moves (benchmarks/loss_choice.py); one output neuron per class only."""
    from snntorch import functional as SF

    if population_size != 1:
        raise ValueError(f"spike_count_cross_entropy takes one output neuron per class (population_size 1), got "
                         f"{population_size}: use spike_count_mse for a population code")

    def predict(spikes: torch.Tensor) -> torch.Tensor:
        return decided_argmax(class_spike_counts(spikes, n_classes))

    return Objective("spike_count_cross_entropy", SF.ce_count_loss(), predict)


OBJECTIVES = {"cross_entropy": lambda: CROSS_ENTROPY, "spike_count_cross_entropy": spike_count_cross_entropy,
              "cross_entropy_over_prefixes": lambda: CROSS_ENTROPY_OVER_PREFIXES,
              "cross_entropy_whole_and_prefix": lambda: CROSS_ENTROPY_WHOLE_AND_PREFIX, "spike_count_mse": spike_count_mse}


def build_objective(kind: str, **parameters) -> Objective:
    """The objective a spec names (``common.runs.specs``): ``kind`` and its parameters."""
    if kind not in OBJECTIVES:
        raise ValueError(f"unknown objective {kind!r}; choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[kind](**parameters)
