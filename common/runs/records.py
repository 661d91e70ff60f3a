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
import math
import os
import subprocess
import warnings
from importlib import metadata
from pathlib import Path

import torch

from common.config import PROJECT_ROOT, RunConfig, default_output_root, identity_of, portable_config
from common.files import atomic_write, exclusive, read_json, write_json
from common.machine import machine

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


def make_record(config: RunConfig, outcome: dict, **measurements) -> dict:
    """The record of one run from :func:`common.runs.train.fit`'s outcome and the run's ``measurements``
    (parameter count, spikes per layer, accuracy over time, ...). The test predictions and labels stay
    tensors here, for the notebook's use; :func:`on_disk` writes them as lists."""
    return {
        "run": config.tag, "config": portable_config(config.to_dict()), "test": outcome["test"],
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


# What a re-evaluation of the same model changes without changing its result: when and where it ran, how long
# the evaluation took. A record that differs from the one on disk only in these is not rewritten.
# ``migrated``: how a record written before the typed config got it (common/runs/migrate_records.py).
PROVENANCE = ("date", "git_commit", "machine", "packages", "device", "results_file", "migrated")
LOCATIONS = ("device", "data_root", "mirror", "output_root")


def result_of(record: dict) -> dict:
    """``record`` on disk without its provenance and timings of evaluation: what a rerun must reproduce."""
    kept = {k: v for k, v in json.loads(json.dumps(on_disk(record), default=str)).items() if k not in PROVENANCE}
    kept["test"] = {k: v for k, v in kept.get("test", {}).items() if k != "seconds"}
    kept["config"] = identity_of(kept.get("config", {}))   # the run's identity: no locations
    return kept


def same_result(a, b, rel_tol: float = 1e-6) -> bool:
    """``a == b``, floats to ``rel_tol``: another CPU sums a test loss in another order (the CNN's moved in the
    tenth digit between a Xeon and an EPYC, every prediction the same), which is not another result."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=rel_tol)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_result(x, y, rel_tol) for x, y in zip(a, b))
    return a == b


def machine_paths(record: dict) -> bool:
    """Whether a record written before paths were kept relative holds an absolute path of its machine."""
    return any(os.path.isabs(str(v)) for k, v in record.get("config", {}).items() if k in LOCATIONS and v)


def save_record(record: dict, output_root: str | Path) -> Path:
    """Write a single run's record to ``results/<run>.json`` (atomically), unless the file there already holds
    the same result (then it is left as it is: a resumed study leaves ``git status`` clean). An evaluation
    without training data (``evaluation_only``) never replaces the record of the run that trained the model."""
    path = Path(output_root) / "results" / f"{record['run']}.json"
    if path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except ValueError:
            earlier = None
        if earlier is not None and same_result(result_of(earlier), result_of(record)) and not machine_paths(earlier):
            return path
        if earlier is not None and record.get("evaluation_only") and not earlier.get("evaluation_only"):
            print(f"{path.name} keeps the record of the run that trained the model: this evaluation had no "
                  f"training data (test accuracy here {record['test']['accuracy']:.2%}, "
                  f"recorded {earlier['test']['accuracy']:.2%}).")
            return path
    write_json(path, on_disk(record))
    return path


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


CELL_KEY = "cell_key"   # as common.runs.grid tags a grid's rows (common.runs.stats.KEY)


class TableWarning(UserWarning):
    """Lines of a results table were left out: not JSON, not a record with a ``cell_key``, or a cell's second row."""


class ResultsTable:
    """A JSONL file of records, each tagged with its ``cell_key``: at most one row per cell, one writer at a time.

    :meth:`append` takes the table's lock (``.<name>.lock`` beside it), re-reads the table, leaves out a
    row whose cell is there already, and rewrites the table atomically: two runs appending the same
    cells leave one row per cell. A line that is not JSON or has no ``cell_key``, and a cell's second
    row (the first is kept), are left out by every reader with a :class:`TableWarning` naming the file
    and the line, and moved, at the next write, to ``<name>.rejected`` beside the table (with the reason
    in a ``#`` line above each): never dropped in silence, never counted twice.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def rejected_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rejected")

    def lock(self):
        """The table's lock (common.files.exclusive), for whoever claims and runs its cells."""
        return exclusive(self.path, f"the results table {self.path}")

    def _read(self) -> tuple[list[dict], list[tuple[int, str, str]]]:
        """(rows: the first of each cell, left out: (line number, line, why) for every other line)."""
        if not self.path.exists():
            return [], []
        rows, left_out, first_line = [], [], {}
        for number, raw in enumerate(self.path.read_bytes().splitlines(), 1):
            try:
                line = raw.decode()
                if not line.strip():
                    continue
                row = json.loads(line)
            except UnicodeDecodeError:
                left_out.append((number, raw.decode(errors="replace"), "not text"))
                continue
            except json.JSONDecodeError as error:
                left_out.append((number, line, f"not JSON: {error.msg} at column {error.colno}"))
                continue
            key = row.get(CELL_KEY) if isinstance(row, dict) else None
            if not isinstance(key, str):
                left_out.append((number, line, f"not a grid record: no {CELL_KEY!r}"))
            elif key in first_line:
                left_out.append((number, line, f"a second row of cell {key} (line {first_line[key]} kept)"))
            else:
                first_line[key] = number
                rows.append(row)
        return rows, left_out

    def _report(self, left_out, fate: str) -> str:
        shown = "; ".join(f"line {n}: {why}" for n, _, why in left_out[:5])
        more = f"; and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        return f"{self.path}: {len(left_out)} line(s) left out ({shown}{more}). {fate}"

    def rows(self) -> list[dict]:
        rows, left_out = self._read()
        if left_out:
            warnings.warn(self._report(left_out, f"They move to {self.rejected_path.name} at the table's next "
                                                 f"write; a cell without a row is run again."), TableWarning,
                          stacklevel=2)
        return rows

    def keys(self) -> set[str]:
        return {row[CELL_KEY] for row in self.rows()}

    def append(self, *rows: dict) -> None:
        """Add ``rows`` (each with its ``cell_key``) under the table's lock; a cell already in the table
        keeps its row (the new one is reported and dropped). With no rows: only set bad lines aside."""
        missing = [row for row in rows if not isinstance(row.get(CELL_KEY), str)]
        if missing:
            raise ValueError(f"rows appended to {self.path} need a {CELL_KEY!r} (the grid's cell key); "
                             f"{len(missing)} of {len(rows)} have none")
        with self.lock():
            kept, left_out = self._read()
            have = {row[CELL_KEY] for row in kept}
            new = []
            for row in rows:
                if row[CELL_KEY] in have:
                    warnings.warn(f"{self.path}: cell {row[CELL_KEY]} has a row already; the new row is not "
                                  f"appended (another run finished the cell first)", TableWarning, stacklevel=2)
                else:
                    have.add(row[CELL_KEY])
                    new.append(row)
            if left_out:
                self._set_aside(left_out)
            if new or left_out:
                text = "".join(json.dumps(on_disk(row), default=str) + "\n" for row in [*kept, *new])
                atomic_write(self.path, lambda handle: handle.write(text.encode()))

    def _set_aside(self, left_out) -> None:
        earlier = self.rejected_path.read_bytes() if self.rejected_path.exists() else b""
        added = "".join(f"# {self.path.name} line {n}: {why}\n{line}\n" for n, line, why in left_out).encode()
        atomic_write(self.rejected_path, lambda handle: handle.write(earlier + added))
        warnings.warn(self._report(left_out, f"Moved to {self.rejected_path}."), TableWarning, stacklevel=3)

    def frame(self):
        return frame(self.rows())


def load_results(folder: str | Path | None = None, profile: str | None = None) -> list[dict]:
    """Every results file in ``folder`` (default ``results/``), optionally of one profile; a file that is
    not valid JSON fails naming the file and the line (common.files.read_json)."""
    folder = Path(folder or PROJECT_ROOT / "results")
    records = [read_json(p, fix="Delete it and run its notebook again (finished runs are reused), or restore "
                                "it from git.") for p in sorted(folder.glob("*.json"))]
    records = [r for r in records if isinstance(r, dict) and "config" in r and "test" in r]   # not e.g. efficiency-<profile>.json
    return [r for r in records if profile is None or r["config"]["profile"] == profile]
