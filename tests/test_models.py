import pytest
import torch

from common.networks.cnn import CNN
from common.networks.registry import build_model, count_parameters


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
