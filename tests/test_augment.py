import torch

from common.data.augment import random_affine


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


def test_random_translate_moves_whole_recordings():
    from common.data.augment import random_translate

    torch.manual_seed(0)
    frames = torch.zeros(16, 5, 2, 34, 34, dtype=torch.uint8)
    frames[:, :, :, 15:19, 15:19] = 3
    out = random_translate(frames, max_shift=3)
    assert out.dtype == torch.uint8 and out.shape == frames.shape
    assert (out.sum((1, 2, 3, 4)) == frames.sum((1, 2, 3, 4))).all()     # no event lost near the centre
    for sample in out:                                                    # all bins moved together
        assert all(torch.equal(sample[0], sample[t]) for t in range(5))
    assert len({tuple(torch.nonzero(s[0, 0])[0].tolist()) for s in out}) > 1   # different shifts
    assert torch.equal(random_translate(frames, 0), frames)
