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
ENV_MIRROR = "SNN_DATA_MIRROR"       # a local folder holding the datasets already (offline use); "none": no mirror
NO_MIRROR = "none"
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


# The offline mirror a clone finds without being told: the study's shared folder beside the repository.
DEFAULT_MIRROR = PROJECT_ROOT.parent / "shared" / "datasets"


def project_path(path) -> Path:
    """``path`` with a relative one read against the repository root (not the kernel's working folder, which
    is ``notebooks/`` in Jupyter), so a path copied from a message works wherever it is used."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def repo_relative(path) -> str | None:
    """``path`` as committed files keep it: relative to the repository (``data``, ``../shared/datasets``) when it
    lies in the repository or in the shared folder beside it, else None (a scratch folder of one machine, even one
    beside the clone, says nothing to another)."""
    if path is None:
        return None
    path = project_path(path)
    for base in (PROJECT_ROOT, DEFAULT_MIRROR.parent):
        if path.is_relative_to(base):
            return os.path.relpath(path, PROJECT_ROOT)
    return None


def shown(path) -> str:
    """``path`` for a message or a committed file: relative to the repository where it can be, else as it is."""
    return repo_relative(path) or str(path)


def portable_config(config: dict) -> dict:
    """A run's config as records, cards and checkpoints keep it: its locations relative to the repository (or
    omitted), so no file of the study holds a path of the machine that wrote it."""
    return {**config, **{k: repo_relative(config.get(k)) for k in ("data_root", "mirror", "output_root")}}


def default_mirror() -> Path | None:
    return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def resolve_locations(data_root=None, mirror=None, output_root=None,
                      profile: str | None = None) -> tuple[str, str | None, str]:
    """(data root, mirror or None, output root): arguments first, then the environment
    ($SNN_DATA_ROOT, $SNN_DATA_MIRROR, $SNN_OUTPUT_ROOT), then the defaults: ``./data``, the ``shared/datasets``
    folder beside the repository when it exists, the repository (or the smoke scratch folder).
    Every one of them the same for a notebook in Jupyter, ``python -m common.study``, make and the tests."""
    mirror = mirror or os.environ.get(ENV_MIRROR) or default_mirror()
    if str(mirror).lower() == NO_MIRROR:    # SNN_DATA_MIRROR=none: no mirror, not even the one beside the repository
        mirror = None
    return (str(project_path(data_root or os.environ.get(ENV_DATA_ROOT) or "data")),
            str(project_path(mirror)) if mirror else None,
            str(project_path(output_root or default_output_root(profile))))


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
    batch_size: int | None = None   # set by the run's spec (common/runs/specs.py)
    lr: float | None = None
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
