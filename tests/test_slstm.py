"""The spiking LSTM (common/networks/slstm.py): state over time, reset between samples, equivalence with
snntorch stepped layer by layer, Grad-CAM over time, checkpoints; and the wider spiking CNN."""
import numpy as np
import pytest
import snntorch as snn
import torch
from torch import nn

import common
from common.explanations.gradcam import grad_cam_over_time
from common.networks.registry import build_model
from common.networks.slstm import SpikingConvLSTM
from common.networks.snn import WideSpikingCNN
from common.runs.checkpoint import load_model, save_checkpoint

T, B = 6, 2


def record_states(model):
    """Forward hooks keeping every (spk, syn, mem) each LSTM layer returns, one entry per time step."""
    seen = {"lstm1": [], "lstm2": []}
    for name in seen:
        getattr(model, name).register_forward_hook(
            lambda module, args, out, name=name: seen[name].append([o.detach().clone() for o in out]))
    return seen


def firing_model(seed=0):
    """An SLSTM whose output neurons get a constant drive, so output spikes appear at all."""
    torch.manual_seed(seed)
    model = SpikingConvLSTM().eval()
    with torch.no_grad():
        model.fc.bias.fill_(0.45)
    return model


def constant_clip(seed=1, steps=T, batch=B):
    frame = (torch.rand(batch, 2, 32, 32, generator=torch.Generator().manual_seed(seed)) < 0.2).float() * 2
    return frame.expand(steps, -1, -1, -1, -1).contiguous()          # the same input at every step


def test_state_carries_over_time_under_constant_input():
    model = firing_model()
    seen = record_states(model)
    with torch.no_grad():
        out = model(constant_clip())
    for layer in ("lstm1", "lstm2"):
        mems = torch.stack([step[2] for step in seen[layer]])            # [T, B, C, H, W]
        syns = torch.stack([step[1] for step in seen[layer]])
        assert len(mems) == T
        changes = [(mems[t] - mems[t - 1]).abs().max().item() for t in range(1, T)]
        assert min(changes) > 1e-4, f"{layer} hidden state stopped changing: {changes}"
        assert (syns[-1] - syns[0]).abs().max() > 1e-3
    # the output membrane integrates: no spike at step 0, spikes later, so the output changes in time
    assert out[0].sum() == 0 and out[1:].sum() > 0
    assert not torch.equal(out[0], out[-1])


def test_a_new_forward_call_starts_over_identically():
    model = firing_model()
    seen = record_states(model)
    a, b = constant_clip(seed=1), constant_clip(seed=2)
    with torch.no_grad():
        first = model(a)
        states_first = [s[2] for s in seen["lstm1"]] + [s[2] for s in seen["lstm2"]]
        model(b)                                                       # another sample in between
        for layer in seen.values():
            layer.clear()
        again = model(a)
        states_again = [s[2] for s in seen["lstm1"]] + [s[2] for s in seen["lstm2"]]
    assert torch.equal(first, again)
    assert all(torch.equal(x, y) for x, y in zip(states_first, states_again))
    # and the first step's state is the one reached from zero state
    lstm1 = snn.SConv2dLSTM(2, 8, 5, max_pool=2, threshold=0.1)
    lstm1.load_state_dict(model.lstm1.state_dict())
    zero = torch.zeros(B, 8, 32, 32)
    _, _, mem0 = lstm1(a[0], zero, zero.clone())
    assert torch.allclose(states_first[0], mem0)


def test_library_layer_alone_leaks_state_between_calls():
    """Why the model passes zero state: snntorch's layer called without state resumes the last one."""
    torch.manual_seed(0)
    layer = snn.SConv2dLSTM(2, 8, 5, max_pool=2, threshold=0.1)
    x = constant_clip()[0]
    with torch.no_grad():
        _, _, mem_first = layer(x)
        _, _, mem_second = layer(x)                                  # "a new sample", same input
    assert not torch.allclose(mem_first, mem_second)


class SteppedReference(nn.Module):
    """The source study's network written the snntorch way: every layer stepped once per time bin."""

    def __init__(self):
        super().__init__()
        self.lstm1 = snn.SConv2dLSTM(2, 8, 5, max_pool=2, threshold=0.1)
        self.lstm2 = snn.SConv2dLSTM(8, 16, 5, max_pool=2, threshold=0.1)
        self.fc = nn.Linear(1024, 11)
        self.lif = snn.Leaky(beta=0.8)

    def forward(self, x):
        syn1 = mem1 = torch.zeros(x.shape[1], 8, 32, 32)
        syn2 = mem2 = torch.zeros(x.shape[1], 16, 16, 16)
        mem3 = self.lif.init_leaky()
        out = []
        for step in x:
            spk1, syn1, mem1 = self.lstm1(step, syn1, mem1)
            spk2, syn2, mem2 = self.lstm2(spk1, syn2, mem2)
            spk3, mem3 = self.lif(self.fc(spk2.flatten(1)), mem3)
            out.append(spk3)
        return torch.stack(out)


def test_matches_snntorch_stepped_layer_by_layer():
    model = firing_model()
    reference = SteppedReference()
    reference.load_state_dict({k: v for k, v in model.state_dict().items() if k != "beta"}, strict=False)
    x = (torch.rand(T, B, 2, 32, 32, generator=torch.Generator().manual_seed(3)) < 0.2).float()
    ours, theirs = model(x), reference(x)
    assert ours.shape == (T, B, 11) and ours.sum() > 0
    assert torch.equal(ours, theirs)
    ours.sum().backward(), theirs.sum().backward()
    for name in ("lstm1.conv.weight", "lstm2.conv.weight", "fc.weight"):
        mine = dict(model.named_parameters())[name].grad
        ref = dict(reference.named_parameters())[name].grad
        assert torch.allclose(mine, ref, rtol=1e-4, atol=1e-6), name


def test_interface_registry_and_checkpoint(tmp_path):
    model = build_model("slstm", n_classes=11, input_size=32)
    assert model.fc.in_features == 16 * 8 * 8 == 1024
    out = model(torch.zeros(3, 2, 2, 32, 32, dtype=torch.uint8))
    assert out.shape == (3, 2, 11) and set(model.spike_counts) == {"lstm1", "lstm2", "out"}
    path = tmp_path / "slstm.pth"
    save_checkpoint(path, model, "slstm", {"n_classes": 11}, meta={})
    assert torch.load(path, weights_only=True)["model_name"] == "slstm"
    loaded, _ = load_model(path)
    x = constant_clip()
    assert torch.equal(loaded(x), model.eval()(x))
    with pytest.raises(ValueError):
        model(torch.zeros(2, 2, 32, 32))


def test_building_models_does_not_grow_snntorch_instance_list():
    before = len(snn.SpikingNeuron.instances)
    for _ in range(3):
        SpikingConvLSTM()
    assert len(snn.SpikingNeuron.instances) == before


def test_grad_cam_over_time_gives_one_map_per_bin():
    model = firing_model()
    clip = constant_clip(batch=1)[:, 0]
    clip[T // 2:] = 0                                                   # the second half is silent
    per_bin, whole = grad_cam_over_time(model, clip, target_class=0)
    assert per_bin.shape == (T, 32, 32) and whole.shape == (32, 32)
    assert np.isfinite(per_bin).all() and per_bin.max() <= 1.0 + 1e-6
    assert not np.allclose(per_bin[0], per_bin[1])                      # bins are explained separately


def test_wide_spiking_cnn():
    model = build_model("scnn_wide", channels=(16, 48), n_classes=11, input_size=32, beta=0.5)
    assert isinstance(model, WideSpikingCNN) and model.conv2.out_channels == 48
    assert model.fc.in_features == 48 * 5 * 5
    assert model(torch.zeros(4, 2, 2, 32, 32)).shape == (4, 2, 11)
    assert common.count_parameters(model) > common.count_parameters(build_model("scnn", n_classes=11, input_size=32))
