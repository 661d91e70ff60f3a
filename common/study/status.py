"""What the last study run did: ``runs/<profile>/study.json``, a line per notebook (ran / skipped / failed,
its time and why). Written by the study command after every notebook; read by notebook 08 and the README."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

from common.config import PROJECT_ROOT, portable_text  # noqa: F401  (read here by the study's runner and tests)

STATUS_FILE = "study.json"


@dataclass
class NotebookOutcome:
    notebook: str
    status: str                # "ran", "skipped" (its data is absent) or "failed"
    seconds: float
    reason: str = ""           # for skipped and failed: the error's message
    executed: str = ""         # the executed notebook, with outputs and any traceback


def first_lines(text: str, n: int = 3) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[:n])


def write_status(path: Path, profile: str, outcomes: list[NotebookOutcome], earlier: dict | None = None) -> None:
    """The table of this run, merged with the ``earlier`` one (the file as it was):
    - a notebook this run did not run (``--only``) keeps its earlier entry;
    - a notebook skipped for absent data keeps an earlier entry that ran (a run without data never overwrites
      what a run with data left: its results and executed notebook are still there);
    - an entry that says what the earlier one said keeps the earlier one, timing included; and a table that
      changes nothing is not written again, so a resumed study leaves ``git status`` clean.
    Messages and paths are written relative to the repository."""
    from common.files import write_json

    before = {n["notebook"]: n for n in (earlier or {}).get("notebooks", [])} \
        if (earlier or {}).get("profile") == profile else {}
    entries = dict(before)
    for outcome in outcomes:
        entry = {**asdict(outcome), "reason": portable_text(outcome.reason), "executed": portable_text(outcome.executed)}
        old = before.get(outcome.notebook)
        if old and ((entry["status"] == "skipped" and old["status"] == "ran")
                    or all(old.get(k) == entry[k] for k in ("status", "reason", "executed"))):
            continue
        entries[outcome.notebook] = entry
    notebooks = [entries[name] for name in sorted(entries)]
    if earlier is not None and before and notebooks == earlier.get("notebooks"):
        return
    write_json(path, {"profile": profile, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                      "notebooks": notebooks})


def read_status(profile: str, runs_dir: Path = PROJECT_ROOT / "runs") -> dict | None:
    """The last study run's table for ``profile`` (``runs/<profile>/study.json``), if any."""
    path = Path(runs_dir) / profile / STATUS_FILE
    from common.files import read_json
    return read_json(path) if path.is_file() else None
