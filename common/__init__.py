"""The shared core every notebook imports: specs, data, models, the runner, Grad-CAM, results, plots.

Importing it installs the library fixes in ``patches/`` (an import hook: pytorch-grad-cam is patched
when it is first imported, so ``import common`` itself stays light; see patches/grad_cam_two_output.py).
Models are registered where they are defined; ``build_model`` imports their module on first use.
"""
import os as _os
import sys as _sys


def _quiet_progress_bars() -> None:
    """Library progress bars (tqdm: training, evaluation, pytorch-grad-cam's ROAD) are for a person watching. A
    kernel that no one watches, started by papermill or nbconvert rather than by a Jupyter server's session (which
    sets $JPY_SESSION_NAME), would save every refresh of every bar into the executed notebook: there they are off.
    tqdm reads $TQDM_DISABLE once, when it is first imported (an explicit value is kept), and its notebook bar
    (``tqdm.auto`` in a kernel) ignores it, so ``tqdm.auto`` is made the plain bar, which obeys it."""
    if "ipykernel" not in _sys.modules or _os.environ.get("JPY_SESSION_NAME") or "tqdm" in _sys.modules:
        return
    _os.environ.setdefault("TQDM_DISABLE", "1")
    import tqdm.auto
    import tqdm.autonotebook
    import tqdm.std

    for module in (tqdm.auto, tqdm.autonotebook):
        module.tqdm, module.trange = tqdm.std.tqdm, tqdm.std.trange


_quiet_progress_bars()

import patches as _patches  # noqa: E402
from common.config import PROFILES, PROJECT_ROOT, RunConfig, pick_device, portable_text, seed_everything
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.networks.objectives import CROSS_ENTROPY, Objective
from common.networks.registry import build_model, count_parameters
from common.runs.checkpoint import CheckpointError, load_model, save_checkpoint
from common.runs.records import load_results
from common.runs.specs import setup
from common.runs.train import evaluate, fit

_patches.apply_all()


def _missing_data_in_one_message() -> None:
    """In a notebook, a dataset that is not here stops the notebook with what is missing and how to get it, in the
    error's own words, not a traceback through the study's code. IPython shows ``_render_traceback_`` in place of
    the traceback; the error is still a DatasetNotFoundError (``python -m common.study`` records the notebook as
    skipped), and Jupyter's "Run All" stops there. Set here, by the package's face, because common/data is the
    data floor and knows nothing of notebooks."""
    def one_message(error) -> list[str]:
        return [portable_text(f"{type(error).__name__}: {error}"), "",
                "This notebook stops here: it has no data to run on (nothing after this cell ran)."]

    DatasetNotFoundError._render_traceback_ = one_message


_missing_data_in_one_message()

__all__ = ["CROSS_ENTROPY", "PROFILES", "PROJECT_ROOT", "CheckpointError", "DatasetCorruptError", "DatasetNotFoundError",
           "Objective", "RunConfig", "build_model", "count_parameters", "evaluate", "fit", "load_model", "load_results",
           "pick_device", "save_checkpoint", "seed_everything", "setup"]
