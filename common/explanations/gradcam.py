"""Grad-CAM through pytorch-grad-cam, placed on the input where the evidence is, with overlays.

Where a map goes: a Grad-CAM map lives on the grid of its layer (e.g. the spiking CNN's 10 x 10 conv2 map
of a 32 x 32 frame), whose cells see input windows set by the layers' kernels, strides, padding and
pooling. Stretching the map over the whole frame (what pytorch-grad-cam's resize does) puts cell 0 at
pixel 1.6 where its window is centred at 6.5. Here every model names the stages between its input and its
Grad-CAM layer (``cam_stages``); :func:`to_input` derives each cell's input window from them, puts the
cell's value at the window's centre and interpolates in between. Between the frame's edge and the
outermost centres (6.5 px wide here) the border is continued (:func:`place_along_last_axis`): a border cell
brighter than its neighbour says the evidence lies further out (an isolated stimulus at the edge lights
cell 0 and hardly cell 1), a border peak or a darker border cell that it lies further in, so the heat
tapers off toward the edge. Holding the border cell's value instead spread the heat of an edge stimulus
evenly over the whole strip, its mass up to 3.4 px away from the stimulus (tests/test_gradcam.py). A border
cell near the map's brightest value over a dark neighbour continues its rise further, up to the frame's edge
(:data:`DARK_POWER`): the placement is separable, so a corner stimulus carries the edge's offset on both axes,
and the spiking CNN's 6.5 px strip held 4.5 px in put a corner's mass 2.5 px off. The interior, between the outermost centres, is
placed as before.
"""
from __future__ import annotations

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

# ---------------------------------------------------------------- geometry: layer grid -> input pixels

def stage_geometry(stage) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding) per axis (H, W) of a Conv2d, a MaxPool2d/AvgPool2d, or a tuple."""
    pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))
    if isinstance(stage, tuple) and len(stage) == 3:
        kernel, stride, padding = stage
    elif isinstance(stage, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        if isinstance(stage, nn.Conv2d) and pair(stage.dilation) != (1, 1):
            raise ValueError("dilated convolutions are not supported by the Grad-CAM geometry")
        kernel, stride, padding = stage.kernel_size, stage.stride, stage.padding
    else:
        raise TypeError(f"cannot read kernel, stride and padding from {stage!r}")
    return pair(kernel), pair(stride if stride is not None else kernel), pair(padding)


def receptive_field(stages) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Per axis (offset, stride, size): cell j of the last stage sees input pixels
    ``offset + stride * j .. offset + stride * j + size - 1`` (before clipping to the frame)."""
    fields = []
    for axis in (0, 1):
        offset, stride, size = 0, 1, 1
        for stage in stages:
            kernel, step, padding = (g[axis] for g in stage_geometry(stage))
            offset, stride, size = offset - padding * stride, stride * step, size + (kernel - 1) * stride
        fields.append((offset, stride, size))
    return tuple(zip(*fields))   # ((offset_h, offset_w), (stride_h, stride_w), (size_h, size_w))


def interpolation_weights(n_cells: int, n_pixels: int, offset: int, stride: int, size: int,
                          reach: float = 0.0) -> np.ndarray:
    """``[n_pixels, n_cells]``: linear interpolation between the cells' window centres, each pixel's
    row summing to 1. Past the outermost centres the line through the last two cells continues for
    ``reach`` cell spacings and is then held (``reach=0``: the border cell's value is held); a pixel
    outside every cell's window gets nothing (a row of zeros). One cell: every pixel it sees takes its value."""
    pixels = np.arange(n_pixels)
    position = np.clip((pixels - offset - (size - 1) / 2) / stride, -reach, n_cells - 1 + reach)   # cell units
    if n_cells == 1:
        position = np.zeros_like(position)
    low = np.clip(np.floor(position).astype(int), 0, max(n_cells - 2, 0))     # the segment's first cell
    high = np.minimum(low + 1, n_cells - 1)
    fraction = position - low                                             # < 0 or > 1 past the centres
    weights = np.zeros((n_pixels, n_cells), dtype=np.float32)
    np.add.at(weights, (pixels, low), 1 - fraction)
    np.add.at(weights, (pixels, high), fraction)
    seen = (pixels >= offset) & (pixels < offset + stride * (n_cells - 1) + size)
    return weights * seen[:, None]


REACH = 1.0   # cell spacings the border slope is continued (tests/test_gradcam.py: the mass of an edge stimulus)
# ... and further, up to the frame's edge, by ((border cell - neighbour) / the map's brightest value) ** DARK_POWER
# of the strip. A border cell as bright as the map with a dark neighbour says the evidence lies where only it looks,
# at the edge: an edge stimulus of the spiking CNN lights cell 0 alone, and held after REACH (4.5 px in) its mass lay
# 1.8 px off per axis, so 2.5 px at a corner (both axes' offsets). Measured against the map's brightest value, not
# the border cell's own, a dim border cell over a dark neighbour (the rim of a real map) does not outshine the map.
# With powers 1-2 a stimulus 3-5 px in was drawn toward the edge (its mass up to 3.6 px off), and a longer REACH
# for every map put it 5 px off or more.
DARK_POWER = 4


def place_along_last_axis(maps: np.ndarray, n_pixels: int, offset: int, stride: int, size: int,
                          top: np.ndarray | None = None) -> np.ndarray:
    """``[..., n]`` cells -> ``[..., n_pixels]``: linear between the centres; past the outermost centres the lower
    of two continuations of the border, the line through the last two cells (for :data:`REACH` spacings, then
    held; further the more the border cell stands out of its neighbour against ``top``, the map's brightest value
    (default: the line's), :data:`DARK_POWER`) and the parabola through the last three. A border cell brighter
    than its neighbour raises the heat toward the edge (an edge stimulus lights cell 0 and hardly cell 1); a
    border peak (the parabola turns down) or a darker border cell lowers it."""
    n = maps.shape[-1]
    weights = interpolation_weights(n, n_pixels, offset, stride, size, REACH)
    placed = maps @ weights.T
    if n < 3:
        return placed
    position = (np.arange(n_pixels) - offset - (size - 1) / 2) / stride
    seen = weights.sum(1) > 0
    top = maps.max(-1, keepdims=True) if top is None else top
    for cells, t in (([0, 1, 2], position), ([n - 1, n - 2, n - 3], n - 1 - position)):   # t < 0: beyond
        a, b, c = (maps[..., [i]] for i in cells)
        # the rise past REACH toward the edge (t.min()): a border cell near the map's brightest over a dark neighbour
        drop = np.where((a > 0) & (top > 0), np.clip((a - b) / np.where(top > 0, top, 1), 0, 1), 0)
        reach = np.maximum(REACH, -t.min() * drop ** DARK_POWER)
        placed = placed + ((a - b) * np.clip(np.minimum(-t, reach) - REACH, 0, None) * seen).astype(placed.dtype)
        parabola = a * (t - 1) * (t - 2) / 2 - b * t * (t - 2) + c * t * (t - 1) / 2
        beyond = t < 0
        placed[..., beyond] = np.minimum(placed, parabola)[..., beyond]
    return placed


def to_input(maps: np.ndarray, stages, input_size: tuple[int, int]) -> np.ndarray:
    """Maps ``[..., h, w]`` on the Grad-CAM layer's grid -> ``[..., H, W]`` on the input: each cell's
    value sits at the centre of its input window (:func:`receptive_field`), pixels in between are
    interpolated and the strip past the outermost centres continues the border
    (:func:`place_along_last_axis`, along W then H). A non-negative map (every CAM) stays non-negative."""
    maps = np.asarray(maps, dtype=np.float32)
    (off_h, off_w), (st_h, st_w), (sz_h, sz_w) = receptive_field(stages)
    top = lambda m: m.max(axis=(-2, -1), keepdims=True) if m.size else None
    placed = place_along_last_axis(maps, input_size[1], off_w, st_w, sz_w, top(maps))
    placed = place_along_last_axis(placed.swapaxes(-1, -2), input_size[0], off_h, st_h, sz_h,
                                   top(placed)).swapaxes(-1, -2)
    return (np.maximum(placed, 0) if maps.size and maps.min() >= 0 else placed).astype(np.float32)


def grad_cam_map(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM on the layer's grid: ReLU(sum_k mean(dScore/dA_k) A_k), ``[N, K, h, w] -> [N, h, w]``."""
    weights = gradients.mean(axis=(2, 3), keepdims=True)
    return np.maximum((weights * activations).sum(1), 0)


def scale_each(maps: np.ndarray) -> np.ndarray:
    """Min-max scaling of every map to [0, 1] (pytorch-grad-cam's own scaling)."""
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - low
    return ((maps - low) / np.maximum(span, 1e-7)).astype(np.float32)


def grad_cam(model: nn.Module, inputs: torch.Tensor, classes: list[int] | None = None,
             layer: nn.Module | None = None) -> np.ndarray:
    """Class-activation maps ``[B, H, W]`` in [0, 1], placed on the input through the model's
    ``cam_stages`` (:func:`to_input`).

    ``classes`` defaults to the predicted class of each sample; ``layer`` to the model's
    ``gradcam_layer`` (then ``cam_stages`` must lead to it).
    """
    layer = layer if layer is not None else model.gradcam_layer
    targets = None if classes is None else [ClassifierOutputTarget(int(c)) for c in classes]
    with GradCAM(model=model, target_layers=[layer]) as cam:
        cam(input_tensor=inputs, targets=targets)        # runs the hooks; its stretched maps are not used
        activations = cam.activations_and_grads.activations[0].float().numpy()
        gradients = cam.activations_and_grads.gradients[0].float().numpy()
    return scale_each(to_input(grad_cam_map(activations, gradients), model.cam_stages, inputs.shape[-2:]))


def overlay(image: np.ndarray | torch.Tensor, cam: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """A grey image ``[H, W]`` (any range) with the heatmap on top, as RGB uint8."""
    image = torch.as_tensor(image, dtype=torch.float32).numpy()
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-8)
    rgb = np.repeat(image[..., None], 3, axis=-1).astype(np.float32)
    return show_cam_on_image(rgb, cam.astype(np.float32), use_rgb=True, image_weight=1 - weight)


def pick_examples(labels: torch.Tensor, predictions: torch.Tensor, n_correct: int, n_wrong: int,
                  seed: int = 0) -> list[int]:
    """Indices of ``n_correct`` right and ``n_wrong`` wrong predictions, drawn reproducibly."""
    generator = torch.Generator().manual_seed(seed)
    right = torch.nonzero(labels == predictions).flatten()
    wrong = torch.nonzero(labels != predictions).flatten()
    pick = lambda pool, n: pool[torch.randperm(len(pool), generator=generator)[:n]].tolist()
    return pick(right, n_correct) + pick(wrong, n_wrong)


def cam_gallery(model: nn.Module, inputs: torch.Tensor, labels, predictions, class_names: list[str]):
    """Grad-CAM of each input for its predicted class, overlaid on the input, with true/predicted."""
    from common.explanations.plots import image_grid

    cams = grad_cam(model, inputs)
    pictures = [overlay(x[0], cam) for x, cam in zip(inputs, cams)]
    titles = [f"{'ok' if t == p else 'WRONG'} {class_names[t]}->{class_names[p]}"
              for t, p in zip(labels.tolist(), predictions.tolist())]
    return image_grid(pictures, titles, n_cols=8, cmap=None,
                      title="Grad-CAM for the predicted class (true->predicted)")


# --- Grad-CAM over time, for the spiking networks -------------------------------------------------
#
# pytorch-grad-cam's hooks keep one activation per forward call of the target layer. A network that
# steps its layers T times inside one forward would only be explained at one time bin. The spiking
# CNN of common/networks/snn.py runs each convolution once over all T bins, so one forward call hands the
# hooks the target layer's activations for every bin as [T, K, h, w] (batch of one clip).


class ClipClassScores(nn.Module):
    """Presents one clip ``[T, C, H, W]`` to pytorch-grad-cam as a "batch" of T frames.

    Runs the spiking model on the clip (batch of one; the model resets its state at every forward
    call) and returns the spike count of each class ``[1, n_classes]``, summed over time and over
    each class's population group: the score Grad-CAM differentiates. The target layer's hooks see
    ``[T, K, h, w]``, so pytorch-grad-cam computes one map per time bin.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        from common.networks.objectives import class_spike_counts

        spikes = self.model(clip.unsqueeze(1))                        # [T, 1, N]
        return class_spike_counts(spikes, self.model.n_classes, self.model.population_size)


def grad_cam_over_time(model: nn.Module, clip: torch.Tensor | np.ndarray, target_class: int | None = None,
                       layer: nn.Module | None = None, per_bin_scale: str = "clip"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of one event clip ``[T, C, H, W]``: ``(per_bin [T, H, W], aggregated [H, W])`` in [0, 1].

    The score is the spike count of ``target_class`` (default: the class with most spikes, population
    groups summed). ``per_bin[t]`` is Grad-CAM of that score at time bin t: channel weights are the
    gradient averaged over the bin's map only. ``aggregated`` treats time as one more pooled axis
    (Grad-CAM as for 3-D video networks): channel weights averaged over all bins and positions,
    applied to the activation summed over time.

    Maps are placed on the input through the model's geometry (:func:`to_input`), then scaled:
    ``aggregated`` by its maximum; ``per_bin`` with ``per_bin_scale="clip"`` by the largest value of
    any bin, so a bin the network hardly used stays dark; ``"bin"`` min-max scales each bin on its own
    (pytorch-grad-cam's scaling), which stretches every bin to full range.
    """
    if per_bin_scale not in ("clip", "bin"):
        raise ValueError(f"per_bin_scale must be 'clip' or 'bin', got {per_bin_scale!r}")
    parameter = next(model.parameters())
    clip = torch.as_tensor(clip).to(parameter.device, parameter.dtype)
    if clip.dim() != 4:
        raise ValueError(f"expected one clip [T, C, H, W], got shape {tuple(clip.shape)}")
    was_training, chunk = model.training, getattr(model, "time_chunk", None)
    model.eval()
    if chunk is not None:
        model.time_chunk = None   # every bin in one convolution call: the hooks see [T, K, h, w] at once
    adapter = ClipClassScores(model)
    layer = layer if layer is not None else model.gradcam_layer
    if target_class is None:
        with torch.no_grad():
            target_class = int(adapter(clip).argmax(-1).item())
    try:
        with GradCAM(model=adapter, target_layers=[layer]) as cam:
            cam(input_tensor=clip, targets=[ClassifierOutputTarget(target_class)])
            activations = cam.activations_and_grads.activations[0].float().numpy()   # [T, K, h, w]
            gradients = cam.activations_and_grads.gradients[0].float().numpy()
    finally:
        model.train(was_training)
        if chunk is not None:
            model.time_chunk = chunk
    place = lambda maps: to_input(maps, model.cam_stages, clip.shape[-2:])

    per_bin = place(grad_cam_map(activations, gradients))                        # [T, H, W]
    per_bin = scale_each(per_bin) if per_bin_scale == "bin" else per_bin / max(float(per_bin.max()), 1e-7)
    weights = gradients.mean(axis=(0, 2, 3))[:, None, None]                  # [K, 1, 1]
    aggregated = place(np.maximum((weights * activations.sum(0)).sum(0), 0)[None])[0]
    aggregated = aggregated / max(float(aggregated.max()), 1e-7)
    return per_bin.astype(np.float32), aggregated.astype(np.float32)


def event_frame(frame: np.ndarray | torch.Tensor) -> np.ndarray:
    """An event frame ``[C, H, W]`` (polarity channels) as one grey image ``[H, W]``: channels summed."""
    return torch.as_tensor(frame, dtype=torch.float32).sum(0).numpy()


def plot_grad_cam_over_time(clip, per_bin: np.ndarray, aggregated: np.ndarray, bins=None,
                            title: str | None = None, weight: float = 0.5):
    """One row: the heatmap of each chosen time bin on that bin's input frame, then the aggregated
    map on the whole clip (all bins and polarities summed). ``bins`` defaults to at most 8 evenly
    spaced bins. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    clip = torch.as_tensor(clip, dtype=torch.float32)
    T = clip.shape[0]
    bins = list(np.unique(np.linspace(0, T - 1, min(T, 8)).round().astype(int)) if bins is None else bins)
    fig, axes = plt.subplots(1, len(bins) + 1, figsize=(1.6 * (len(bins) + 1), 2.0), squeeze=False)
    for ax, t in zip(axes[0], bins):
        ax.imshow(overlay(event_frame(clip[t]), per_bin[t], weight))
        ax.set_title(f"bin {t}", fontsize=8)
    axes[0, -1].imshow(overlay(event_frame(clip.sum(0)), aggregated, weight))
    axes[0, -1].set_title("whole clip", fontsize=8)
    for ax in axes[0]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
