import torch

from common.augment import random_affine


def test_random_affine_moves_each_image_differently():
    torch.manual_seed(0)
    images = torch.zeros(8, 1, 28, 28)
    images[:, :, 10:18, 10:18] = 1
    out = random_affine(images, max_rotation_deg=15, max_shift=0.1)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, images)
    assert not torch.allclose(out[0], out[1])          # a different transform per image
    assert abs(out.sum() / images.sum() - 1) < 0.3       # content is moved, not erased


def test_zero_strength_is_identity():
    images = torch.rand(4, 1, 28, 28)
    out = random_affine(images, max_rotation_deg=0, max_shift=0, scale=(1, 1))
    assert torch.allclose(out, images, atol=1e-5)
