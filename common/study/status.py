"""What the last study run did: ``runs/<profile>/study.json``, a line per notebook (ran / skipped / failed,
its time and why). Written by the study command after every notebook; read by notebook 08 and the README."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from common.config import PROJECT_ROOT

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
    """The table of this run; a partial run (``--only``) keeps the ``earlier`` entries of the notebooks it did not run."""
    from common.files import write_json

    ran = [asdict(o) for o in outcomes]
    kept = [n for n in (earlier or {}).get("notebooks", []) if n["notebook"] not in {o.notebook for o in outcomes}]
    write_json(path, {"profile": profile, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                      "notebooks": sorted(kept + ran, key=lambda n: n["notebook"])})


def read_status(profile: str, runs_dir: Path = PROJECT_ROOT / "runs") -> dict | None:
    """The last study run's table for ``profile`` (``runs/<profile>/study.json``), if any."""
    path = Path(runs_dir) / profile / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else None
