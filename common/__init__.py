"""The shared core every notebook imports: data, models, training, Grad-CAM, results, plots.

Importing it applies the library fixes in ``patches/`` (see patches/grad_cam_two_output.py).
"""
import patches as _patches

from .checkpoint import CheckpointError, load_model, save_checkpoint
from .config import PROFILES, PROJECT_ROOT, RunConfig, pick_device, seed_everything
from .data import DatasetCorruptError, DatasetNotFoundError
from . import rsnn as _rsnn, slstm as _slstm, snn as _snn  # register every model, so checkpoints rebuild them
from .models import build_model, count_parameters
from .results import load_results, save_results
from .objectives import CROSS_ENTROPY, Objective
from .train import evaluate, fit

_patches.apply_all()
