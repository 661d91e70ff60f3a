"""The shared core every notebook imports: specs, data, models, the runner, Grad-CAM, results, plots.

Importing it installs the library fixes in ``patches/`` (an import hook: pytorch-grad-cam is patched
when it is first imported, so ``import common`` itself stays light; see patches/grad_cam_two_output.py).
Models are registered where they are defined; ``build_model`` imports their module on first use.
"""
import patches as _patches

from .checkpoint import CheckpointError, load_model, save_checkpoint
from .config import PROFILES, PROJECT_ROOT, RunConfig, pick_device, seed_everything
from .data import DatasetCorruptError, DatasetNotFoundError
from .models import build_model, count_parameters
from .records import load_results
from .specs import setup
from .objectives import CROSS_ENTROPY, Objective
from .train import evaluate, fit

_patches.apply_all()
