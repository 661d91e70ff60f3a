"""Each spike code carries graded intensity (not a binary threshold), and dark pixels stay silent."""
import pytest
import torch

from common.data.encodings import SpikeEncoder, encode, spike_loaders

T = 40


def image(*values):
    """A batch of one 'image' whose pixels have the given uint8 values."""
    return torch.tensor([values], dtype=torch.uint8)


@pytest.mark.parametrize("encoding", ["rate", "latency", "periodic"])
def test_shape_binary_and_dark_pixels_silent(encoding):
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    images[:, :, :4] = 0
    spikes = encode(images, encoding, T)
    assert spikes.shape == (T, 5, 784) and spikes.dtype == torch.float32
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes[:, :, :4 * 28].sum() == 0          # dark pixels never spike


def test_rate_counts_grow_with_intensity():
    torch.manual_seed(0)
    counts = encode(image(60, 120, 250).repeat(200, 1), "rate", T).sum(0)       # [200, 3]
    mean = counts.mean(0)
    # Bernoulli(p = x) per step: expected count T * x; both above and below the source's 0.2 threshold
    assert mean.tolist() == pytest.approx([T * 60 / 255, T * 120 / 255, T * 250 / 255], rel=0.05)
    assert mean[0] < mean[1] < mean[2]


def test_latency_time_falls_with_intensity_one_spike_each():
    spikes = encode(image(255, 200, 120, 60, 1), "latency", T)[:, 0]             # [T, 5]
    assert spikes.sum(0).tolist() == [1, 1, 1, 1, 1]
    times = spikes.argmax(0).tolist()
    assert times[0] == 0 and times == sorted(times) and len(set(times)) == 5
    assert times[2] == round((1 - 120 / 255) * (T - 1))


def test_periodic_period_is_set_by_intensity():
    spikes = encode(image(255, 128, 64, 26), "periodic", T)[:, 0]               # [T, 4]
    counts = spikes.sum(0)
    assert counts[0] == T and counts[0] > counts[1] > counts[2] > counts[3] > 0
    for pixel, value in ((1, 128), (2, 64)):                                      # regular intervals
        times = spikes[:, pixel].nonzero().flatten()
        intervals = times.diff().float()
        period = 255 / value
        assert intervals.mean().item() == pytest.approx(period, rel=0.1)
        assert (intervals - period).abs().max() <= 1.0                            # periodic, not random
    assert torch.equal(spikes, encode(image(255, 128, 64, 26), "periodic", T)[:, 0])   # deterministic


def test_not_a_binary_threshold_two_bright_intensities_differ():
    """The source's codes mapped every pixel above 0.2 to the same train: 0.5 and 0.9 must differ."""
    torch.manual_seed(1)
    pair = image(128, 230).repeat(100, 1)
    rate = encode(pair, "rate", T).sum(0).mean(0)
    assert rate[1] - rate[0] > 5
    latency = encode(pair, "latency", T).argmax(0)[0]
    assert latency[0] > latency[1]
    periodic = encode(pair, "periodic", T).sum(0)[0]
    assert periodic[1] > periodic[0]


def test_frozen_test_encoder_repeats_training_encoder_does_not():
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    frozen = SpikeEncoder("rate", 10, seed=3)
    first = frozen(images)
    frozen.reset()
    assert torch.equal(first, frozen(images))
    fresh = SpikeEncoder("rate", 10)
    assert not torch.equal(fresh(images), fresh(images))
    with pytest.raises(ValueError):
        SpikeEncoder("binary", 10)


def test_spike_loaders_encode_per_batch_and_test_set_is_identical_each_pass(mnist_root):
    train, test, split = spike_loaders("mnist", "rate", 6, mnist_root, batch_size=32, seed=0)
    x, y = next(iter(train))
    assert x.shape == (6, 32, 784) and y.shape == (32,)
    assert train.inputs.dtype == torch.uint8               # images stay uint8; spikes made on the fly
    passes = [torch.cat([x for x, _ in test], 1) for _ in range(2)]
    assert passes[0].shape == (6, 200, 784) and torch.equal(passes[0], passes[1])
