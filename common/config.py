"""Profiles, paths, device and seeds: the settings every notebook shares, in one place.

A profile says how much work a run does:
- ``smoke``: tiny data and one short epoch, seconds; what the tests execute;
- ``quick``: real data, sized for a 2-core CPU, minutes per notebook (the default);
- ``full``: paper-scale, GPU recommended.
"""
from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

PROFILES = ("smoke", "quick", "full")
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Environment variables a user (or CI) may set instead of editing notebooks.
ENV_DATA_ROOT = "SNN_DATA_ROOT"      # where downloads go (default ./data)
ENV_MIRROR = "SNN_DATA_MIRROR"       # a local folder holding the datasets already (offline use)
ENV_OUTPUT = "SNN_OUTPUT_ROOT"       # where models/, results/ and videos/ are written
ENV_DEVICE = "SNN_DEVICE"            # force cpu / cuda / mps
ENV_OFFLINE = "SNN_OFFLINE"          # 1: never download, use only the mirror and the data root


def downloads_allowed(download: bool = True) -> bool:
    """``download`` unless $SNN_OFFLINE is set (tests, machines that must never fetch gigabytes)."""
    return download and os.environ.get(ENV_OFFLINE, "") in ("", "0")


# Smoke runs (seconds, for tests and first tries) never write beside the committed reference models,
# results and videos: their outputs go to this scratch folder (ignored by git) unless told otherwise.
SMOKE_OUTPUT_ROOT = PROJECT_ROOT / "runs" / "smoke" / "outputs"


def default_output_root(profile: str | None = None) -> Path:
    """$SNN_OUTPUT_ROOT, else the project (quick, full) or the smoke scratch folder."""
    if os.environ.get(ENV_OUTPUT):
        return Path(os.environ[ENV_OUTPUT])
    return SMOKE_OUTPUT_ROOT if profile == "smoke" else PROJECT_ROOT


def resolve_locations(data_root=None, mirror=None, output_root=None,
                      profile: str | None = None) -> tuple[str, str | None, str]:
    """(data root, mirror or None, output root): arguments first, then environment, then defaults."""
    return (str(data_root or os.environ.get(ENV_DATA_ROOT) or PROJECT_ROOT / "data"),
            mirror or os.environ.get(ENV_MIRROR) or None,
            str(output_root or default_output_root(profile)))


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA if present, then Apple MPS, else CPU; ``requested`` or $SNN_DEVICE overrides."""
    requested = requested or os.environ.get(ENV_DEVICE)
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class RunConfig:
    """Everything that defines one training run; recorded in its checkpoint and results file."""

    run_name: str
    dataset: str
    model: str
    model_kwargs: dict = field(default_factory=dict)
    profile: str = "quick"
    epochs: int = 1
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str | None = None
    data_root: str | None = None
    mirror: str | None = None
    output_root: str | None = None
    extra: dict = field(default_factory=dict)   # notebook-specific knobs, recorded as they are

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        self.data_root, self.mirror, self.output_root = resolve_locations(
            self.data_root, self.mirror, self.output_root, self.profile)
        self.device = str(pick_device(self.device))

    @property
    def tag(self) -> str:
        """File stem shared by this run's checkpoint, card, results and videos."""
        return f"{self.run_name}-{self.profile}"

    def path(self, kind: str, suffix: str) -> Path:
        """``kind`` is models / results / videos; the folder is created on demand."""
        folder = Path(self.output_root) / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{self.tag}{suffix}"

    def to_dict(self) -> dict:
        return asdict(self)


# The LIF-vs-ALIF headline comparison, the same in every profile: LIF and ALIF (rate code, no recurrence,
# trained decays) beside the MLP, on every dataset, at the profile's hidden size and epochs.
LIF_ALIF_MAIN = [
    {"model": ["rsnn"], "neuron": ["lif", "alif"], "recurrent": [False], "learn_beta": [True], "encoding": ["rate"]},
    {"model": ["mlp"]},
]

# How much work each experiment does in each profile: the one table to edit.
# smoke: seconds, for the tests (never reported); quick: real data on a 2-core CPU; full: paper scale.
PROFILE_SETTINGS = {
    "cnn_mnist": {
        "smoke": {"epochs": 1, "train_limit": 2000, "test_limit": 1000, "augment": False},
        "quick": {"epochs": 8, "train_limit": None, "test_limit": None, "augment": True},
        "full": {"epochs": 20, "train_limit": None, "test_limit": None, "augment": True},
    },
    # N-MNIST spiking CNNs (notebooks 02-04). The offline mirror holds 1,000/100 real recordings,
    # so there "quick" trains on all of them; with the full download it caps training at 10,000
    # recordings and still tests on the whole test set.
    "scnn_nmnist": {
        # max_shift: training recordings moved by up to 3 px (after the cache; never the test set)
        # folds: the fold study (common/nmnist_folds.py) pools every recording selected by the limits and
        # tests each once in stratified k-fold cross-validation; None keeps the official split (full).
        "smoke": {"epochs": 1, "n_time_bins": 10, "train_limit": 200, "test_limit": 100, "max_shift": 2,
                  "batch_size": 32, "lr": 1e-2, "folds": 2, "fold_seed": 0, "n_seeds": 1, "workers": 1},
        "quick": {"epochs": 30, "n_time_bins": 25, "train_limit": 10000, "test_limit": None, "max_shift": 3,
                  "batch_size": 32, "lr": 1e-2, "folds": 5, "fold_seed": 0, "n_seeds": 1, "workers": 2},
        "full": {"epochs": 30, "n_time_bins": 25, "train_limit": None, "test_limit": None, "max_shift": 3,
                 "batch_size": 32, "lr": 1e-2, "folds": None, "fold_seed": None, "n_seeds": 3, "workers": 2},
    },
    # DVS128 Gesture, spiking CNN and spiking LSTM (notebooks 05-06): events pooled to 32 x 32,
    # all 1,077 / 264 clips. Estimated for an idle 2-core CPU (batch 32, T=25): ~4 s/epoch for the spiking
    # CNN, ~32 s/epoch for the spiking LSTM (several times more on shared cores); "seeds": notebook 06.
    "dvsgesture": {
        "smoke": {"epochs": 1, "n_time_bins": 8, "train_limit": None, "test_limit": None,
                  "target_size": [32, 32], "seeds": 2},
        "quick": {"epochs": 10, "n_time_bins": 25, "train_limit": None, "test_limit": None,
                  "target_size": [32, 32], "seeds": 3},
        "full": {"epochs": 40, "n_time_bins": 25, "train_limit": None, "test_limit": None,
                 "target_size": [32, 32], "seeds": 3},
    },
    # LIF vs ALIF (notebook 07; common/rsnn.py, common/sweep.py). "main" (the headline comparison, also
    # shown in notebook 08 and the README) and "grid" (the other factors): lists of factor grids (the
    # union of their products), run on every dataset in "datasets" for seeds seed .. seed + n_seeds - 1;
    # a part without "epochs"/"hidden" uses the values here. T = n_steps.
    "lif_alif": {
        "smoke": {"n_steps": 8, "epochs": 1, "batch_size": 64, "lr": 5e-3, "hidden": 32, "n_seeds": 2,
                  "train_limit": None, "test_limit": None, "datasets": ["mnist", "fashion-mnist"],
                  "main": LIF_ALIF_MAIN,
                  "grid": [
                      # every other factor moved once, on MNIST only (seconds, for the tests)
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["lif", "alif"], "recurrent": [True],
                       "learn_beta": [True], "encoding": ["rate"]},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [False], "encoding": ["rate"]},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [True], "encoding": ["latency", "periodic"]},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [True], "encoding": ["rate"], "hidden": [16], "epochs": [2]},
                  ]},
        # quick: 33 cells, measured 30 min 33 s wall with 2 workers (1 torch thread each) on the idle
        # 2-core CPU, 2026-11-23: ~13-15 s per 60k-image epoch for LIF/ALIF (T=10, hidden 256, batch 128),
        # ~1.5 s for the MLP. Main comparison: 3 seeds; the one-factor-at-a-time cells: 2 seeds (wide
        # intervals; the full profile has 5), except training length 8 -> 20 epochs on Fashion-MNIST (3).
        "quick": {"n_steps": 10, "epochs": 8, "batch_size": 128, "lr": 2e-3, "hidden": 256, "n_seeds": 3,
                  "workers": 2, "train_limit": None, "test_limit": None, "datasets": ["mnist", "fashion-mnist"],
                  "main": LIF_ALIF_MAIN,
                  "grid": [
                      # one factor moved at a time from the ALIF base cell, on MNIST, seeds 0-1
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [True],
                       "learn_beta": [True], "encoding": ["rate"], "n_seeds": 2},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [False], "encoding": ["rate"], "n_seeds": 2},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [True], "encoding": ["latency", "periodic"], "n_seeds": 2},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [True], "encoding": ["rate"], "hidden": [128], "n_seeds": 2},
                      {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [True], "encoding": ["rate"], "epochs": [3], "n_seeds": 2},
                      # training length the other way, on Fashion-MNIST: 8 -> 20 epochs, 3 seeds
                      {"dataset": ["fashion-mnist"], "model": ["rsnn"], "neuron": ["alif"], "recurrent": [False],
                       "learn_beta": [True], "encoding": ["rate"], "epochs": [20]},
                  ]},
        "full": {"n_steps": 25, "epochs": 15, "batch_size": 128, "lr": 2e-3, "hidden": 128, "n_seeds": 5,
                 "workers": 2,
                 "train_limit": None, "test_limit": None, "datasets": ["mnist", "fashion-mnist"],
                 "main": LIF_ALIF_MAIN,
                 "grid": [
                     {"model": ["rsnn"], "neuron": ["lif", "alif"], "recurrent": [False, True],
                      "hidden": [64, 128, 256], "epochs": [15, 30], "learn_beta": [False, True],
                      "encoding": ["rate", "latency", "periodic"]},
                     {"model": ["mlp"], "hidden": [64, 128, 256], "epochs": [15, 30]},
                 ]},
    },
}


def profile_settings(experiment: str, profile: str) -> dict:
    """The settings of ``experiment`` under ``profile`` (a copy: notebooks may override knobs)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return dict(PROFILE_SETTINGS[experiment][profile])
