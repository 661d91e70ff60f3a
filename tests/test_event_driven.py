"""benchmarks/event_driven.py: the event-driven spiking CNN computes what the dense forward pass computes."""
import numpy as np
import pytest
import torch

import common
from benchmarks import event_driven


def exact_model(beta: float = 0.5, seed: int = 0):
    """A spiking CNN whose weights are multiples of 1/64 and beta a power of two: every sum is exact in float32, so
    the two paths' different orders of summation cannot move a membrane across the threshold."""
    torch.manual_seed(seed)
    model = common.build_model("scnn", beta=beta).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.round(torch.randn_like(p) * 20) / 64)
    return model


def sample(density: float, seed: int = 0, time_bins: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    active = rng.random((time_bins, 2, 34, 34)) < density
    return (active * rng.integers(1, 4, active.shape)).astype(np.float32)


@pytest.mark.parametrize("density", [0.0, 0.04, 0.3])
def test_event_driven_spikes_equal_the_dense_forward_pass(density):
    model = exact_model()
    frames = sample(density)
    dense = event_driven.dense(model, frames)
    events = event_driven.EventDriven(model)(frames)
    assert events.shape == dense.shape == (6, 10)
    np.testing.assert_array_equal(events, dense)
    if density == 0.3:
        assert dense.sum() > 0 and model.spike_counts["lif1"] > 0      # the layers did spike: the test can fail


def test_thinning_keeps_a_fraction_of_the_events_and_answers_count_spikes():
    frames = sample(0.3, time_bins=20)
    kept = event_driven.thinned(frames, 0.25, np.random.default_rng(0))
    assert kept.sum() == pytest.approx(0.25 * frames.sum(), rel=0.05) and (kept <= frames).all()
    assert event_driven.thinned(frames, 1.0, np.random.default_rng(0)) is frames
    out = np.zeros((3, 10), np.float32)
    out[:, 7] = 1
    out[0, 2] = 1
    assert event_driven.answers([out]).tolist() == [7]


def test_one_beta_per_layer_is_required():
    model = common.build_model("scnn", beta=0.5, learn_beta=True)
    with torch.no_grad():
        model.beta_logit[0] += 1.0
    with pytest.raises(ValueError, match="one beta for every layer"):
        event_driven.EventDriven(model)
