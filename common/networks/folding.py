"""The input normalisation of a conventional network folded into its first layer: an exact rewrite.

The CNN and the MLP are trained on ``(x - mean) / std``. Counted on those inputs, the zero background of an
image becomes ``-mean / std`` everywhere, and an operation counter (NeuroBench's effective MACs) charges a
multiplication for every background pixel that a zero-skipping accelerator would skip on the raw image. The
same function on raw ``[0, 1]`` inputs: ``W' = W / std`` and ``b' = b - mean / std * sum(W)``. A convolution
that zero-pads its normalised input pads the raw one with ``mean`` instead (a zero there *is* ``mean``),
so a padded convolution becomes an explicit ``mean`` padding and an unpadded convolution: exact at the
borders too. tests/test_folding.py checks the outputs against the original network's on normalised inputs.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class PadWith(nn.Module):
    """Constant padding of ``[B, C, H, W]`` by ``padding`` pixels with ``value`` (the raw input's mean)."""

    def __init__(self, padding: int, value: float):
        super().__init__()
        self.padding, self.value = padding, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, [self.padding] * 4, value=self.value)


class MeanPadded(nn.Sequential):
    """Padding with the mean, then the unpadded convolution: an operation counter sees the padded input, as
    the hardware would. Exposes the convolution's ``in_channels`` (the models check their input by it)."""

    @property
    def in_channels(self) -> int:
        return self[-1].in_channels


def _fold_conv(conv: nn.Conv2d, mean: float, std: float) -> nn.Module:
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0,
                       conv.dilation, conv.groups, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight / std)
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        folded.bias.copy_(bias - mean / std * conv.weight.sum(dim=(1, 2, 3)))
    padding = conv.padding[0] if isinstance(conv.padding, tuple) else conv.padding
    if padding == 0:
        return folded
    if conv.padding_mode != "zeros" or len(set(conv.padding)) != 1:
        raise ValueError("only a symmetric zero padding can be folded exactly")
    return MeanPadded(PadWith(padding, mean), folded)


def _fold_linear(linear: nn.Linear, mean: float, std: float) -> nn.Linear:
    folded = nn.Linear(linear.in_features, linear.out_features, bias=True)
    with torch.no_grad():
        folded.weight.copy_(linear.weight / std)
        bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
        folded.bias.copy_(bias - mean / std * linear.weight.sum(dim=1))
    return folded


def fold_input_normalisation(model: nn.Module, first_layer: str, mean: float, std: float) -> nn.Module:
    """A copy of ``model`` that takes raw inputs: its layer ``first_layer`` (the one that reads the input,
    e.g. ``"conv1"`` of the CNN, ``"fc1"`` of the MLP) absorbs ``(x - mean) / std``."""
    model = copy.deepcopy(model).eval()
    layer = getattr(model, first_layer)
    if isinstance(layer, nn.Conv2d):
        setattr(model, first_layer, _fold_conv(layer, mean, std))
    elif isinstance(layer, nn.Linear):
        setattr(model, first_layer, _fold_linear(layer, mean, std))
    else:
        raise TypeError(f"{first_layer} is a {type(layer).__name__}; only Conv2d and Linear layers fold")
    return model
