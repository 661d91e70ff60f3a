"""The study's one record format: what was run, on what, and what came out.

A *record* is one run: its config, test results, training history, measurements and provenance
(machine, packages, commit, date). A single run writes it to ``results/<run>-<profile>.json``; a
cell of a grid (LIF/ALIF, N-MNIST folds, notebook 06's seeds) appends the same record, plus its ``cell`` and
``cell_key``, as one line of ``results/<grid>-<profile>.jsonl`` (:class:`ResultsTable`). Both are
written atomically. The comparison notebook and the README read only these files, so every number
they show can be traced back to a config, a machine and a commit.
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

from common.config import PROJECT_ROOT, RunConfig, default_output_root
from common.files import atomic_write, write_json

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
    from common.networks.layout import cpu_description
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu": cpu_description(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version()}


def make_record(config: RunConfig, outcome: dict, **measurements) -> dict:
    """The record of one run from :func:`common.runs.train.fit`'s outcome and the run's ``measurements``
    (parameter count, spikes per layer, accuracy over time, ...). The test predictions and labels stay
    tensors here, for the notebook's use; :func:`on_disk` writes them as lists."""
    return {
        "run": config.tag, "config": config.to_dict(), "test": outcome["test"],
        "history": outcome["history"], "train_seconds": outcome["train_seconds"],
        "checkpoint": os.path.relpath(outcome["checkpoint"], config.output_root),
        "device": config.device, "machine": machine(), "packages": package_versions(),
        "git_commit": git_commit(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **measurements,
    }


def on_disk(record: dict) -> dict:
    """``record`` as written: the test predictions and labels as lists (paired tests need them); other
    tensors (a model's answers after every time bin) left out unless a study kept them as lists."""
    kept = {k: v for k, v in record.items() if not torch.is_tensor(v)}
    if "test" in record:
        kept["test"] = {k: v.tolist() if torch.is_tensor(v) else v for k, v in record["test"].items()}
    return kept


def save_record(record: dict, output_root: str | Path) -> Path:
    """Write a single run's record to ``results/<run>.json`` (atomically)."""
    path = Path(output_root) / "results" / f"{record['run']}.json"
    write_json(path, on_disk(record))
    return path


def accuracy(record: dict) -> float:
    return record["test"]["accuracy"]


def flat(record: dict) -> dict:
    """One line of a table: a grid record's cell factors and seed, its test results (``test_accuracy``,
    ``test_samples``, ``test_loss``, ``no_decision``) and every other scalar or list it holds. A line
    already flat is returned as it is, so the readers of a grid take records and lines alike."""
    if "config" not in record:
        return record
    test = record["test"]
    return {**{k: v for k, v in record.items() if k not in ("test", "config", "history", "cell", "machine", "packages")},
            **record.get("cell", {}), "seed": record["config"]["seed"], "test_accuracy": test["accuracy"],
            "test_samples": test["n_samples"], "test_loss": test.get("loss"), "no_decision": test.get("no_decision")}


def frame(records: list[dict]):
    """A DataFrame of :func:`flat` lines, one per record (what common.runs.stats summarises)."""
    import pandas as pd
    return pd.DataFrame([flat(r) for r in records])


def table_path(study: str, profile: str, output_root=None) -> Path:
    """Where a grid's table lives: ``<output root>/results/<study>-<profile>.jsonl``."""
    return Path(output_root or default_output_root(profile)) / "results" / f"{study}-{profile}.jsonl"


class ResultsTable:
    """A JSONL file of records, each tagged with its ``cell_key``; appends rewrite it atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def keys(self) -> set[str]:
        return {row["cell_key"] for row in self.rows()}

    def append(self, *rows: dict) -> None:
        text = "".join(json.dumps(on_disk(row), default=str) + "\n" for row in [*self.rows(), *rows])
        atomic_write(self.path, lambda handle: handle.write(text.encode()))

    def frame(self):
        return frame(self.rows())


def load_results(folder: str | Path | None = None, profile: str | None = None) -> list[dict]:
    """Every results file in ``folder`` (default ``results/``), optionally of one profile."""
    folder = Path(folder or PROJECT_ROOT / "results")
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    records = [r for r in records if "config" in r and "test" in r]   # not e.g. efficiency-<profile>.json
    return [r for r in records if profile is None or r["config"]["profile"] == profile]
