"""How a model's output becomes a loss and a predicted class: the only thing that differs
between an ANN and the spiking networks in the training core (common/train.py)."""
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


def predict_argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(-1)


CROSS_ENTROPY = Objective("cross_entropy", F.cross_entropy, predict_argmax)
