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
