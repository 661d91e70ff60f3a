"""The conventional CNN on event frames: the spiking CNN's size, and answers after t bins that see only t bins."""
import pytest
import torch

from common.networks.cnn import EventCNN
from common.networks.objectives import build_objective
from common.networks.registry import count_parameters


def test_sizes_match_the_spiking_cnn():
    from common.networks.snn import SpikingCNN
    assert count_parameters(EventCNN("summed")) == count_parameters(SpikingCNN()) == 18_254
    assert abs(count_parameters(EventCNN("time_bins_as_channels", n_time_bins=25, channels=(5, 32))) - 18_254) < 100


@pytest.mark.parametrize("form", EventCNN.FORMS)
def test_row_t_sees_only_the_first_t_bins(form):
    torch.manual_seed(0)
    model = EventCNN(form, n_time_bins=6).eval()
    clip = torch.rand(6, 3, 2, 34, 34)
    later = clip.clone()
    later[4:] += torch.rand(2, 3, 2, 34, 34)          # change only bins 5 and 6
    with torch.no_grad():
        a, b = model(clip), model(later)
    assert a.shape == (6, 3, 10)
    assert torch.allclose(a[:4], b[:4]) and not torch.allclose(a[4:], b[4:])
    assert torch.allclose(a[-1], model.classify(model.prefix_frames(clip, 6)))   # the last row: the whole clip
    model.train()
    assert model(clip).shape == (1, 3, 10)            # training: only the whole clip


def test_objective_reads_the_last_row_and_wrong_layouts_are_refused():
    objective = build_objective("cross_entropy_over_prefixes")
    logits = torch.tensor([[[5.0, 0.0]], [[0.0, 5.0]]])   # [T=2, B=1, C=2]
    assert objective.predict(logits).tolist() == [1] and objective.predict(logits[:1]).tolist() == [0]
    with pytest.raises(ValueError, match="expected input"):
        EventCNN("time_bins_as_channels", n_time_bins=25)(torch.zeros(10, 1, 2, 34, 34))
    with pytest.raises(ValueError, match="input_form"):
        EventCNN("sum")
