"""Let pytorch-grad-cam explain models that return a tuple, such as snntorch's (spikes, membrane).

pytorch-grad-cam's ``BaseCAM.forward`` takes the model output as one tensor (argmax for the
default targets, ``target(output)`` per sample). A model returning ``(spk, mem)`` breaks both.
The source study edited site-packages by hand (``if len(outputs) > 1: outputs = outputs[0]``),
which also fired for every plain tensor with a batch larger than one.

This patch wraps ``ActivationsAndGradients.__call__`` (what ``BaseCAM.forward`` calls to run the
model) so that a tuple or list output is replaced by its first element, and anything else is
returned untouched: single-output models behave exactly as before.
"""
from __future__ import annotations

import inspect
from importlib import metadata

SUPPORTED = ("1.5.",)   # grad-cam releases whose internals this patch was checked against
MARKER = "_snn_study_two_output_patch"


class GradCamPatchError(RuntimeError):
    """The installed grad-cam no longer has the internals this patch relies on."""


def first_output(output):
    """(spikes, membrane) -> spikes; a plain tensor is returned as it is."""
    return output[0] if isinstance(output, (tuple, list)) else output


def check_internals(version: str) -> None:
    from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients
    from pytorch_grad_cam.base_cam import BaseCAM

    source = inspect.getsource(BaseCAM.forward)
    if "self.activations_and_grads(input_tensor)" not in source or not callable(
            getattr(ActivationsAndGradients, "__call__", None)):
        raise GradCamPatchError(
            f"grad-cam {version}: BaseCAM.forward no longer runs the model through "
            f"ActivationsAndGradients.__call__, so the two-output patch cannot be applied. "
            f"Install the pinned release: pip install 'grad-cam==1.5.7'.")


def apply() -> bool:
    """Install the patch once. Returns True if it was installed by this call."""
    from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients

    if getattr(ActivationsAndGradients.__call__, MARKER, False):
        return False
    version = metadata.version("grad-cam")
    if not version.startswith(SUPPORTED):
        raise GradCamPatchError(f"grad-cam {version} is not a release this patch was checked against "
                                f"({', '.join(v + 'x' for v in SUPPORTED)}). Install grad-cam==1.5.7.")
    check_internals(version)
    original = ActivationsAndGradients.__call__

    def __call__(self, x):
        return first_output(original(self, x))

    setattr(__call__, MARKER, True)
    __call__.__wrapped__ = original
    ActivationsAndGradients.__call__ = __call__
    return True


def remove() -> None:
    """Undo the patch (used by the tests to compare patched and unpatched behaviour)."""
    from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients

    if getattr(ActivationsAndGradients.__call__, MARKER, False):
        ActivationsAndGradients.__call__ = ActivationsAndGradients.__call__.__wrapped__
