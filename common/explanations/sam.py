"""SAM, the spike activation map (Kim & Panda, "Visual explanations from spiking neural networks using inter-spike
intervals", Scientific Reports 11, 19037, 2021): where a spiking layer is active at each time bin, from its spike
timings alone, with no gradient.

Per neuron k of the layer, the neuronal contribution score at bin t sums its spikes so far, each decayed by how long
ago it came: ``NCS_k(t) = sum over spikes of k at t' <= t of exp(-gamma (t - t'))``. The map at t sums, over the
layer's channels, each neuron's NCS where it spikes at t: ``M(t) = sum_k NCS_k(t) s_k(t)``. A neuron firing in a
burst (short inter-spike intervals) counts more than one firing once.

As the authors' code (Intelligent-Computing-Lab-Yale/Visual-Explanations-from-Spiking-Neural-Networks-using-
Interspike-Intervals, main.py) computes it, with three differences, stated:
- their loop adds ``exp(-gamma t)`` for every earlier bin in which the neuron did *not* spike (``delta_t = time -
  spike * prev_t`` is ``time`` there), a term that depends on the bin's absolute time, not on a spike; it is left
  out here (tests/test_sam.py checks that the two agree once it is removed);
- they min-max scale every bin's map on its own; here one scale per clip (the clip's largest value), so a quiet bin
  stays quiet;
- they stretch the layer's grid over the image; here each cell sits at the centre of its input window
  (common.explanations.gradcam.to_input), as every CAM of the study.
``GAMMA`` = 0.5 is their script's default.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

GAMMA = 0.5


def spike_activation_map(spikes, gamma: float = GAMMA) -> np.ndarray:
    """Spikes ``[..., T, K, h, w]`` (0/1; the layer's K channels) -> SAM ``[..., T, h, w]`` on the layer's grid."""
    s = np.asarray(spikes, dtype=np.float64)
    if s.ndim < 4:
        raise ValueError(f"expected spikes [..., T, K, h, w], got shape {s.shape}")
    decay, ncs = np.exp(-gamma), np.zeros_like(s[..., 0, :, :, :])
    maps = []
    for t in range(s.shape[-4]):
        ncs = ncs * decay + s[..., t, :, :, :]                 # NCS_k(t), the spike at t itself counting 1
        maps.append((ncs * s[..., t, :, :, :]).sum(-3))
    return np.stack(maps, axis=-3).astype(np.float32)


def layer_spikes(model: nn.Module, clips: torch.Tensor, layer: int = 1) -> np.ndarray:
    """The spikes of the model's spiking layer ``layer`` (its ``traces``) for clips ``[N, T, C, H, W]``:
    ``[N, T, K, h, w]``."""
    seen = []
    observer = lambda spikes, membrane=None: seen.append(spikes.detach().float().cpu())
    trace = model.traces[layer]
    trace.observers.append(observer)
    try:
        with torch.no_grad():
            model(clips.transpose(0, 1))
    finally:
        trace.observers.remove(observer)
    if not seen or seen[0].dim() != 5:
        raise ValueError(f"layer {layer} of {type(model).__name__} has no spatial spikes [T, B, K, h, w]")
    return torch.cat(seen, 1).transpose(0, 1).numpy()


def sam_stages(model: nn.Module) -> list:
    """Input -> the spikes SAM reads (``traces[1]``): the CAM layer's stages, then the 2 x 2 max pooling both spiking
    models apply before those neurons fire."""
    return [*model.cam_stages, (2, 2, 0)]


def sam_maps(model: nn.Module, inputs: torch.Tensor, n_time_bins: int, gamma: float = GAMMA,
             samples_per_call: int = 10) -> np.ndarray:
    """SAM of the second spiking layer for clips as the metrics take them ``[N, T * C, H, W]``: ``[N, T, H, W]`` on
    the input (:func:`common.explanations.gradcam.to_input`), each clip scaled by its largest value."""
    from common.explanations.gradcam import to_input

    out = []
    for start in range(0, len(inputs), samples_per_call):
        batch = inputs[start:start + samples_per_call]
        clips = batch.unflatten(1, (n_time_bins, -1))
        on_grid = spike_activation_map(layer_spikes(model, clips), gamma)
        out.append(to_input(on_grid, sam_stages(model), tuple(batch.shape[-2:])))
    maps = np.concatenate(out)
    top = maps.reshape(len(maps), -1).max(1)
    return (maps / np.where(top > 0, top, 1)[:, None, None, None]).astype(np.float32)
