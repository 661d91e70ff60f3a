"""Captum's attribution methods beside the CAMs: Integrated Gradients, Occlusion and Input x Gradient.

Each runs on the model as the faithfulness metrics see it (common.explanations.faithfulness.explainable): an image
model on raw images ``[N, 1, H, W]``, a model on events on clips ``[N, T * C, H, W]`` whose score is the class's
spike count (population groups summed) or logit. A spiking model's gradients flow through its surrogate, bin by bin,
so a clip's attribution is per time bin: ``[N, T, H, W]`` (polarities summed). Occlusion slides a patch over the
frame in every bin at once (a per-bin window would cost T times the forward passes), so its map is one per clip.

Heat is the positive part (evidence for the explained class), each map scaled by its largest value so that zero
stays zero. Baselines are zero: no ink, no event.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

CAPTUM_METHODS = ("IntegratedGradients", "Occlusion", "InputXGradient")
IG_STEPS = 16          # Riemann steps of Integrated Gradients (Captum's default 50 costs 3x for the same ranking here)
OCCLUSION_PATCH = 4    # px, a patch about a stroke's width
OCCLUSION_STRIDE = 3   # px: 121 patch positions on a 34 x 34 frame (stride 2: 256, twice the time)


def to_heat(attribution: torch.Tensor, n_time_bins: int | None) -> np.ndarray:
    """Signed attributions ``[N, (T *) C, H, W]`` -> heat ``[N, (T,) H, W]``: channels (polarities) summed, the
    positive part, each map divided by its largest value."""
    a = attribution.detach().float()
    a = a.sum(1) if n_time_bins is None else a.unflatten(1, (n_time_bins, -1)).sum(2)
    heat = a.clamp(min=0).numpy()
    top = heat.reshape(len(heat), -1).max(1)
    return (heat / np.where(top > 0, top, 1).reshape(-1, *[1] * (heat.ndim - 1))).astype(np.float32)


@contextmanager
def all_bins_at_once(model: nn.Module):
    """A spiking CNN runs every bin in one convolution call while inside (its ``time_chunk`` "auto" would measure
    a layout again for every new batch shape Captum makes)."""
    chunk = getattr(model, "time_chunk", None)
    if chunk is not None:
        model.time_chunk = None
    try:
        yield
    finally:
        if chunk is not None:
            model.time_chunk = chunk


def captum_maps(model: nn.Module, inputs: torch.Tensor, classes: list[int], method: str,
                n_time_bins: int | None = None, samples_per_call: int = 10) -> np.ndarray:
    """Heat maps of Captum's ``method`` (:data:`CAPTUM_METHODS`) for ``classes``: images -> ``[N, H, W]``; clips ->
    ``[N, T, H, W]`` (Occlusion: ``[N, H, W]``, one per clip)."""
    from captum import attr

    from common.explanations.faithfulness import explainable

    if method not in CAPTUM_METHODS:
        raise ValueError(f"unknown Captum method {method!r}; choose one of {CAPTUM_METHODS}")
    out = []
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _), all_bins_at_once(model):
        explainer = getattr(attr, method)(scorer)
        for start in range(0, len(inputs), samples_per_call):
            x = inputs[start:start + samples_per_call].float().clone().requires_grad_(method != "Occlusion")
            target = [int(c) for c in classes[start:start + samples_per_call]]
            if method == "IntegratedGradients":
                a = explainer.attribute(x, baselines=0.0, target=target, n_steps=IG_STEPS,
                                        internal_batch_size=len(x) * 4)
            elif method == "InputXGradient":
                a = explainer.attribute(x, target=target)
            else:
                channels = x.shape[1]
                with torch.no_grad():
                    a = explainer.attribute(x, target=target, baselines=0.0,
                                            sliding_window_shapes=(channels, OCCLUSION_PATCH, OCCLUSION_PATCH),
                                            strides=(channels, OCCLUSION_STRIDE, OCCLUSION_STRIDE),
                                            perturbations_per_eval=64)
                a = a.mean(1, keepdim=True)      # the same value in every channel: one map per clip
            out.append(to_heat(a, None if method == "Occlusion" else n_time_bins))
    return np.concatenate(out)
