"""How faithful each CAM method's maps are, measured with pytorch-grad-cam's own metric classes.

What is measured, on a fixed stratified test sample (the same recordings for every N-MNIST model):
- ROAD, "Remove And Debias" (Rong et al., ICML 2022), labelled by the share of pixels **removed** (``REMOVED``, in %):
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

import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.data.datasets import is_images
from common.explanations.gradcam import scale_each, to_input
from common.networks.registry import AnswersEveryPrefix, PopulationCoded
from common.runs.specs import CAM_METHODS, SPECS, profile_settings

METHODS = tuple(CAM_METHODS)
BASELINES = ("random", "centre blob")
METRICS = ("road_morf", "road_lerf", "road_combined", "cam_mult_confidence_change")
# which way is more faithful, for the table and the findings
BETTER = {"road_morf": "lower", "road_lerf": "higher", "road_combined": "higher", "cam_mult_confidence_change": "higher"}

# The runs a profile may explain (the study's N-MNIST models and the MNIST CNN), with their datasets; a run whose
# checkpoint is absent is reported as such. slstm_nmnist_small: the spiking LSTM at the spiking CNN's size on
# N-MNIST's official split (notebook 06).
SPIKING_LSTM_RUN = "slstm_nmnist_small"
MODELS = {run: SPECS[run].dataset for run in profile_settings("faithfulness", "full")["models"]}
REMOVED = tuple(profile_settings("faithfulness", "full")["removed"])   # % of each map's pixels removed
# Methods left out for a model, with the reason (recorded in the results' ``not_evaluated``); none so far: every
# method ran on the spiking LSTM (2 recordings: each method 0.6-4.8 s, ScoreCAM 1.6 s, AblationCAM 0.6 s).
EXCLUDED_METHODS: dict[str, dict[str, str]] = {}


def settings(profile: str, **given) -> dict:
    """The profile's sample size, methods, ROAD shares removed (%) and models (``PROFILE_SETTINGS["faithfulness"]``
    of common/runs/specs.py), with every ``given`` one that is not None."""
    return {**profile_settings("faithfulness", profile), **{k: v for k, v in given.items() if v is not None}}


# The question's pairs: the spiking CNN against each conventional CNN on the same recordings.
PAIRS = (("scnn_nmnist_beta0.8", "cnn_nmnist_summed"), ("scnn_nmnist_beta0.8", "cnn_nmnist_time_bins"))
QUESTION_METRIC = "road_combined"
SPIKING_LSTM = f"not among this profile's models (faithfulness.MODELS has it: {SPIKING_LSTM_RUN})"


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
             n_time_bins: int | None = None, samples_per_call: int = 20) -> np.ndarray:
    """Maps ``[N, H, W]`` in [0, 1] of ``method`` (a pytorch-grad-cam class name) for ``classes``, on the CAM layer's
    grid as the library computes them, then placed on the input through the model's geometry (``to_input``).
    ``inputs``: images ``[N, C, H, W]``, or clips as the metrics take them ``[N, T * C, H, W]``; ``samples_per_call``
    bounds the memory of one CAM call (inference only, no training knob)."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    maps, stages = [], model.cam_stages          # read before the CAM layer is wrapped
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
            maps.append(to_input(np.maximum(np.nan_to_num(on_grid[0], nan=0.0), 0), stages, batch.shape[-2:]))
    return scale_each(np.concatenate(maps))


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
    library imputes where the mask is 0), so the share removed is read from the library's own mask."""

    def __init__(self, imputer):
        self.imputer, self.shares = imputer, []

    def __call__(self, img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.shares.append(float((mask == 0).float().mean()))
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
               n_time_bins: int | None = None, removed=REMOVED, seed: int = 0, break_ties: bool = True) -> dict:
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
    morf = PerturbationConfidenceMetric(EachBin(RemoveMostRelevantFirst(percentile, NoisyLinearImputer()), n_time_bins))
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


def per_bin_of_run(run: str, evaluations: dict, profile: str, output_root, percentile: int = 50, seed: int = 0) -> dict:
    """:func:`per_bin_against_whole_clip` for a spiking run of :func:`run_study`'s ``evaluations``: its checkpoint, on
    its sample, for the classes its maps explained."""
    from common.runs.checkpoint import load_model, time_bins

    model, meta = load_model(checkpoint_path(run, profile, output_root), raw_inputs=True)
    evaluation = evaluations[run]
    inputs = evaluations["_samples"][evaluation["sample"]]["inputs"]
    return per_bin_against_whole_clip(model, inputs, evaluation["classes"], time_bins(meta["config"]), percentile, seed)


# ---------------------------------------------------------------- the sample, the models, the table

def stratified_sample(labels, per_class: int) -> list[int]:
    """The first ``per_class`` samples of every class (round-robin, common.data.readers.balanced_subset)."""
    from common.data.readers import balanced_subset

    labels = [int(l) for l in labels]
    return balanced_subset(labels, per_class * len(set(labels)))


def load_sample(dataset: str, per_class: int, data_root, mirror, n_time_bins: int | None = None) -> dict:
    """The test sample of ``dataset``: ``inputs`` as the metrics take them (images ``[N, 1, 28, 28]`` standardised,
    as the library expects them and the study's loaders feed them: ROAD's imputation noise may leave [0, 1]; clips
    ``[N, T * 2, H, W]`` of event counts), ``labels`` and ``indices`` into the test split."""
    from common.data.datasets import describe

    if describe(dataset).kind == "images":
        from common.data.images import load_image_dataset

        test = load_image_dataset(dataset, False, data_root, mirror)
        chosen = stratified_sample(test.labels.tolist(), per_class)
        mean, std = describe(dataset).mean_std
        return {"inputs": (test.images[chosen].float() / 255 - mean) / std, "labels": test.labels[chosen],
                "indices": chosen}
    from common.data.events import event_frames

    frames = event_frames(dataset, False, n_time_bins, data_root, mirror, progress=False)
    chosen = stratified_sample(frames.labels.tolist(), per_class)
    clips = frames.frames[chosen].float()                          # [N, T, C, H, W]
    return {"inputs": clips.flatten(1, 2), "labels": frames.labels[chosen], "indices": chosen}


def checkpoint_path(run: str, profile: str, output_root) -> Path:
    return Path(output_root) / "models" / f"{run}-{profile}.pth"


def evaluate_model(run: str, model: nn.Module, sample: dict, methods, n_time_bins: int | None,
                   removed=REMOVED, seed: int = 0) -> dict:
    """Every method's and baseline's maps and per-sample scores for one model: ``{method: {"maps", "scores"}}``,
    plus ``classes`` (what was explained) and ``accuracy`` on the sample."""
    from tqdm.auto import tqdm

    inputs = sample["inputs"]
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _):
        classes = decisions(scorer, inputs).tolist()
    out = {"classes": classes, "accuracy": float(np.mean(np.asarray(classes) == sample["labels"].numpy())), "methods": {}}
    for method in tqdm([*methods, *BASELINES], desc=run, leave=False):
        maps = (baseline_maps(method, len(inputs), tuple(inputs.shape[-2:]), seed) if method in BASELINES
                else cam_maps(model, inputs, classes, method, n_time_bins))
        out["methods"][method] = {"maps": maps, "scores": score_maps(model, inputs, maps, classes, n_time_bins,
                                                                     removed, seed)}
    return out


def interval(values) -> dict:
    """Mean and 95% t-interval over samples (common.runs.stats)."""
    from common.runs.stats import t_interval

    summary = t_interval(list(np.asarray(values, dtype=float)))
    return {k: summary[k] for k in ("n", "mean", "low", "high")}


def compare_pairs(evaluations: dict, pairs=PAIRS, metric: str = QUESTION_METRIC) -> list[dict]:
    """Spiking against conventional on the same recordings, per method: the paired difference (spiking minus
    conventional) with its t-interval, the Wilcoxon signed-rank test (scipy) and Holm over the whole family
    (every pair x method, common.runs.stats.holm)."""
    from scipy.stats import wilcoxon

    from common.runs.stats import holm, verdict

    lines = []
    for spiking, conventional in pairs:
        if spiking not in evaluations or conventional not in evaluations:
            continue
        for method in evaluations[spiking]["methods"]:
            a = np.asarray(evaluations[spiking]["methods"][method]["scores"][metric], dtype=float)
            b = np.asarray(evaluations[conventional]["methods"][method]["scores"][metric], dtype=float)
            difference = a - b
            p = 1.0 if np.allclose(difference, 0) else float(wilcoxon(a, b).pvalue)
            lines.append({"spiking": spiking, "conventional": conventional, "method": method, "metric": metric,
                          **{f"difference_{k}": v for k, v in interval(difference).items()}, "wilcoxon_p": p})
    for line, adjusted in zip(lines, holm([l["wilcoxon_p"] for l in lines])):
        line["holm_p"], line["verdict"] = adjusted, verdict(adjusted)
    return lines


def summarise(evaluations: dict, samples: dict, profile: str, removed=REMOVED, absent: dict | None = None) -> dict:
    """The results file's content: per model x method x metric the mean with its 95% interval over the sample,
    the ROAD curves with intervals (one point per share removed, ``removed_percent``, each with the mean share the
    library's mask imputed, ``removed_share``), the per-sample ROAD combined scores, the question's tests, and the
    sample."""
    scores, curves, per_sample = [], {}, {}
    for run, evaluation in evaluations.items():
        curves[run], per_sample[run] = {}, {}
        for method, result in evaluation["methods"].items():
            s = result["scores"]
            values = {"road_morf": s["morf"].mean(0), "road_lerf": s["lerf"].mean(0),
                      "road_combined": s["road_combined"], "cam_mult_confidence_change": s["cam_mult_confidence_change"]}
            kind = "baseline" if method in BASELINES else "cam"
            scores += [{"model": run, "method": method, "kind": kind, "metric": m, **interval(v)} for m, v in values.items()]
            shares = s.get("removed_share", {})
            curves[run][method] = {side: [{**interval(row), **({"removed_share": round(float(np.mean(shares[side][k])), 4)}
                                                               if side in shares else {})}
                                          for k, row in enumerate(s[side])] for side in ("morf", "lerf")}
            per_sample[run][method] = [round(float(v), 4) for v in s["road_combined"]]
    evaluated = set(evaluations)
    not_evaluated = {**(absent or {})}
    if SPIKING_LSTM_RUN not in evaluated and SPIKING_LSTM_RUN not in not_evaluated:
        not_evaluated["spiking LSTM"] = SPIKING_LSTM
    for run in evaluated:
        for method, why in EXCLUDED_METHODS.get(run, {}).items():
            not_evaluated[f"{run} {method}"] = why
    return {"profile": profile, "removed_percent": list(removed),
            "road": "removed_percent r: the share of each map's pixels imputed, the library's ROADMostRelevantFirst"
                    "(100 - r) / ROADLeastRelevantFirst(100 - r) (its percentile is the share kept); maps enter ROAD as "
                    "their pixels' ranks with ties broken at random, so r% is what the library's mask imputes (each "
                    "curve point's removed_share, measured from that mask)",
            "metrics": list(METRICS), "better": BETTER,
            "score": "DecisionKept: 1 while the explained class (the model's decision) wins outright; every metric "
                     "is the change from the unperturbed input",
            "spiking_maps": "one whole-clip map (the CAM layer pooled over time), applied to every time bin",
            "sample": samples, "models": {r: {"dataset": MODELS[r], "accuracy_on_sample": e["accuracy"],
                                              "explained_classes": e["classes"]} for r, e in evaluations.items()},
            "not_evaluated": not_evaluated,
            "scores": scores, "curves": curves, "road_combined_per_sample": per_sample,
            "comparison": compare_pairs(evaluations)}


def results_path(profile: str, output_root) -> Path:
    return Path(output_root) / "results" / f"faithfulness-{profile}.json"


def save_results(results: dict, profile: str, output_root) -> Path:
    """Written atomically (common.files.write_json)."""
    from common.files import write_json

    path = results_path(profile, output_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, results)
    return path


def run_study(profile: str, data_root, mirror, output_root, per_class: int, methods=METHODS,
              removed=REMOVED, models=tuple(MODELS), seed: int = 0) -> tuple[dict, dict]:
    """Every model of ``models`` with a checkpoint of ``profile``: sample, maps, scores. Returns the results (also
    written to ``results/faithfulness-<profile>.json``) and the evaluations (maps included, for the figures)."""
    from common.runs.checkpoint import load_model, time_bins

    evaluations, samples, absent, loaded = {}, {}, {}, {}
    for run in models:
        path = checkpoint_path(run, profile, output_root)
        if not path.is_file():
            absent[run] = f"no checkpoint {path.name}: run its notebook in the {profile} profile first"
            continue
        dataset = MODELS[run]
        images = is_images(dataset)
        model, meta = load_model(path, raw_inputs=not images)     # images come standardised (load_sample)
        n_time_bins = None if images else time_bins(meta["config"])
        key = f"{dataset}" + (f"-T{n_time_bins}" if n_time_bins else "")
        if key not in loaded:
            loaded[key] = load_sample(dataset, per_class, data_root, mirror, n_time_bins)
            samples[key] = {"dataset": dataset, "split": "test", "n": len(loaded[key]["labels"]), "per_class": per_class,
                            "time_bins": n_time_bins, "indices": loaded[key]["indices"]}
        torch.manual_seed(seed)
        chosen = [m for m in methods if m not in EXCLUDED_METHODS.get(run, {})]
        evaluations[run] = evaluate_model(run, model, loaded[key], chosen, n_time_bins, removed, seed)
        evaluations[run]["sample"] = key
    results = summarise(evaluations, samples, profile, removed, absent)
    for run, evaluation in evaluations.items():
        results["models"][run]["sample"] = evaluation["sample"]
    save_results(results, profile, output_root)
    return results, {**evaluations, "_samples": loaded}


# ---------------------------------------------------------------- reading it

def table(results: dict, metric: str | None = None):
    """One row per model x method: every metric's mean [95% interval] (or ``metric``'s mean, low, high)."""
    import pandas as pd

    frame = pd.DataFrame(results["scores"])
    if metric:
        return frame[frame["metric"] == metric].set_index(["model", "method"])[["n", "mean", "low", "high"]]
    frame["value"] = [f"{m:+.3f} [{l:+.3f}, {h:+.3f}]" for m, l, h in zip(frame["mean"], frame["low"], frame["high"])]
    return frame.pivot_table(index=["model", "method"], columns="metric", values="value", aggfunc="first",
                             sort=False)[list(METRICS)]


def removed_percent(results: dict) -> list:
    """The share of pixels each ROAD point removed, in %: ``removed_percent``; a file written before it was labelled
    so holds the library's ``percentiles``, which removed 100 - p%."""
    if "removed_percent" in results:
        return list(results["removed_percent"])
    return [100 - p for p in results["percentiles"]]


def plot_road_curves(results: dict):
    """ROAD most- and least-relevant-first against the share removed, one panel per model, one colour per
    method (baselines dashed), with 95% intervals over the sample."""
    import matplotlib.pyplot as plt

    runs = list(results["curves"])
    fig, axes = plt.subplots(2, len(runs), figsize=(2.6 * len(runs), 5.2), sharex=True, sharey=True, squeeze=False)
    removed = removed_percent(results)
    colours = plt.get_cmap("tab10")
    for j, run in enumerate(runs):
        for i, (method, curve) in enumerate(results["curves"][run].items()):
            style = "--" if method in BASELINES else "-"
            for row, side in enumerate(("morf", "lerf")):
                mean = [c["mean"] for c in curve[side]]
                low = [c["low"] if math.isfinite(c["low"]) else c["mean"] for c in curve[side]]
                high = [c["high"] if math.isfinite(c["high"]) else c["mean"] for c in curve[side]]
                ax = axes[row, j]
                ax.plot(removed, mean, style, color=colours(i % 10), lw=1.2, label=method if j == 0 and row == 0 else None)
                ax.fill_between(removed, low, high, color=colours(i % 10), alpha=0.12)
        axes[0, j].set_title(run.replace("_nmnist", "\nnmnist"), fontsize=8)
        axes[1, j].set_xlabel("% of pixels removed")
    axes[0, 0].set_ylabel("MoRF: decision change\n(lower: more faithful)", fontsize=8)
    axes[1, 0].set_ylabel("LeRF: decision change\n(nearer 0: more faithful)", fontsize=8)
    fig.legend(loc="lower center", ncol=min(len(results["curves"][runs[0]]), 10), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def disagreements(evaluation: dict, n: int = 3) -> list[int]:
    """The ``n`` samples whose CAM methods' maps disagree most: lowest mean pairwise correlation of the maps."""
    cams = [r["maps"] for m, r in evaluation["methods"].items() if m not in BASELINES]
    flat = np.stack([c.reshape(len(c), -1) for c in cams])                        # [M, N, HW]
    flat = flat - flat.mean(-1, keepdims=True)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-8)
    pairs = [(i, j) for i in range(len(cams)) for j in range(i + 1, len(cams))]
    agreement = np.mean([(flat[i] * flat[j]).sum(-1) for i, j in pairs], axis=0) if pairs else np.zeros(flat.shape[1])
    return [int(k) for k in np.argsort(agreement)[:n]]


def plot_disagreements(evaluation: dict, sample: dict, picks: list[int], title: str = ""):
    """One row per picked clip: the clip (every bin and polarity summed), then each method's map on it, titled with
    its ROAD combined score for that clip."""
    import matplotlib.pyplot as plt

    from common.explanations.gradcam import overlay

    methods = [m for m in evaluation["methods"] if m not in BASELINES]
    fig, axes = plt.subplots(len(picks), len(methods) + 1, figsize=(1.5 * (len(methods) + 1), 1.7 * len(picks)),
                             squeeze=False)
    for row, k in enumerate(picks):
        picture = sample["inputs"][k].sum(0).numpy()
        axes[row, 0].imshow(picture, cmap="gray")
        axes[row, 0].set_title(f"label {int(sample['labels'][k])}, explained {evaluation['classes'][k]}", fontsize=7)
        for col, method in enumerate(methods, 1):
            result = evaluation["methods"][method]
            axes[row, col].imshow(overlay(picture, result["maps"][k]))
            axes[row, col].set_title(f"{method}\nROAD {result['scores']['road_combined'][k]:+.2f}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _best(results: dict, runs: list[str], metric: str = QUESTION_METRIC) -> tuple[str, float, float, float] | None:
    """The CAM method with the best mean ``metric`` averaged over ``runs`` (and its mean interval bounds)."""
    rows = [s for s in results["scores"] if s["model"] in runs and s["metric"] == metric and s["kind"] == "cam"]
    if not rows:
        return None
    by_method = {}
    for s in rows:
        by_method.setdefault(s["method"], []).append(s)
    sign = 1 if BETTER[metric] == "higher" else -1
    method = max(by_method, key=lambda m: sign * np.mean([s["mean"] for s in by_method[m]]))
    chosen = by_method[method]
    return method, *(float(np.mean([s[k] for s in chosen])) for k in ("mean", "low", "high"))


def findings_lines(results: dict | str | Path) -> list[str]:
    """A few markdown lines for the README's findings, every number from ``results`` (the faithfulness results
    file or its content): the most faithful method for the spiking CNNs, for the conventional models and for the
    spiking LSTM where it was evaluated (ROAD combined, higher is more faithful), the random baseline beside it, and
    the question's answer at the level of its test."""
    if not isinstance(results, dict):
        from common.files import read_json
        results = read_json(results)
    metric, lines = QUESTION_METRIC, []
    runs = {r: m["dataset"] for r, m in results["models"].items()}
    spiking = [r for r in runs if r.startswith("scnn")]
    lstm = [r for r in runs if r.startswith("slstm")]
    conventional = [r for r in runs if r.startswith("cnn")]
    baselines = {s["method"]: s["mean"] for s in results["scores"] if s["metric"] == metric and s["kind"] == "baseline"}
    sizes = ", ".join(f"{v['n']} {v['dataset'].upper()} test samples ({v['per_class']} per class)"
                      for v in results["sample"].values())
    shares = "/".join(f"{r:g}" for r in removed_percent(results))
    ties = "ties broken at random, " if "removed_percent" in results else ""
    lines.append(f"**Faithfulness of the explanations** (ROAD combined, pytorch-grad-cam's metrics, the model's decision "
                 f"as the score, higher is more faithful; {shares}% of each map's pixels removed, {ties}{sizes}, the same "
                 f"recordings for every N-MNIST model; "
                 f"95% intervals over samples):")
    for label, group in (("spiking CNN", spiking), ("conventional", conventional), ("spiking LSTM", lstm)):
        best = _best(results, group, metric)
        if best is None:
            continue
        method, mean, low, high = best
        reference = [s for s in results["scores"] if s["model"] in group and s["metric"] == metric and s["kind"] == "baseline"]
        baseline = {name: np.mean([s["mean"] for s in reference if s["method"] == name]) for name in BASELINES
                    if any(s["method"] == name for s in reference)}
        scored = "; ".join(f"{'random maps' if name == 'random' else 'a centre blob'} {value:+.3f}"
                           for name, value in baseline.items())
        beaten = " (a map that knows nothing of the input beats the best method)" \
            if baseline.get("centre blob", -math.inf) > mean else ""
        lines.append(f"  - {label} models ({', '.join(group)}): {method} is the most faithful on average, "
                     f"{mean:+.3f} (mean of the models' intervals {low:+.3f} to {high:+.3f})"
                     + (f"; baselines: {scored}{beaten}" if scored else "") + ".")
    tests = [c for c in results.get("comparison", []) if c["method"] not in BASELINES]
    if tests:
        differing = [c for c in tests if c["verdict"] == "differs"]
        first = tests[0]
        summary = "; ".join(f"{c['method']} {c['difference_mean']:+.3f} [{c['difference_low']:+.3f}, "
                            f"{c['difference_high']:+.3f}], Holm p {c['holm_p']:.3g}"
                            for c in tests if c["conventional"] == first["conventional"])
        answer = (f"they differ for {len(differing)} of {len(tests)} method x pair tests "
                  f"({', '.join(sorted({c['method'] + ' vs ' + c['conventional'] for c in differing}))})"
                  if differing else f"no difference detected in any of the {len(tests)} method x pair tests")
        lines.append(f"  - Are explanations of the spiking CNN (beta 0.8) as faithful as a conventional CNN's on the same "
                     f"{first['difference_n']} recordings? Paired over recordings (Wilcoxon signed-rank, Holm over every "
                     f"method and pair): {answer}. Spiking minus {first['conventional']}: {summary}.")
    return lines
