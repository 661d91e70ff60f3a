"""The conventional baseline of notebook 01: the source study's MNIST CNN."""
from __future__ import annotations

import torch
from torch import nn

from common.networks.registry import register


@register("cnn")
class CNN(nn.Module):
    """The source study's MNIST CNN: 24C5(pad 1)-MP2-64C5(pad 1)-MP2-FC64-FC10.

    28 -> 26 -> 13 -> 11 -> 5, so the classifier sees 64 * 5 * 5 = 1600 features.
    ``dropout`` (0 in the source) is an option the quick profile uses against over-fitting.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 24, 5, padding=1)
        self.conv2 = nn.Conv2d(24, 64, 5, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()   # modules, so Grad-CAM can hook the activation
        self.fc1 = nn.Linear(1600, 64)
        self.fc2 = nn.Linear(64, n_classes)
        self.dropout = nn.Dropout(dropout)

    @property
    def gradcam_layer(self) -> nn.Module:
        # The rectified maps of the last conv: on the raw conv output the class-weighted sum is
        # often negative everywhere, and 73% of the quick model's test maps came out empty.
        return self.act2

    @property
    def cam_stages(self) -> list:
        """The layers between the input and ``gradcam_layer`` (common.explanations.gradcam.to_input reads them)."""
        return [self.conv1, self.pool, self.conv2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.conv1(x)))
        x = self.pool(self.act2(self.conv2(x)))
        x = self.dropout(torch.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)
