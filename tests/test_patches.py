"""patches/grad_cam_two_output.py: every CAM method of pytorch-grad-cam on a model that returns
(scores, membrane), compared with its plain twin; single-output models unchanged; applied in either
import order; ``import common`` itself stays free of grad-cam."""
import subprocess
import sys

import numpy as np
import pytest
import pytorch_grad_cam as gc
import torch
from torch import nn

import common  # noqa: F401  (importing the project installs the patch)
from common.config import PROJECT_ROOT
from common.networks.registry import build_model
from patches import grad_cam_two_output as patch

# Every CAM method the library exports (BaseCAM subclasses, and the wrappers built on one).
METHODS = ["GradCAM", "HiResCAM", "GradCAMElementWise", "GradCAMPlusPlus", "XGradCAM", "LayerCAM",
           "EigenCAM", "EigenGradCAM", "KPCA_CAM", "ScoreCAM", "AblationCAM", "FullGrad", "ShapleyCAM",
           "FEM", "RandomCAM", "FinerCAM", "RefineCAM", "SegEigenCAM"]


def test_the_list_covers_every_cam_method_the_library_ships():
    from pytorch_grad_cam.base_cam import BaseCAM
    shipped = {name for name in dir(gc) if isinstance(getattr(gc, name), type)
               and (issubclass(getattr(gc, name), BaseCAM) or name in ("FinerCAM", "RefineCAM"))}
    assert shipped <= set(METHODS) | {"SESS"}, shipped - set(METHODS)


class TwoOutput(nn.Module):
    """The plain CNN returning (scores, membrane), as an snntorch network returns (spikes, membrane)."""

    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, x):
        scores = self.cnn(x)
        return scores, torch.zeros_like(scores)


def run(method, model, layer, x):
    torch.manual_seed(0)
    np.random.seed(0)
    cls = getattr(gc, method)
    cam = cls(model, [layer])
    try:
        if method == "ScoreCAM":
            cam.batch_size = 8
        return cam(x) if method == "FinerCAM" else cam(x, None)
    finally:
        releaser = getattr(cam, "activations_and_grads", None) or getattr(getattr(cam, "base_cam", None),
                                                                           "activations_and_grads", None)
        if releaser is not None:
            releaser.release()


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return build_model("cnn").eval()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_a_two_output_model_as_its_plain_twin(method, cnn):
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    plain = run(method, cnn, cnn.conv2, x)
    two = run(method, TwoOutput(cnn), cnn.conv2, x)
    assert plain.shape == two.shape == (2, 28, 28) and np.isfinite(two).all()
    np.testing.assert_allclose(two, plain, atol=1e-5)


@pytest.mark.parametrize("method", ["GradCAM", "ScoreCAM", "EigenCAM", "AblationCAM"])
def test_a_plain_model_is_explained_exactly_as_without_the_patch(method, cnn):
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))   # batch > 1: the source's edit misfired
    patched = run(method, cnn, cnn.conv2, x)
    patch.remove()
    try:
        unpatched = run(method, cnn, cnn.conv2, x)
    finally:
        patch.apply()
    np.testing.assert_array_equal(patched, unpatched)


def test_without_the_patch_a_two_output_model_fails(cnn):
    patch.remove()
    try:
        for method in ("GradCAM", "ScoreCAM"):
            with pytest.raises(Exception):
                run(method, TwoOutput(cnn), cnn.conv2, torch.randn(2, 1, 28, 28))
    finally:
        patch.apply()
    assert patch.apply() is False and patch.is_applied()         # idempotent


IMPORTS = {
    "common first": "import common, pytorch_grad_cam",
    "grad-cam first": "import pytorch_grad_cam, common",
}


@pytest.mark.slow
@pytest.mark.parametrize("order", list(IMPORTS))
def test_applied_in_either_import_order(order):
    code = IMPORTS[order] + "; from patches.grad_cam_two_output import is_applied; assert is_applied()"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def test_import_common_imports_neither_grad_cam_nor_sklearn_nor_dynamo():
    code = ("import sys, common; heavy = [m for m in ('pytorch_grad_cam', 'sklearn', 'torch._dynamo') "
            "if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def test_unsupported_version_is_refused(monkeypatch):
    patch.remove()
    monkeypatch.setattr(patch.metadata, "version", lambda name: "2.0.0")
    try:
        with pytest.raises(patch.GradCamPatchError, match="grad-cam==1.5.7"):
            patch.apply()
    finally:
        monkeypatch.undo()
        patch.apply()


def test_changed_internals_are_detected():
    class Changed:
        def __init__(self, network, layers):
            self.network = network
    with pytest.raises(patch.GradCamPatchError, match="no longer takes and stores the model"):
        patch.check_internals(Changed, "1.5.7")
