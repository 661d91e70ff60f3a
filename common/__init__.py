"""The shared core every notebook imports: specs, data, models, the runner, Grad-CAM, results, plots.

Importing it installs the library fixes in ``patches/`` (an import hook: pytorch-grad-cam is patched
when it is first imported, so ``import common`` itself stays light; see patches/grad_cam_two_output.py).
Models are registered where they are defined; ``build_model`` imports their module on first use.
"""
import patches as _patches
from common.config import PROFILES, PROJECT_ROOT, RunConfig, pick_device, seed_everything
from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.networks.objectives import CROSS_ENTROPY, Objective
from common.networks.registry import build_model, count_parameters
from common.runs.checkpoint import CheckpointError, load_model, save_checkpoint
from common.runs.records import load_results
from common.runs.specs import setup
from common.runs.train import evaluate, fit

_patches.apply_all()

__all__ = ["CROSS_ENTROPY", "PROFILES", "PROJECT_ROOT", "CheckpointError", "DatasetCorruptError", "DatasetNotFoundError",
           "Objective", "RunConfig", "build_model", "count_parameters", "evaluate", "fit", "load_model", "load_results",
           "pick_device", "save_checkpoint", "seed_everything", "setup"]
