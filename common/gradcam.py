"""Grad-CAM through pytorch-grad-cam, with overlays a reader can look at."""
from __future__ import annotations

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn


def grad_cam(model: nn.Module, inputs: torch.Tensor, classes: list[int] | None = None,
             layer: nn.Module | None = None) -> np.ndarray:
    """Class-activation maps ``[B, H, W]`` in [0, 1] at input resolution.

    ``classes`` defaults to the predicted class of each sample; ``layer`` to the model's
    ``gradcam_layer``.
    """
    layer = layer if layer is not None else model.gradcam_layer
    targets = None if classes is None else [ClassifierOutputTarget(int(c)) for c in classes]
    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=inputs, targets=targets)


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
    from .plots import image_grid

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
# CNN of common/snn.py runs each convolution once over all T bins, so one forward call hands the
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
        from .objectives import class_spike_counts

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

    Maps are upsampled (bilinear) to the input size, then scaled: ``aggregated`` by its maximum;
    ``per_bin`` with ``per_bin_scale="clip"`` by the largest value of any bin, so a bin the network
    hardly used stays dark; ``"bin"`` keeps pytorch-grad-cam's own per-map min-max scaling, which
    stretches every bin to full range.
    """
    import cv2

    if per_bin_scale not in ("clip", "bin"):
        raise ValueError(f"per_bin_scale must be 'clip' or 'bin', got {per_bin_scale!r}")
    parameter = next(model.parameters())
    clip = torch.as_tensor(clip).to(parameter.device, parameter.dtype)
    if clip.dim() != 4:
        raise ValueError(f"expected one clip [T, C, H, W], got shape {tuple(clip.shape)}")
    was_training = model.training
    model.eval()
    adapter = ClipClassScores(model)
    layer = layer if layer is not None else model.gradcam_layer
    if target_class is None:
        with torch.no_grad():
            target_class = int(adapter(clip).argmax(-1).item())
    try:
        with GradCAM(model=adapter, target_layers=[layer]) as cam:
            per_bin_own_scale = cam(input_tensor=clip, targets=[ClassifierOutputTarget(target_class)])
            activations = cam.activations_and_grads.activations[0].float().numpy()   # [T, K, h, w]
            gradients = cam.activations_and_grads.gradients[0].float().numpy()
    finally:
        model.train(was_training)
    height, width = clip.shape[-2:]

    def upsample(maps: np.ndarray) -> np.ndarray:
        return np.stack([cv2.resize(m, (width, height)) for m in maps.astype(np.float32)])

    if per_bin_scale == "bin":
        per_bin = per_bin_own_scale
    else:
        weights = gradients.mean(axis=(2, 3), keepdims=True)                 # [T, K, 1, 1]
        per_bin = upsample(np.maximum((weights * activations).sum(1), 0))
        per_bin = per_bin / max(float(per_bin.max()), 1e-7)
    weights = gradients.mean(axis=(0, 2, 3))[:, None, None]                  # [K, 1, 1]
    aggregated = upsample(np.maximum((weights * activations.sum(0)).sum(0), 0)[None])[0]
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
