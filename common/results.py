"""One results JSON per run: what was run, on what, and what came out.

The comparison notebook and the README read only these files, so every number they show can be
traced back to a config, a machine and a commit.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from .checkpoint import write_json
from .config import PROJECT_ROOT, RunConfig

PACKAGES = ("torch", "torchvision", "snntorch", "tonic", "grad-cam", "numpy", "opencv-python-headless")


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version()}


def save_results(config: RunConfig, outcome: dict, **extra) -> Path:
    """Write ``results/<run>-<profile>.json`` from :func:`common.train.fit`'s outcome.

    ``extra`` holds notebook-specific measurements (parameter count, spikes per layer, ...).
    Tensors in the outcome (predictions) are left out: the checkpoint can recompute them.
    """
    test = {k: v for k, v in outcome["test"].items() if not torch.is_tensor(v)}
    record = {
        "run": config.tag, "config": config.to_dict(), "test": test,
        "history": outcome["history"], "train_seconds": outcome["train_seconds"],
        "checkpoint": os.path.relpath(outcome["checkpoint"], config.output_root),
        "device": config.device, "machine": machine(), "packages": package_versions(),
        "git_commit": git_commit(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    path = config.path("results", ".json")
    write_json(path, record)
    return path


def load_results(folder: str | Path | None = None, profile: str | None = None) -> list[dict]:
    """Every results file in ``folder`` (default ``results/``), optionally of one profile."""
    folder = Path(folder or PROJECT_ROOT / "results")
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    records = [r for r in records if "config" in r and "test" in r]   # not e.g. efficiency-<profile>.json
    return [r for r in records if profile is None or r["config"]["profile"] == profile]
