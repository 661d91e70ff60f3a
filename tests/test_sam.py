"""common/explanations/sam.py: the spike activation map on a small case, against the authors' formula."""
import math

import numpy as np
import pytest
import torch

from common.explanations.sam import layer_spikes, sam_maps, spike_activation_map
from common.networks.registry import build_model


def test_sam_of_one_neuron_sums_its_decayed_spikes_where_it_spikes():
    gamma = math.log(2)                                  # each bin halves an earlier spike's weight
    spikes = np.zeros((4, 1, 1, 2))                      # T=4, one channel, a 1 x 2 grid
    spikes[[0, 2, 3], 0, 0, 0] = 1                        # neuron (0, 0) fires at bins 0, 2 and 3
    spikes[3, 0, 0, 1] = 1                                # neuron (0, 1) once, at bin 3
    m = spike_activation_map(spikes, gamma)
    assert m.shape == (4, 1, 2)
    assert m[:, 0, 0].tolist() == pytest.approx([1.0, 0.0, 1.25, 1 + 0.5 + 0.125])   # silent at bin 1: no heat
    assert m[:, 0, 1].tolist() == pytest.approx([0, 0, 0, 1.0])                        # a burst counts more


def authors_loop(spikes, gamma):
    """The published main.py's weighting, written out for [T, K, h, w]: at bin ``time`` every bin so far adds
    exp(-gamma (time - spike * prev_t)), so a bin without a spike adds exp(-gamma time)."""
    maps = []
    for time in range(len(spikes)):
        weight = sum(np.exp(-gamma * (time - spikes[prev] * prev)) for prev in range(time + 1))
        maps.append((weight * spikes[time]).sum(0))
    return np.stack(maps)


def test_sam_is_the_authors_map_without_their_no_spike_term():
    rng = np.random.default_rng(0)
    spikes = (rng.random((6, 3, 4, 4)) < 0.4).astype(np.float64)
    gamma = 0.5
    no_spike_term = np.stack([sum(np.exp(-gamma * time) * (1 - spikes[prev]) for prev in range(time + 1)) * spikes[time]
                              for time in range(len(spikes))]).sum(1)
    assert np.allclose(authors_loop(spikes, gamma) - no_spike_term, spike_activation_map(spikes, gamma), atol=1e-6)
    assert not np.allclose(authors_loop(spikes, gamma), spike_activation_map(spikes, gamma))   # the stated difference


@pytest.mark.parametrize("name", ["scnn", "slstm"])
def test_sam_maps_of_the_spiking_models_are_per_bin_on_the_input(name):
    torch.manual_seed(0)
    model = build_model(name, **({"beta": 0.8} if name == "scnn" else {"channels": (4, 8), "input_size": 34})).eval()
    x = torch.zeros(2, 4 * 2, 34, 34)
    x[:, :, 10:20, 12:22] = 3.0                              # a block of events in every bin
    spikes = layer_spikes(model, x.unflatten(1, (4, 2)))
    assert spikes.ndim == 5 and spikes.shape[:2] == (2, 4) and set(np.unique(spikes)) <= {0.0, 1.0}
    maps = sam_maps(model, x, 4)
    assert maps.shape == (2, 4, 34, 34) and maps.min() >= 0 and maps.max() <= 1
    assert all(len(t.observers) == 0 for t in model.traces)                           # observer removed
