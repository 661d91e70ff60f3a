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
# A run with overrides (an experiment on top of the study's specs) writes here by default, ignored by git: its models,
# records, videos and grid tables never sit among the reference files, where the report would read them.
EXPERIMENTS_ROOT = PROJECT_ROOT / "runs" / "experiments"


def default_output_root(profile: str | None = None, experiment: bool = False) -> Path:
    """$SNN_OUTPUT_ROOT, else the experiments' folder for a run with overrides, else the project (quick, full) or
    the smoke scratch folder."""
    if os.environ.get(ENV_OUTPUT):
        return Path(os.environ[ENV_OUTPUT])
    if experiment:
        return EXPERIMENTS_ROOT
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


def portable_text(text: str) -> str:
    """``text`` (a message, a traceback, a notebook's output) with this machine's paths to the repository and
    the folder beside it written relative to the repository, as committed files and notebooks' outputs keep them."""
    root, beside = str(PROJECT_ROOT), str(PROJECT_ROOT.parent)
    return text.replace(root + "/", "").replace(root, ".").replace(beside + "/", "../").replace(beside, "..")


def portable_config(config: dict) -> dict:
    """A run's config as records, cards and checkpoints keep it: its locations relative to the repository (or
    omitted), so no file of the study holds a path of the machine that wrote it."""
    return {**config, **{k: repo_relative(config.get(k)) for k in ("data_root", "mirror", "output_root")}}


def default_mirror() -> Path | None:
    return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def resolve_locations(data_root=None, mirror=None, output_root=None,
                      profile: str | None = None, experiment: bool = False) -> tuple[str, str | None, str]:
    """(data root, mirror or None, output root): arguments first, then the environment
    ($SNN_DATA_ROOT, $SNN_DATA_MIRROR, $SNN_OUTPUT_ROOT), then the defaults: ``./data``, the ``shared/datasets``
    folder beside the repository when it exists, the repository (or the smoke scratch folder; ``experiment``: a run
    with overrides, :data:`EXPERIMENTS_ROOT`).
    Every one of them the same for a notebook in Jupyter, ``python -m common.study``, make and the tests."""
    mirror = mirror or os.environ.get(ENV_MIRROR) or default_mirror()
    if str(mirror).lower() == NO_MIRROR:    # SNN_DATA_MIRROR=none: no mirror, not even the one beside the repository
        mirror = None
    return (str(project_path(data_root or os.environ.get(ENV_DATA_ROOT) or "data")),
            str(project_path(mirror)) if mirror else None,
            str(project_path(output_root or default_output_root(profile, experiment))))


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA if present, then Apple MPS, else CPU; ``requested`` or $SNN_DEVICE overrides."""
    requested = requested or os.environ.get(ENV_DEVICE)
    if requested:
        try:
            return torch.device(requested)
        except (RuntimeError, TypeError):   # "gpu": one sentence, not torch's parser error
            from common.files import StudyError
            raise StudyError(f"The device {requested!r}" + (f" (${ENV_DEVICE})" if os.environ.get(ENV_DEVICE) == requested
                                                            else "") +
                             " is not one torch knows: use cpu, cuda, cuda:<n> or mps.") from None
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


# Where a run reads and writes, and on what it runs: never part of what the run is, so moving a study to another
# folder or device (or changing a grid's worker count, which no run sees) reuses every checkpoint.
RESOURCES = ("device", "data_root", "mirror", "output_root")
# The arithmetic of a run's forward passes: float32 everywhere, or bfloat16 autocast (weights, optimizer and
# checkpoints stay float32); every run recorded before the knob existed was float32.
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class DataSettings:
    """What a run's data is, one field per knob: the profile sets them (common/runs/specs.py), a grid cell may set
    ``fold`` and ``encoding``. The loaders (common.runs.runner.load_data) read nothing else."""

    n_time_bins: int | None = None     # event frames per recording (N-MNIST, DVS Gesture)
    n_steps: int | None = None         # spike-train length of the LIF/ALIF grid's encoded images
    encoding: str | None = None        # how those images become spikes: rate / latency / periodic
    train_limit: int | None = None     # None: every sample
    test_limit: int | None = None
    max_shift: int = 0                 # training recordings moved by up to this many pixels (never the test set)
    augment: bool = False              # the spec's random affine on training images
    target_size: list | None = None    # events pooled to this frame size (DVS Gesture)
    folds: int | None = None           # the fold study: k stratified folds over every recording at hand ...
    fold_seed: int | None = None       # ... drawn with this seed ...
    fold: int | None = None            # ... and this one held out for testing (None: the official split)

    @classmethod
    def of(cls, settings: dict) -> "DataSettings":
        """The data fields of ``settings`` (a profile's row, or a run recorded before this class: its ``extra``).
        A run on the official split records no fold design, so its identity does not depend on one."""
        known = {k: settings[k] for k in cls.__dataclass_fields__ if settings.get(k) is not None}
        if "encoding" not in known and isinstance(settings.get("cell"), dict) and settings["cell"].get("encoding"):
            known["encoding"] = settings["cell"]["encoding"]      # the LIF/ALIF grid once kept it in its cell
        if known.get("fold") is None:
            known.pop("folds", None), known.pop("fold_seed", None)
        if known.get("target_size") is not None:
            known["target_size"] = list(known["target_size"])
        return cls(**known)


@dataclass
class RunConfig:
    """Everything that defines one training run (its identity: :func:`identity_of`; a checkpoint is this run's iff
    the identities agree) and where it runs (:data:`RESOURCES`); recorded whole in its checkpoint and results file."""

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
    data: DataSettings = field(default_factory=DataSettings)
    objective: dict | None = None       # "kind" and its rates (common.networks.objectives)
    optimizer: str | None = None        # "adamw_one_cycle": AdamW, one-cycle to lr, stepped per batch
    augmentation: dict | None = None    # what moves training samples: {"random_affine": ...} / {"random_shift_px": k}
    spec: str | None = None             # the spec of the study's table it resolves (common.runs.specs.SPECS)
    precision: str = "float32"          # "bfloat16": forward passes under autocast (common.runs.train.precision_scope)
    device: str | None = None
    data_root: str | None = None
    mirror: str | None = None
    output_root: str | None = None

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        self.data_root, self.mirror, self.output_root = resolve_locations(
            self.data_root, self.mirror, self.output_root, self.profile)
        self.device = str(pick_device(self.device))
        if isinstance(self.data, dict):
            self.data = DataSettings(**self.data)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

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

    @classmethod
    def from_dict(cls, config: dict) -> "RunConfig":
        """A config as a record or checkpoint keeps it, including one written before :class:`DataSettings` (its
        data settings in ``extra``)."""
        config = dict(config)
        if "extra" in config:
            config["data"] = asdict(DataSettings.of(config.pop("extra") or {}))
        return cls(**{k: v for k, v in config.items() if k in cls.__dataclass_fields__})


# A run recorded before these were part of RunConfig does not say them: it is compared on what it records.
ADDED_TO_IDENTITY = ("objective", "optimizer", "augmentation", "spec")


def identity_of(config: dict) -> dict:
    """The identity of a recorded config: its fields without :data:`RESOURCES`, its data
    settings as :class:`DataSettings` keeps them (a config from before that class: converted from its ``extra``)."""
    same = {k: v for k, v in config.items() if k not in RESOURCES and k != "extra"}
    data = config.get("data")
    if data is None:
        data = asdict(DataSettings.of(config.get("extra") or {}))
        for k in ADDED_TO_IDENTITY:
            same.pop(k, None)
    elif isinstance(data, DataSettings):
        data = asdict(data)
    same["data"] = dict(data)
    same.setdefault("precision", PRECISIONS[0])
    return same


def identity_differences(saved: dict, expected: dict) -> dict[str, tuple]:
    """The knobs (one level deep: ``model_kwargs.beta``, ``data.fold``) in which two recorded configs are different
    runs, with both values; empty: the same run. A field of :data:`ADDED_TO_IDENTITY` counts where both record it."""
    def flat(config):
        return {f"{k}.{n}" if isinstance(v, dict) else k: x for k, v in config.items()
                for n, x in (v.items() if isinstance(v, dict) and v else [(None, v)])}

    a, b = identity_of(saved), identity_of(expected)
    for k in ADDED_TO_IDENTITY:
        if k not in a or k not in b:
            a.pop(k, None), b.pop(k, None)
    mine, theirs = flat(a), flat(b)
    return {k: (mine.get(k), theirs.get(k)) for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)}
