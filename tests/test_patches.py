import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from torch import nn

import common  # noqa: F401  (importing the project applies the patch)
from common.models import build_model
from patches import grad_cam_two_output as patch


class TwoOutput(nn.Module):
    """Returns (scores, membrane) like an snntorch network."""

    def __init__(self):
        super().__init__()
        self.cnn = build_model("cnn")

    def forward(self, x):
        scores = self.cnn(x)
        return scores, torch.zeros_like(scores)


def cam_of(model, x, targets=None):
    with GradCAM(model=model, target_layers=[model.gradcam_layer if hasattr(model, "gradcam_layer")
                                             else model.cnn.act2]) as cam:
        return cam(input_tensor=x, targets=targets)


def test_importing_common_applied_it_once():
    from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients
    assert getattr(ActivationsAndGradients.__call__, patch.MARKER)
    assert patch.apply() is False          # idempotent


def test_tuple_output_model_works_with_default_targets():
    torch.manual_seed(0)
    model = TwoOutput().eval()
    x = torch.randn(3, 1, 28, 28)
    maps = cam_of(model, x)
    assert maps.shape == (3, 28, 28) and np.isfinite(maps).all() and maps.std() > 0
    assert np.allclose(maps, cam_of(model.cnn, x))     # same as explaining the scores directly


def test_tuple_output_fails_without_the_patch():
    model = TwoOutput().eval()
    patch.remove()
    try:
        with pytest.raises(Exception):
            cam_of(model, torch.randn(2, 1, 28, 28))
    finally:
        patch.apply()


def test_plain_model_identical_with_and_without_patch():
    torch.manual_seed(1)
    model = build_model("cnn").eval()
    x = torch.randn(4, 1, 28, 28)             # batch > 1: the source's edit misfired here
    patched = cam_of(model, x)
    patch.remove()
    try:
        unpatched = cam_of(model, x)
    finally:
        patch.apply()
    assert np.array_equal(patched, unpatched)


def test_unsupported_version_is_refused(monkeypatch):
    patch.remove()
    monkeypatch.setattr(patch.metadata, "version", lambda name: "2.0.0")
    try:
        with pytest.raises(patch.GradCamPatchError, match="grad-cam==1.5.7"):
            patch.apply()
    finally:
        monkeypatch.undo()
        patch.apply()


def test_changed_internals_are_detected(monkeypatch):
    from pytorch_grad_cam.base_cam import BaseCAM
    monkeypatch.setattr(patch.inspect, "getsource", lambda obj: "def forward(self): pass")
    with pytest.raises(patch.GradCamPatchError, match="no longer runs the model"):
        patch.check_internals("1.5.7")
    assert BaseCAM.forward
