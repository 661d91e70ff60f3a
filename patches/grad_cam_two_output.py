"""Let pytorch-grad-cam explain models that return a tuple, such as snntorch's (spikes, membrane).

pytorch-grad-cam takes the model output as one tensor: ``BaseCAM.forward`` argmaxes it for the
default targets, and methods that run the model themselves (ScoreCAM, AblationCAM, SESS, ...) score
``self.model(x)`` directly. A model returning ``(spk, mem)`` breaks all of them. The source study edited
site-packages by hand (``if len(outputs) > 1: outputs = outputs[0]``), which also fired for every plain
tensor with a batch larger than one.

This patch wraps ``BaseCAM.__init__``, through which every CAM method of the library is built, so that
its ``model`` is seen through :class:`FirstOutput`: a tuple or list output is replaced by its first
element and anything else is returned untouched, so single-output models behave exactly as before.
The model's modules are the wrapper's children, so target-layer hooks, AblationCAM's layer swap and
FullGrad's bias search find them as before.

It is applied when pytorch-grad-cam is first imported (an import hook, :func:`install`), or at once if
it already was, so ``import common`` itself does not import grad-cam (nor sklearn or dynamo, which it
pulls in).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import sys
from importlib import metadata

SUPPORTED = ("1.5.",)   # grad-cam releases whose internals this patch was checked against
MARKER = "_snn_study_two_output_patch"
TARGET = "pytorch_grad_cam.base_cam"


class GradCamPatchError(RuntimeError):
    """The installed grad-cam no longer has the internals this patch relies on."""


def first_output(output):
    """(spikes, membrane) -> spikes; a plain tensor is returned as it is."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _first_output_module():
    from torch import nn

    class FirstOutput(nn.Module):
        """The model, returning the first element of a tuple output and any other output as it is."""

        def __init__(self, model: nn.Module):
            super().__init__()
            self.model = model

        def forward(self, *args, **kwargs):
            return first_output(self.model(*args, **kwargs))

    return FirstOutput


def check_internals(base_cam, version: str) -> None:
    parameters = list(inspect.signature(base_cam.__init__).parameters)
    if parameters[:2] != ["self", "model"] or "self.model = model" not in inspect.getsource(base_cam.__init__):
        raise GradCamPatchError(
            f"grad-cam {version}: BaseCAM.__init__ no longer takes and stores the model as before, so the "
            f"two-output patch cannot be applied. Install the pinned release: pip install 'grad-cam==1.5.7'.")


def patch_base_cam(base_cam) -> bool:
    """Wrap ``base_cam.__init__`` once. Returns True if it was wrapped by this call."""
    if getattr(base_cam.__init__, MARKER, False):
        return False
    version = metadata.version("grad-cam")
    if not version.startswith(SUPPORTED):
        raise GradCamPatchError(f"grad-cam {version} is not a release this patch was checked against "
                                f"({', '.join(v + 'x' for v in SUPPORTED)}). Install grad-cam==1.5.7.")
    check_internals(base_cam, version)
    FirstOutput = _first_output_module()
    original = base_cam.__init__

    def __init__(self, model, *args, **kwargs):
        original(self, model if isinstance(model, FirstOutput) else FirstOutput(model), *args, **kwargs)

    setattr(__init__, MARKER, True)
    __init__.__wrapped__ = original
    base_cam.__init__ = __init__
    base_cam._snn_study_first_output = FirstOutput
    return True


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds ``pytorch_grad_cam.base_cam`` as Python would, and patches it right after it executes."""

    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            patch_base_cam(module.BaseCAM)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Patch now if grad-cam is imported already, else when it is first imported. Idempotent."""
    if TARGET in sys.modules:
        patch_base_cam(sys.modules[TARGET].BaseCAM)
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def apply() -> bool:
    """Import grad-cam and patch it now (returns True if this call patched it)."""
    from pytorch_grad_cam.base_cam import BaseCAM

    return patch_base_cam(BaseCAM)


def is_applied() -> bool:
    base_cam = sys.modules.get(TARGET)
    return base_cam is not None and getattr(base_cam.BaseCAM.__init__, MARKER, False)


def remove() -> None:
    """Undo the patch (used by the tests to compare patched and unpatched behaviour)."""
    base_cam = sys.modules.get(TARGET)
    if base_cam is not None and getattr(base_cam.BaseCAM.__init__, MARKER, False):
        base_cam.BaseCAM.__init__ = base_cam.BaseCAM.__init__.__wrapped__
