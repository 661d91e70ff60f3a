import pytest
import torch

from common.networks.cnn import CNN
from common.networks.registry import build_model, count_parameters, register


def test_cnn_shapes_match_the_source_study():
    model = build_model("cnn")
    assert isinstance(model, CNN)
    assert model.fc1.in_features == 1600             # 28 -> 26 -> 13 -> 11 -> 5; 64 * 5 * 5
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert model.gradcam_layer is model.act2
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_unknown_model_lists_registered():
    with pytest.raises(KeyError, match="cnn"):
        build_model("transformer")


def test_a_model_is_built_by_name_without_importing_its_module_first():
    """Registration does not depend on common/__init__ importing every network (a fresh process)."""
    import subprocess
    import sys

    from common.config import PROJECT_ROOT

    code = ("import sys; from common.networks.registry import build_model; "
            "assert 'common.networks.slstm' not in sys.modules; "
            "m = build_model('slstm', n_classes=11, input_size=32); assert type(m).__name__ == 'SpikingConvLSTM'; "
            "assert 'common.networks.slstm' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def test_each_network_offers_whole_capabilities_and_registration_refuses_half_of_one():
    from torch import nn

    from common.networks.registry import Decaying, Explained, Recorded, register

    offered = {name: {c.__name__ for c in (Explained, Decaying, Recorded) if isinstance(build_model(name), c)}
               for name in ("cnn", "cnn_events", "scnn", "scnn_wide", "slstm", "rsnn", "mlp")}
    assert offered == {"cnn": {"Explained"}, "cnn_events": {"Explained"}, "mlp": set(),
                       "scnn": {"Explained", "Decaying", "Recorded"}, "scnn_wide": {"Explained", "Decaying", "Recorded"},
                       "slstm": {"Explained", "Decaying"}, "rsnn": {"Decaying", "Recorded"}}
    assert build_model("scnn", beta=0.8).decays() == pytest.approx({"lif1": 0.8, "lif2": 0.8, "lif3": 0.8})
    assert build_model("slstm", beta=0.8).decays() == pytest.approx({"out": 0.8})
    assert set(build_model("rsnn").decays()) == {"hidden", "readout"}

    class HalfExplained(nn.Module):
        gradcam_layer = property(lambda self: self)          # no cam_stages: Grad-CAM could not place its maps

    with pytest.raises(TypeError, match="HalfExplained offers part of Explained: it lacks cam_stages"):
        register("half", kind="conventional", label="half")(HalfExplained)


def test_every_model_states_its_kind_and_label_where_it_is_registered():
    from common.networks.registry import MODELS, is_spiking, model_class, model_label

    model_class("scnn")                      # imports every network module
    assert {name for name in MODELS if is_spiking(name)} == {"scnn", "scnn_wide", "slstm", "rsnn"}
    assert model_label("slstm") == "spiking conv-LSTM" and model_label("cnn_events") == "CNN on event frames"
    with pytest.raises(ValueError, match="kind must be one of"):
        register("odd", kind="analog", label="odd")
