"""Where a map puts its heat, measured against the object in the input.

The object: ink for an image (raw pixels above ``INK`` = 0.2, on the [0, 1] scale), the pixels with at least one
event in a time bin for an event clip (:func:`object_mask`). For every map, per sample:

- ``heat_on_object``: the share of the map's heat that lies on the object (a map of uniform heat scores the object's
  share of the frame, ``object_share``, reported beside it);
- ``pointing``: whether the peak is on the object (the pointing game; with tied maxima, the share of them that are);
- ``edge_distance``: the peak's distance to the nearest frame edge in pixels (0: on the edge; tied maxima averaged);
- ``border_heat``: the share of the heat within ``BORDER`` pixels of the edge, beside ``border_share``, that strip's
  share of the frame: a map that mostly marks the border puts far more heat there than the strip's share.

A clip is measured bin by bin (its object is each bin's events): a per-bin map ``[T, H, W]`` against its own bin, a
whole-clip map ``[H, W]`` against every bin; a sample's value is the mean over the bins that have events and heat.
Methods that multiply by the input (Input x Gradient, Integrated Gradients from a zero baseline) put no heat where
the input is zero, by construction: these measures cannot rank them against CAMs (the deletion test does).
"""
from __future__ import annotations

import numpy as np

INK = 0.2      # raw pixel value above which an image pixel is ink
BORDER = 2     # pixels from the edge counted as the border strip
MEASURES = ("heat_on_object", "object_share", "pointing", "edge_distance", "border_heat", "border_share")


def object_mask(inputs, n_time_bins: int | None = None, ink: float = INK) -> np.ndarray:
    """Images ``[N, 1, H, W]`` (raw, in [0, 1]) -> ink ``[N, H, W]``; clips ``[N, T * C, H, W]`` of event counts ->
    ``[N, T, H, W]``, True where the bin has an event (any polarity)."""
    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected inputs [N, C, H, W] (clips as [N, T * C, H, W]), got shape {x.shape}")
    if n_time_bins is None:
        if x.min() < 0 or x.max() > 1:
            raise ValueError("image inputs must be raw pixels in [0, 1] (ink is pixels > 0.2); "
                             "unstandardise them first (x * std + mean)")
        return x.max(1) > ink
    return np.abs(x.reshape(len(x), n_time_bins, -1, *x.shape[-2:])).sum(2) > 0


def _by_bin(maps: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as ``[N, B, H, W]`` (B = 1 for images): a 2-D map stands for every bin of a clip's mask."""
    maps, mask = np.asarray(maps, dtype=np.float64), np.asarray(mask, dtype=bool)
    if mask.ndim == 3:
        mask = mask[:, None]
    if maps.ndim == 3 and maps.shape[-2:] == mask.shape[-2:]:
        maps = np.broadcast_to(maps[:, None], mask.shape)
    if maps.shape != mask.shape:
        raise ValueError(f"maps {maps.shape} do not fit the object mask {mask.shape}: give [N, H, W] or one map per "
                         "time bin [N, T, H, W]")
    if (maps < 0).any():
        raise ValueError("maps must be non-negative heat (clip signed attributions at 0 first)")
    return maps, mask


def measure(maps: np.ndarray, mask: np.ndarray, border: int = BORDER) -> dict[str, np.ndarray]:
    """Every measure of :data:`MEASURES` per sample ``[N]`` (NaN where no bin has both an object and heat)."""
    maps, mask = _by_bin(maps, mask)
    H, W = maps.shape[-2:]
    rows, cols = np.arange(H)[:, None], np.arange(W)[None, :]
    to_edge = np.minimum(np.minimum(rows, H - 1 - rows), np.minimum(cols, W - 1 - cols)).astype(np.float64)
    strip = to_edge < border
    total = maps.sum((-2, -1))
    valid = (total > 0) & mask.any((-2, -1))                            # [N, B]
    safe = np.where(total > 0, total, 1.0)
    peak = maps == maps.max((-2, -1), keepdims=True)                     # tied maxima all count
    n_peak = peak.sum((-2, -1))
    per_bin = {
        "heat_on_object": (maps * mask).sum((-2, -1)) / safe,
        "object_share": mask.mean((-2, -1)),
        "pointing": (peak & mask).sum((-2, -1)) / n_peak,
        "edge_distance": (peak * to_edge).sum((-2, -1)) / n_peak,
        "border_heat": (maps * strip).sum((-2, -1)) / safe,
        "border_share": np.broadcast_to(strip.mean(), valid.shape),
    }
    counted = valid.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: np.where(counted > 0, (np.where(valid, v, 0.0)).sum(1) / counted, np.nan)
                for name, v in per_bin.items()}


def sentence(means: dict[str, float], n: int, method: str, grid: dict | None = None) -> str:
    """One sentence on where ``method`` puts its heat: ``means`` of :data:`MEASURES` over ``n`` samples (and, for a
    CAM, :func:`peaks_on_grid_border` of its maps on the layer's grid)."""
    on_grid = (f" On the layer's own {grid['grid'][0]} x {grid['grid'][1]} grid, before any placement on the image, "
               f"{grid['peak_on_grid_border']:.0%} of the maps peak on the outermost cells, which are "
               f"{grid['grid_border_share']:.0%} of the grid.") if grid else ""
    return (f"Measured on {n} test samples: {method} puts {means['heat_on_object']:.0%} of its heat on the object "
            f"(which covers {means['object_share']:.0%} of the frame), its peak lies on the object in "
            f"{means['pointing']:.0%} of the maps and {means['edge_distance']:.1f} px from the frame's edge on average, "
            f"and {means['border_heat']:.0%} of its heat lies in the {BORDER}-pixel border ({means['border_share']:.0%} "
            f"of the frame).{on_grid}")


def heat_sentence(maps: np.ndarray, inputs, method: str, n_time_bins: int | None = None) -> str:
    """:func:`sentence` measured on ``maps`` of ``inputs`` (raw images in [0, 1], or clips of event counts): what a
    notebook prints beside the maps it shows."""
    measures = measure(maps, object_mask(inputs, n_time_bins))
    return sentence({name: float(np.nanmean(v)) for name, v in measures.items()}, len(maps), method)


def peaks_on_grid_border(on_grid: np.ndarray) -> dict[str, float]:
    """For maps on a layer's grid ``[N, h, w]``: the share of maps whose peak lies on the grid's outermost cells,
    beside those cells' share of the grid (what a peak anywhere at random would give). A map that peaks at the border
    already on its own grid owes it to the layer's activations, not to its placement on the input."""
    on_grid = np.asarray(on_grid, dtype=np.float64)
    h, w = on_grid.shape[-2:]
    ring = np.ones((h, w), bool)
    ring[1:-1, 1:-1] = False
    flat = on_grid.reshape(len(on_grid), -1)
    lit = flat.max(1) > 0
    at_ring = ring.reshape(-1)[flat.argmax(1)]
    return {"peak_on_grid_border": float(at_ring[lit].mean()) if lit.any() else float("nan"),
            "grid_border_share": float(ring.mean()), "grid": [int(h), int(w)], "n": int(lit.sum())}
