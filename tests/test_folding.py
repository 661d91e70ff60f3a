"""Folding the input normalisation into the first layer is exact (interior and borders) and lets an operation
counter see the raw image's zeros."""
import pytest
import torch

from common.networks.cnn import CNN
from common.networks.folding import fold_input_normalisation
from common.networks.lif_alif import MLP

MEAN, STD = 0.1307, 0.3081


def raw_images(n=6):
    torch.manual_seed(0)
    images = torch.zeros(n, 1, 28, 28)
    images[:, :, 6:22, 3:25] = torch.rand(n, 1, 16, 22)      # a stroke area, zero background up to the edges
    images[:, :, 0, :5] = 1.0                                 # ink touching the border (the padding matters)
    return images


@pytest.mark.parametrize("model, first, shape", [(CNN(), "conv1", None), (MLP(hidden=32), "fc1", (-1, 784))])
def test_folded_network_on_raw_inputs_equals_the_original_on_normalised_ones(model, first, shape):
    model.eval()
    raw = raw_images()
    inputs = raw if shape is None else raw.reshape(shape)
    folded = fold_input_normalisation(model, first, MEAN, STD)
    with torch.no_grad():
        expected = model((inputs - MEAN) / STD)
        got = folded(inputs)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(model(inputs), expected, atol=1e-2)    # the rewrite is not a no-op


def test_only_conv_and_linear_layers_fold():
    with pytest.raises(TypeError, match="act1"):
        fold_input_normalisation(CNN(), "act1", MEAN, STD)
