"""Training-time augmentation, applied to whole batches (never to test data)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(images: torch.Tensor, max_rotation_deg: float = 10.0, max_shift: float = 0.1,
                  scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """An independent small rotation, shift and zoom per image of a (B, C, H, W) batch in [0, 1].

    One ``affine_grid`` call for the whole batch: per-sample PIL transforms would cost more than
    the training step itself on a 2-core CPU. Pixels moved in from outside are 0 (background).
    """
    b = images.shape[0]
    angle = (torch.rand(b) * 2 - 1) * math.radians(max_rotation_deg)
    zoom = scale[0] + torch.rand(b) * (scale[1] - scale[0])
    shift = (torch.rand(b, 2) * 2 - 1) * max_shift * 2   # affine_grid spans [-1, 1]: width 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def random_translate(frames: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift each sample of ``[B, ..., H, W]`` by its own whole-pixel (dy, dx) in [-max_shift, max_shift].

    For event frames: every time bin of a sample moves together (the recording is shifted, not
    scrambled), pixels moved in from outside are empty, and event counts stay integers.
    """
    if max_shift <= 0:
        return frames
    height, width = frames.shape[-2:]
    padded = F.pad(frames, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (frames.shape[0], 2)).tolist()
    return torch.stack([p[..., dy:dy + height, dx:dx + width] for p, (dy, dx) in zip(padded, offsets)])
