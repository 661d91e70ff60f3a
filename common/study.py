"""Run the study: every numbered notebook, headless, in order, with one profile.

    python -m common.study --profile quick            # all notebooks
    python -m common.study --profile smoke --only 01  # one notebook

Executed notebooks go to ``runs/<profile>/``; each notebook writes its own results JSON to
``results/``. A failing notebook stops the run with the notebook, the cell and the error.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import PROFILES, PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"


class NotebookFailed(RuntimeError):
    pass


def numbered_notebooks(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(prefix) for prefix in only)]
    return found


def run_notebook(notebook: Path, profile: str, out_dir: Path, parameters: dict | None = None) -> Path:
    """Execute one notebook with papermill; raise :class:`NotebookFailed` naming the cell."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / notebook.name
    try:
        papermill.execute_notebook(str(notebook), str(output), cwd=str(notebook.parent),
                                   parameters={"profile": profile, **(parameters or {})},
                                   kernel_name="python3", progress_bar=True)
    except PapermillExecutionError as error:
        raise NotebookFailed(f"{notebook.name} failed in cell {error.exec_count} "
                             f"({error.ename}: {error.evalue}). The executed notebook with the "
                             f"traceback is {output}.") from None
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--only", nargs="*", help="notebook number prefixes, e.g. 01 03")
    parser.add_argument("--out", type=Path, default=None, help="folder for executed notebooks")
    args = parser.parse_args(argv)
    notebooks = numbered_notebooks(only=args.only)
    if not notebooks:
        print(f"No notebooks matched {args.only} in {NOTEBOOKS}", file=sys.stderr)
        return 2
    out_dir = args.out or PROJECT_ROOT / "runs" / args.profile
    for i, notebook in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {notebook.name} (profile {args.profile})", flush=True)
        start = time.perf_counter()
        try:
            run_notebook(notebook, args.profile, out_dir)
        except NotebookFailed as error:
            print(f"STUDY STOPPED: {error}", file=sys.stderr)
            return 1
        print(f"    done in {time.perf_counter() - start:.0f} s -> {out_dir / notebook.name}", flush=True)
    if args.profile != "smoke":
        from .report import update_readme
        update_readme()
        print("README.md results section regenerated from results/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
