import pytest
import torch
from torch import nn

import common  # noqa: F401
from common.energy import ENERGY_PJ, energy_per_inference, fan_out, operation_counts
from common.models import build_model


def test_fan_out():
    assert fan_out(nn.Conv2d(2, 12, 5)) == 12 * 25 and fan_out(nn.Linear(800, 10)) == 10


def test_ann_macs_of_the_source_cnn_by_hand():
    counts = operation_counts(build_model("cnn"), torch.zeros(4, 1, 28, 28), spiking=False, n_samples=4)
    by_hand = 24 * 26 * 26 * 25 + 64 * 11 * 11 * 24 * 25 + 1600 * 64 + 64 * 10
    assert counts == {"mac": by_hand, "ac": 0.0}


def test_snn_accumulates_follow_the_spikes():
    model = build_model("scnn", beta=0.5)
    silent = operation_counts(model, torch.zeros(5, 2, 2, 34, 34), spiking=True, n_samples=2)
    neurons = 12 * 15 * 15 + 32 * 5 * 5 + 10
    assert silent == {"ac": 0.0, "mac": neurons * 5}                   # no input, no spikes: leak only
    events = torch.zeros(5, 2, 2, 34, 34)
    events[0, :, 0, 10, 10] = 1                                          # one input event per sample
    counts = operation_counts(model, events, spiking=True, n_samples=2)
    assert counts["ac"] >= 12 * 25                                      # at least the event's own fan-out
    energy = energy_per_inference(counts)
    assert energy["total_nJ"] == pytest.approx((counts["mac"] * ENERGY_PJ["mac"] + counts["ac"] * ENERGY_PJ["ac"]) / 1000)
