"""How faithful each CAM method's maps are, measured with pytorch-grad-cam's own metric classes.

What is measured, on a fixed stratified test sample (the same recordings for every N-MNIST model):
- ROAD, "Remove And Debias" (Rong et al., ICML 2022), labelled by the share of pixels **removed** (in %):
  removing r% is the library's ``ROADMostRelevantFirst(100 - r)`` / ``ROADLeastRelevantFirst(100 - r)``, because the
  library's ``percentile`` p is the threshold below which pixels are *kept*: ``RemoveMostRelevantFirst(p)`` imputes
  every pixel at or above the map's p-th percentile (the 100 - p% most relevant) and ``RemoveLeastRelevantFirst(p)``
  the 100 - p% least relevant (pytorch_grad_cam/metrics/perturbation_confidence.py; :func:`road` does the conversion,
  tests/test_faithfulness.py checks it against the library's masks). The library also imputes every pixel *tied* at
  the threshold, so a map that is more than 100 - r% zeros would lose whole frames under LeRF (and a flat-topped map
  more than r% under MoRF): the maps enter ROAD as their pixels' ranks with ties broken at random (:func:`ranks`, the
  map's own order wherever its values differ), so the share imputed is the share asked; :func:`score_maps` records the
  share the library's mask actually imputed (``removed_share``). ROAD combined, ``(LeRF - MoRF) / 2`` averaged over
  the shares, is ``ROADCombined``'s definition (over the same set of percentiles, checked against the library's class
  on maps without ties), computed here from the same imputations instead of repeating them.
- ``CamMultImageConfidenceChange``: the input multiplied by the map.
Every metric reports the change of the model's score from the unperturbed input (the library's ``return_diff``).

The score is the model's **decision** (:class:`DecisionKept`: 1 while the explained class still wins outright,
0 once it does not, a tie included): a spike count and a logit are on different scales, a decision is not, so
a spiking and a conventional network compare on one scale (ROAD's paper reads its curves as accuracy, the same
quantity). MoRF: lower is more faithful (removing what the map calls relevant changes the decision); LeRF:
closer to 0 is more faithful; ROAD combined: higher is more faithful.

Spiking models are scored on the clip as the model sees it: one 2-D map per clip, applied to every time bin and
both polarities (the clip enters the metrics as ``[B, T * C, H, W]``, so the imputer fills each bin's frame
under the same mask). The map is the whole-clip one: the CAM layer's activations and gradients pooled over time
(:class:`TimePooled`, Grad-CAM's ``aggregated`` map of common.explanations.gradcam), so every method sees one
activation map per channel and clip. :func:`per_bin_against_whole_clip` scores the per-bin maps (each bin masked by
its own map) against that whole-clip map on the same recordings.

Baselines, scored the same way: ``random`` (uniform noise, one map per sample) and ``centre blob`` (a Gaussian at
the frame's centre), so a score can be read against a map that knows nothing.
"""
from __future__ import annotations

import warnings

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from common.explanations.gradcam import scale_each, to_input
from common.networks.registry import AnswersEveryPrefix, PopulationCoded
from common.runs.specs import CAM_METHODS

METHODS = tuple(CAM_METHODS)
BASELINES = ("random", "centre blob")
METRICS = ("road_morf", "road_lerf", "road_combined", "cam_mult_confidence_change")
# which way is more faithful, for the table and the findings
BETTER = {"road_morf": "lower", "road_lerf": "higher", "road_combined": "higher", "cam_mult_confidence_change": "higher"}



def is_spiking(model: nn.Module) -> bool:
    return isinstance(model, PopulationCoded)


# ---------------------------------------------------------------- the model as the library sees it

class ClipScores(nn.Module):
    """A time-first model ``[T, B, C, H, W]`` presented as an image model: input ``[B, T * C, H, W]`` (time bins
    as channels, so the metrics' 2-D mask reaches every bin), output class scores ``[B, n_classes]``: spikes
    per class (population groups summed) for a spiking model, the whole clip's logits for a CNN on events."""

    def __init__(self, model: nn.Module, n_time_bins: int, in_channels: int = 2):
        super().__init__()
        self.model, self.n_time_bins, self.in_channels = model, n_time_bins, in_channels
        if isinstance(model, AnswersEveryPrefix):
            model.answer_every_prefix = False          # one answer per clip, from all of it
        self.view = None                               # a TimePooled layer, told the batch's layout

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T * C, H, W]`` -> ``[T, B, C, H, W]``."""
        return x.unflatten(1, (self.n_time_bins, self.in_channels)).transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from common.networks.objectives import class_spike_counts

        if self.view is not None:
            self.view.n_time_bins = self.n_time_bins
        out = self.model(self.clip(x))
        if is_spiking(self.model):
            return class_spike_counts(out, self.model.n_classes, self.model.population_size)
        return out[-1]


class TimePooled(nn.Module):
    """Wraps a spiking model's CAM layer, which runs on all bins at once (``[T * B, K, h, w]``), so that the
    library hooks ``target`` with one activation map per channel and clip: ``target`` sees ``[B, K, T, h, w]``
    (the reshape transform :func:`time_mean` pools it), and what leaves ``target`` drives the rest of the network,
    so AblationCAM's layer swap silences a channel in every bin."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer, self.target, self.n_time_bins = layer, nn.Identity(), None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer(x)
        by_bin = y.unflatten(0, (self.n_time_bins, -1)).permute(1, 2, 0, 3, 4)     # [B, K, T, h, w]
        return self.target(by_bin).permute(2, 0, 1, 3, 4).flatten(0, 1)


def time_mean(activations: torch.Tensor) -> torch.Tensor:
    """``[B, K, T, h, w]`` -> ``[B, K, h, w]``; gradients alike (pytorch-grad-cam applies it to both)."""
    return activations.mean(2) if activations.dim() == 5 else activations


def _ablation_over_time():
    from pytorch_grad_cam.ablation_layer import AblationLayer

    class AblationOverTime(AblationLayer):
        """The library's AblationLayer for ``[B, K, T, h, w]``: a channel is ablated in every time bin."""

        def set_next_batch(self, input_batch_index, activations, num_channels_to_ablate):
            one = activations[input_batch_index].clone().unsqueeze(0)
            self.activations = one.repeat(num_channels_to_ablate, *[1] * (one.dim() - 1))

    return AblationOverTime()


def _parent_and_name(model: nn.Module, layer: nn.Module) -> tuple[nn.Module, str]:
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            if child is layer:
                return module, child_name
    raise ValueError(f"{type(layer).__name__} is not a layer of {type(model).__name__}")


@contextmanager
def explainable(model: nn.Module, n_time_bins: int | None, for_cam: bool = True):
    """``(scorer, target_layer, reshape_transform)`` for the library: the model itself for an image CNN; for a
    time-first model :class:`ClipScores`, and for a spiking one its CAM layer wrapped in :class:`TimePooled`
    (put back on exit). A spiking model runs every bin in one convolution call (its hooks need that)."""
    if n_time_bins is None:
        yield model, model.gradcam_layer, None
        return
    scorer = ClipScores(model, n_time_bins, getattr(model, "in_channels", 2))
    if not is_spiking(model) or not for_cam:           # scoring only: the model runs as it always does
        yield scorer, model.gradcam_layer, None
        return
    layer, chunk = model.gradcam_layer, getattr(model, "time_chunk", None)
    parent, name = _parent_and_name(model, layer)
    view = TimePooled(layer)
    setattr(parent, name, view)
    scorer.view, model.time_chunk = view, None
    try:
        yield scorer, view.target, time_mean
    finally:
        setattr(parent, name, layer)
        model.time_chunk = chunk


# ---------------------------------------------------------------- maps

def cam_maps(model: nn.Module, inputs: torch.Tensor, classes: list[int], method: str,
             n_time_bins: int | None = None, samples_per_call: int = 20, return_grid: bool = False):
    """Maps ``[N, H, W]`` in [0, 1] of ``method`` (a pytorch-grad-cam class name) for ``classes``, on the CAM layer's
    grid as the library computes them, then placed on the input through the model's geometry (``to_input``).
    ``inputs``: images ``[N, C, H, W]``, or clips as the metrics take them ``[N, T * C, H, W]``; ``samples_per_call``
    bounds the memory of one CAM call (inference only, no training knob). ``return_grid``: also the maps on the
    layer's grid ``[N, h, w]``, as the library computed them (ReLU'd)."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    maps, grids, stages = [], [], model.cam_stages          # read before the CAM layer is wrapped
    with explainable(model, n_time_bins) as (scorer, layer, reshape):
        kwargs = {"reshape_transform": reshape}
        if method == "AblationCAM" and reshape is not None:
            kwargs["ablation_layer"] = _ablation_over_time()
        for start in range(0, len(inputs), samples_per_call):
            batch, targets = inputs[start:start + samples_per_call], classes[start:start + samples_per_call]
            with getattr(pytorch_grad_cam, method)(model=scorer, target_layers=[layer], **kwargs) as cam:
                on_grid = []
                compute = cam.get_cam_image
                cam.get_cam_image = lambda *a, **k: on_grid.append(compute(*a, **k)) or on_grid[-1]
                cam(input_tensor=batch, targets=[ClassifierOutputTarget(int(c)) for c in targets])
            # AblationCAM divides by the unperturbed score: a silent spiking output (0 spikes) gives NaN, no map
            grids.append(np.maximum(np.nan_to_num(on_grid[0], nan=0.0), 0))
            maps.append(to_input(grids[-1], stages, batch.shape[-2:]))
    placed = scale_each(np.concatenate(maps))
    return (placed, np.concatenate(grids)) if return_grid else placed


def baseline_maps(name: str, n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``random``: uniform noise, one map per sample (seeded); ``centre blob``: a Gaussian of sigma a quarter of the
    frame at its centre, the same for every sample."""
    if name == "random":
        return np.random.default_rng(seed).random((n, *size)).astype(np.float32)
    if name == "centre blob":
        rows, cols = (np.arange(s) - (s - 1) / 2 for s in size)
        blob = np.exp(-(rows[:, None] ** 2 / (2 * (size[0] / 4) ** 2) + cols[None, :] ** 2 / (2 * (size[1] / 4) ** 2)))
        return np.repeat(scale_each(blob[None].astype(np.float32)), n, axis=0)
    raise ValueError(f"unknown baseline {name!r}; choose one of {BASELINES}")


# ---------------------------------------------------------------- scores

class DecisionKept:
    """A pytorch-grad-cam target: 1.0 while ``category`` has the largest score outright (the model's decision),
    else 0.0 (a tie is no decision, as the study's objectives read it)."""

    def __init__(self, category: int):
        self.category = int(category)

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        output = output.reshape(-1)
        others = torch.cat([output[:self.category], output[self.category + 1:]])
        return (output[self.category] > others.max()).float()


def decisions(scorer: nn.Module, inputs: torch.Tensor, samples_per_call: int = 50) -> torch.Tensor:
    """The class each sample is explained for: the largest class score (a tie: the first of them)."""
    with torch.no_grad():
        return torch.cat([scorer(inputs[i:i + samples_per_call]).argmax(-1)
                          for i in range(0, len(inputs), samples_per_call)])


class CountingImputer:
    """Wraps a ROAD perturbation's imputer and records, per call, the share of the mask's pixels it imputed (the
    library imputes where the mask is 0), so the share removed is read from the library's own mask. Every ROAD call
    of the project goes through it, so it is also where the library's NumPy 2 deprecation is kept quiet."""

    def __init__(self, imputer):
        self.imputer, self.shares = imputer, []

    def __call__(self, img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.shares.append(float((mask == 0).float().mean()))
        # The library's imputer calls np.argwhere on a torch tensor, which NumPy 2 flags as deprecated once per
        # call (296 warnings in the tests); it is the library's and harmless until NumPy removes the old form.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="__array_wrap__ must accept context", category=DeprecationWarning)
            return self.imputer(img, mask)


def road(side: str, removed: float):
    """The library's ROAD metric that removes ``removed``% of a map's pixels, most (``"morf"``) or least (``"lerf"``)
    relevant first: ``ROADMostRelevantFirst(100 - removed)`` / ``ROADLeastRelevantFirst(100 - removed)`` (the library's
    ``percentile`` is the share kept), its imputer wrapped in :class:`CountingImputer` (``metric.perturbation.imputer``)."""
    from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirst, ROADMostRelevantFirst

    if not 0 <= removed <= 100:
        raise ValueError(f"removed is a share of pixels in %, got {removed}")
    metric = {"morf": ROADMostRelevantFirst, "lerf": ROADLeastRelevantFirst}[side](100 - removed)
    metric.perturbation.imputer = CountingImputer(metric.perturbation.imputer)
    return metric


def score_maps(model: nn.Module, inputs: torch.Tensor, maps: np.ndarray, classes: list[int],
               n_time_bins: int | None = None, removed=(20, 50, 80), seed: int = 0, break_ties: bool = True) -> dict:
    """Per sample, through the library's metric classes: ``morf`` and ``lerf`` ``[R, N]`` (one row per share removed,
    ``removed`` in %), ``road_combined``, ``cam_mult_confidence_change`` ``[N]``; all are changes of
    :class:`DecisionKept` from the unperturbed input (computed once; the library's ``return_diff`` would repeat that
    forward pass in every call). ``removed_share``: ``{"morf", "lerf": [R, N]}``, the share of each map's pixels the
    library's mask imputed. With ``break_ties`` ROAD reads the maps' :func:`ranks`, so that share is the asked one; the
    multiplication reads the maps themselves."""
    from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange

    targets = [DecisionKept(c) for c in classes]
    order = ranks(maps, seed) if break_ties else maps
    torch.manual_seed(seed)                              # the imputer's noise
    out = {"removed_share": {}}
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _):
        with torch.no_grad():
            before = np.float32([t(o).cpu().numpy() for t, o in zip(targets, scorer(inputs))])
        for side in ("morf", "lerf"):
            rows, shares = [], []
            for r in removed:
                metric = road(side, r)
                rows.append(metric(inputs, order, targets, scorer, return_diff=False) - before)
                shares.append(metric.perturbation.imputer.shares)
            out[side], out["removed_share"][side] = np.stack(rows), np.asarray(shares, dtype=np.float32)
        mult = CamMultImageConfidenceChange()(inputs, maps, targets, scorer, return_diff=False) - before
    return {**out, "road_combined": ((out["lerf"] - out["morf"]) / 2).mean(0), "cam_mult_confidence_change": mult}


# ---------------------------------------------------------------- deletion: removing events in a map's order

DELETED = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)   # shares of the input's events (or ink) removed


def input_mass(inputs: torch.Tensor, n_time_bins: int | None) -> np.ndarray:
    """What deletion removes, per location: an image's ink ``[N, H, W]`` (raw pixel values), a clip's events
    ``[N, T, H, W]`` (both polarities' counts)."""
    x = inputs.detach().float()
    if n_time_bins is None:
        if x.min() < 0:
            raise ValueError("deletion removes ink: give raw images in [0, 1], not standardised ones")
        return x.sum(1).numpy()
    return x.unflatten(1, (n_time_bins, -1)).abs().sum(2).numpy()


def deleted_inputs(inputs: torch.Tensor, maps: np.ndarray, n_time_bins: int | None, share: float,
                   seed: int = 0) -> torch.Tensor:
    """``inputs`` with the smallest set of locations, taken in the maps' order (hottest first, ties in one random
    order, :func:`ranks`), that holds ``share`` of each sample's events (ink) set to zero: every polarity of a
    (bin, pixel) of a clip; a 2-D map ``[N, H, W]`` of a clip ranks a pixel alike in every bin."""
    mass = input_mass(inputs, n_time_bins)                               # [N, (T,) H, W]
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 3 and mass.ndim == 4:
        maps = np.broadcast_to(maps[:, None], mass.shape)
    if maps.shape != mass.shape:
        raise ValueError(f"maps {maps.shape} do not fit the inputs' locations {mass.shape}")
    flat_maps = np.ascontiguousarray(maps).reshape(len(maps), 1, -1)     # ranked over every bin and pixel at once
    order = np.argsort(-ranks(flat_maps, seed).reshape(len(maps), -1), axis=1, kind="stable")
    flat = np.take_along_axis(mass.reshape(len(mass), -1), order, 1)
    before = np.cumsum(flat, 1) - flat                                  # events ahead of each location
    total = flat.sum(1, keepdims=True)
    removed_sorted = (before < share * total - 1e-9) & (flat > 0)
    removed = np.zeros_like(removed_sorted)
    np.put_along_axis(removed, order, removed_sorted, 1)
    keep = torch.from_numpy(~removed.reshape(mass.shape))
    if n_time_bins is None:
        return inputs * keep[:, None]
    return (inputs.unflatten(1, (n_time_bins, -1)) * keep[:, :, None]).flatten(1, 2)


def deletion_curves(model: nn.Module, inputs: torch.Tensor, maps: np.ndarray, classes: list[int],
                    n_time_bins: int | None = None, shares=DELETED, seed: int = 0,
                    samples_per_call: int = 50) -> np.ndarray:
    """``[len(shares), N]``: whether the explained class still wins outright (:class:`DecisionKept`) after
    :func:`deleted_inputs` removed each share of the events in the maps' order."""
    targets = [DecisionKept(c) for c in classes]
    rows = []
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _), torch.no_grad():
        for share in shares:
            x = deleted_inputs(inputs, maps, n_time_bins, share, seed)
            out = torch.cat([scorer(x[i:i + samples_per_call]) for i in range(0, len(x), samples_per_call)])
            rows.append([float(t(o)) for t, o in zip(targets, out)])
    return np.asarray(rows, dtype=np.float32)


def deletion_area(curves: np.ndarray, shares=DELETED) -> np.ndarray:
    """Area under each sample's deletion curve ``[N]`` over the share removed (trapezoid, shares from 0 to 1): small
    when the decision goes as soon as the map's hottest events go."""
    return np.trapezoid(np.asarray(curves, dtype=np.float64), np.asarray(shares, dtype=np.float64), axis=0)


# ---------------------------------------------------------------- per-bin maps against the whole-clip map

class EachBin:
    """One of the library's perturbations applied bin by bin: a clip ``[T * C, H, W]`` and maps ``[T, H, W]`` (bin t's
    C frames under map t) or ``[H, W]`` (the same map for every bin), so both kinds of map go through one code path."""

    def __init__(self, perturbation, n_time_bins: int):
        self.perturbation, self.n_time_bins = perturbation, n_time_bins

    def __call__(self, clip: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        frames, maps = clip.unflatten(0, (self.n_time_bins, -1)), torch.as_tensor(maps)   # [T, C, H, W]
        maps = maps.expand(self.n_time_bins, *maps.shape[-2:]) if maps.dim() == 2 else maps
        return torch.cat([self.perturbation(frame, m) for frame, m in zip(frames, maps)])


def ranks(maps: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each map ``[..., H, W]`` as its pixels' ranks in [0, 1], ties in one random order of the pixels (seeded, the same
    for every map, so equal maps rank alike): the map's order where its values differ, so a percentile of it splits
    the map at exactly that share."""
    flat = maps.reshape(*maps.shape[:-2], -1)
    tie_break = np.broadcast_to(np.random.default_rng(seed).random(flat.shape[-1]), flat.shape)
    order = np.lexsort((tie_break, flat), axis=-1)
    ranked = np.empty(flat.shape, dtype=np.float32)
    np.put_along_axis(ranked, order, np.arange(flat.shape[-1], dtype=np.float32) / max(flat.shape[-1] - 1, 1), axis=-1)
    return ranked.reshape(maps.shape)


def per_bin_scores(model: nn.Module, inputs: torch.Tensor, classes: list[int], n_time_bins: int,
                   percentile: int = 50, seed: int = 0, break_ties: bool = True) -> dict:
    """Per recording of a spiking model, Grad-CAM's per-bin maps and its whole-clip map (both of
    common.explanations.gradcam.grad_cam_over_time, each map min-max scaled) scored by the library's metrics, every
    bin perturbed under its own map or under the one whole-clip map: ``{"per_bin"|"whole_clip": {"road_morf",
    "cam_mult_confidence_change": [N]}, "removed_share": {...: [N]}}``. ``road_morf`` is ``RemoveMostRelevantFirst``
    at the library's ``percentile``: pixels at or above a map's ``percentile``-th value are imputed, the 100 - p% most
    relevant. A map that ties there (a dark bin, the zeros of a whole-clip map) would lose every tied pixel (the quick
    spiking CNN, beta 0.8, on 30 recordings at p = 80: 49% of each frame under the whole-clip map, 30% under the
    per-bin maps, where 20% was asked for); with ``break_ties`` ROAD reads each map's order with ties broken at random
    (:func:`ranks`), so both kinds remove the same share (``removed_share``)."""
    from pytorch_grad_cam.metrics.cam_mult_image import multiply_tensor_with_cam
    from pytorch_grad_cam.metrics.perturbation_confidence import PerturbationConfidenceMetric, RemoveMostRelevantFirst
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    from common.explanations.gradcam import grad_cam_over_time

    if not is_spiking(model):
        raise ValueError("per-bin maps are those of a spiking model (grad_cam_over_time)")
    per_bin, whole_clip = [], []
    for clip, c in zip(inputs, classes):
        bins, whole = grad_cam_over_time(model, clip.unflatten(0, (n_time_bins, -1)), int(c), per_bin_scale="bin")
        per_bin.append(bins)
        whole_clip.append(scale_each(whole[None])[0])
    maps = {"per_bin": np.stack(per_bin), "whole_clip": np.stack(whole_clip)}   # [N, T, H, W], [N, H, W]
    targets = [DecisionKept(c) for c in classes]
    morf = PerturbationConfidenceMetric(EachBin(RemoveMostRelevantFirst(percentile, CountingImputer(NoisyLinearImputer())), n_time_bins))
    mult = PerturbationConfidenceMetric(EachBin(multiply_tensor_with_cam, n_time_bins))
    out = {"removed_share": {}}
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _):
        for kind, m in maps.items():
            torch.manual_seed(seed)                      # the same imputer noise for both kinds of map
            order = ranks(m, seed) if break_ties else m
            out[kind] = {"road_morf": morf(inputs, order, targets, scorer),
                         "cam_mult_confidence_change": mult(inputs, m, targets, scorer)}
            flat = order.reshape(len(m), -1, m.shape[-2] * m.shape[-1])            # [N, bins, HW]
            out["removed_share"][kind] = (flat >= np.percentile(flat, percentile, axis=-1, keepdims=True)).mean((1, 2))
    return out


def paired_per_bin(scores: dict) -> list[dict]:
    """Per metric of :func:`per_bin_scores`' output: both means, the paired difference (per-bin minus whole-clip) over
    recordings with its 95% t-interval, the Wilcoxon signed-rank p (scipy; 1 when every difference is 0) and, for
    ROAD, the mean share of pixels imputed under each kind of map."""
    from scipy.stats import wilcoxon

    rows = []
    for metric in scores["per_bin"]:
        a, b = (np.asarray(scores[kind][metric], dtype=float) for kind in ("per_bin", "whole_clip"))
        difference = a - b
        p = 1.0 if np.allclose(difference, 0) else float(wilcoxon(a, b).pvalue)
        shares = {f"removed_share_{kind}": float(np.mean(v)) for kind, v in scores["removed_share"].items()}
        rows.append({"metric": metric, "better": BETTER[metric], "n": len(a), "per_bin": float(a.mean()),
                     "whole_clip": float(b.mean()),
                     **{f"difference_{k}": v for k, v in interval(difference).items() if k != "n"},
                     "wilcoxon_p": p, **(shares if metric == "road_morf" else {})})
    return rows


def per_bin_against_whole_clip(model: nn.Module, inputs: torch.Tensor, classes: list[int], n_time_bins: int,
                               percentile: int = 50, seed: int = 0, break_ties: bool = True) -> dict:
    """Do a spiking model's per-bin maps explain more of its decision than its whole-clip map, on the same
    recordings? :func:`per_bin_scores`, paired over recordings (:func:`paired_per_bin`):
    ``{"percentile", "break_ties", "rows", "scores"}`` (``pandas.DataFrame(out["rows"])`` is the table)."""
    scores = per_bin_scores(model, inputs, classes, n_time_bins, percentile, seed, break_ties)
    return {"percentile": percentile, "break_ties": break_ties, "rows": paired_per_bin(scores), "scores": scores}



def interval(values) -> dict:
    """Mean and 95% t-interval over samples (common.runs.stats)."""
    from common.runs.stats import t_interval

    summary = t_interval(list(np.asarray(values, dtype=float)))
    return {k: summary[k] for k in ("n", "mean", "low", "high")}
