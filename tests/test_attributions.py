"""Captum's attributions through the study's models (common/explanations/attributions.py) and the event-level
deletion test (common/explanations/faithfulness.py)."""
import numpy as np
import pytest
import torch

from common.explanations import faithfulness as F
from common.explanations.attributions import CAPTUM_METHODS, captum_maps, to_heat
from common.networks.registry import build_model

T = 3


def clips(n=2):
    x = torch.zeros(n, T * 2, 34, 34)
    x[:, :, 10:20, 12:22] = 2.0
    return x


@pytest.mark.parametrize("method", CAPTUM_METHODS)
def test_captum_maps_of_a_spiking_cnn_are_per_bin_through_the_surrogate(method):
    torch.manual_seed(0)
    model = build_model("scnn", beta=0.8).eval()
    with torch.no_grad():
        model.conv1.weight.mul_(4)
    maps = captum_maps(model, clips(), [0, 1], method, n_time_bins=T)
    expected = (2, 34, 34) if method == "Occlusion" else (2, T, 34, 34)
    assert maps.shape == expected and maps.min() >= 0 and maps.max() <= 1
    if method != "Occlusion":                          # multiplied by the input: no heat where there is no event
        assert maps[..., :8, :].max() == 0
    assert model.time_chunk == "auto"                  # put back


def test_captum_maps_of_the_mnist_cnn_and_bad_names():
    torch.manual_seed(0)
    model = build_model("cnn").eval()
    x = torch.rand(2, 1, 28, 28)
    assert captum_maps(model, x, [3, 4], "IntegratedGradients").shape == (2, 28, 28)
    with pytest.raises(ValueError, match="unknown Captum method"):
        captum_maps(model, x, [3, 4], "Saliency")


def test_heat_is_the_positive_part_summed_over_polarities_scaled_by_its_peak():
    a = torch.zeros(1, 2 * 2, 2, 2)
    a[0, 0, 0, 0], a[0, 1, 0, 0], a[0, 2, 1, 1], a[0, 3, 0, 1] = 3.0, 1.0, 2.0, -5.0
    heat = to_heat(a, 2)
    assert heat.shape == (1, 2, 2, 2) and heat[0, 0, 0, 0] == 1.0 and heat[0, 1, 1, 1] == 0.5
    assert heat[0, 1, 0, 1] == 0.0                     # negative evidence is no heat


def test_deletion_removes_the_share_of_events_in_the_maps_order():
    x = torch.zeros(1, 2 * 2, 4, 4)                     # two bins
    x[0, 0, 0, 0], x[0, 1, 1, 1], x[0, 2, 2, 2], x[0, 3, 3, 3] = 4.0, 3.0, 2.0, 1.0     # 10 events
    maps = np.zeros((1, 2, 4, 4), np.float32)
    maps[0, 1, 3, 3], maps[0, 0, 1, 1], maps[0, 1, 2, 2] = 1.0, 0.9, 0.8                 # order: (1,3,3) (0,1,1) (1,2,2)
    left = lambda share: F.input_mass(F.deleted_inputs(x, maps, 2, share), 2)
    assert left(0.0).sum() == 10 and left(1.0).sum() == 0
    assert left(0.1)[0, 1, 3, 3] == 0 and left(0.1).sum() == 9                           # the hottest location first
    assert left(0.3).sum() == 6 and left(0.3)[0, 0, 0, 0] == 4                          # then the next: 4 of 10 gone
    whole = np.zeros((1, 4, 4), np.float32)
    whole[0, 0, 0] = 1.0                                                                 # a 2-D map: every bin alike
    assert F.input_mass(F.deleted_inputs(x, whole, 2, 0.4), 2)[0, 0, 0, 0] == 0
    with pytest.raises(ValueError, match="raw images"):
        F.input_mass(torch.full((1, 1, 4, 4), -0.4), None)


def test_a_map_on_the_evidence_loses_the_decision_sooner_than_one_off_it():
    """A linear 'model' whose class 0 is the ink in the left half: deleting in the order of a map on the left half
    takes the decision away sooner (smaller area) than in the order of a map on the right half."""

    class LeftHalf(torch.nn.Module):
        gradcam_layer = None                          # explainable() asks for it; deletion needs none
        def forward(self, x):
            left = x[..., :, :14].sum((1, 2, 3))
            return torch.stack([left, torch.full_like(left, 5.0)], 1)

    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 5:20, 5:23] = 1.0
    on, off = np.zeros((2, 28, 28), np.float32), np.zeros((2, 28, 28), np.float32)
    on[:, :, :14], off[:, :, 14:] = 1.0, 1.0
    curve_on = F.deletion_curves(LeftHalf(), x, on, [0, 0])
    curve_off = F.deletion_curves(LeftHalf(), x, off, [0, 0])
    assert curve_on[0].tolist() == [1.0, 1.0] and curve_on[-1].tolist() == [0.0, 0.0]
    assert (F.deletion_area(curve_on) < F.deletion_area(curve_off)).all()
