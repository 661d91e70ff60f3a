"""Batches from tensors already in memory: the one loader of every dataset of the study (images, spike
trains, event frames)."""
from __future__ import annotations

from typing import Callable, Iterator

import torch


class TensorLoader:
    """Batches from tensors already in memory: far faster than a per-sample DataLoader on 2 cores.

    ``transform`` runs on each whole batch (uint8 in, float model input out). Shuffling uses its
    own seeded generator, so an epoch's order is fixed by the seed and the epoch number.
    ``drop_last`` is never used: every sample of a test set is evaluated.
    """

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None, seed: int = 0):
        if len(inputs) != len(labels):
            raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
        self.inputs, self.labels = inputs, labels
        self.batch_size, self.shuffle, self.transform = batch_size, shuffle, transform
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            batch = self.inputs[index]
            yield (self.transform(batch) if self.transform else batch), self.labels[index]
