"""A first-order energy estimate per inference: operations counted, times energy per operation.

A conventional network multiplies and accumulates (MAC) every weight with every input value. A
spiking network, on hardware that skips silence, only accumulates (AC) a weight when an input
spike arrives: its synaptic operations are (spikes into a layer) x (fan-out of each spike), plus
one multiply-add per neuron per time step for the membrane leak.

Energies per operation: 32-bit floating point in a 45 nm process, M. Horowitz, "Computing's
energy problem (and what we can do about it)", ISSCC 2014: add 0.9 pJ, multiply 3.7 pJ, so a
MAC is 4.6 pJ and an AC 0.9 pJ. These are the figures most SNN papers cite.

What such an estimate leaves out, and why it is only a first order: memory traffic (fetching
weights and membrane state usually costs more than the arithmetic), control and routing of
spikes, the GPU/CPU the models actually run on here (which does not skip zeros at all), and
lower-precision arithmetic that real accelerators use. Treat ratios as indicative, not measured.
"""
from __future__ import annotations

import torch
from torch import nn

ENERGY_PJ = {"mac": 4.6, "ac": 0.9}   # Horowitz 2014, 45 nm, 32-bit float
SOURCE = "M. Horowitz, Computing's energy problem (and what we can do about it), ISSCC 2014 (45 nm, fp32)"


def fan_out(layer: nn.Module) -> int:
    """Output values one input value reaches: a conv's out_channels x kernel area (stride 1,
    borders ignored), a linear layer's out_features."""
    if isinstance(layer, nn.Conv2d):
        return layer.out_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
    return layer.out_features


@torch.no_grad()
def operation_counts(model: nn.Module, inputs: torch.Tensor, spiking: bool, n_samples: int) -> dict:
    """Operations per sample for one forward pass over ``inputs`` holding ``n_samples`` samples.

    ``spiking=False``: MACs of every conv and linear layer (dense arithmetic).
    ``spiking=True``: accumulates = sum of input spike counts x fan-out for every conv and linear
    layer (the input events count as spikes into the first layer), plus one MAC per spiking neuron
    per time step for the leak (the model reports ``neurons_per_sample``). Weights applied outside
    ``nn.Conv2d`` / ``nn.Linear`` (the LIF/ALIF network's recurrent matrix) are not counted.
    """
    counts = {"mac": 0.0, "ac": 0.0}

    def hook(layer, args, output):
        (x,) = args
        if spiking:
            counts["ac"] += float(x.sum()) * fan_out(layer)
        elif isinstance(layer, nn.Conv2d):
            counts["mac"] += output.numel() * (layer.in_channels // layer.groups) * \
                layer.kernel_size[0] * layer.kernel_size[1]
        else:
            counts["mac"] += output.numel() * layer.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        model.eval()
        output = model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if spiking:
        # one leak multiply-add per spiking neuron per time step
        neurons = getattr(model, "neurons_per_sample", None)
        if neurons is None:
            raise ValueError(f"{type(model).__name__} does not report neurons_per_sample")
        counts["mac"] += neurons * inputs.shape[0] * n_samples   # inputs [T, B, ...]
    return {k: v / n_samples for k, v in counts.items()}


def energy_per_inference(counts: dict) -> dict:
    """Energy in nanojoules from :func:`operation_counts`."""
    mac_nj = counts["mac"] * ENERGY_PJ["mac"] / 1000
    ac_nj = counts["ac"] * ENERGY_PJ["ac"] / 1000
    return {"mac_nJ": mac_nj, "ac_nJ": ac_nj, "total_nJ": mac_nj + ac_nj}
