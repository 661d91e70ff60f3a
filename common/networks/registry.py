"""Every network of the study, registered by name so a checkpoint can rebuild it.

The one model interface: ``forward`` takes one batch and returns what the objective needs:
an ANN returns logits ``[B, C]``; a spiking network returns output spikes over time ``[T, B, C]``
(input ``[T, B, ...]``) and resets its own state at the start of every forward call.
``gradcam_layer`` names the layer whose activations Grad-CAM explains.
"""
from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

MODELS: dict[str, Callable[..., nn.Module]] = {}
# Where each registered network is defined, so a checkpoint rebuilds it whatever has been imported.
HOMES = {"cnn": "common.networks.cnn", "cnn_events": "common.networks.cnn", "scnn": "common.networks.snn", "scnn_wide": "common.networks.snn",
         "slstm": "common.networks.slstm", "rsnn": "common.networks.lif_alif", "mlp": "common.networks.lif_alif"}


def register(name: str):
    def add(cls):
        MODELS[name] = cls
        return cls
    return add


def model_class(name: str) -> Callable[..., nn.Module]:
    """The network registered as ``name``, importing the module that defines it if need be."""
    if name not in MODELS and name in HOMES:
        importlib.import_module(HOMES[name])
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; the study's models: {sorted(HOMES)}")
    return MODELS[name]


def build_model(name: str, **kwargs) -> nn.Module:
    return model_class(name)(**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
