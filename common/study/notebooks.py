"""Run the study: every numbered notebook, headless, in order, with one profile.

    python -m common.study --profile quick            # all notebooks (resumes finished runs)
    python -m common.study --profile smoke --only 01  # one notebook
    python -m common.study --strict                   # a notebook without its data fails the run
    python -m common.study --only 02 --set beta=0.9 --set epochs=2   # knobs of the notebook's specs

The study runs what it can. A notebook whose dataset is absent (and cannot be downloaded) is
recorded as *skipped*, with the reason and the way to get the data, and the rest still runs; a
notebook that fails for any other reason is recorded as *failed* with its cell and error. The run
ends with a table of every notebook and its time, written also to ``<out>/study.json``, and exits
non-zero only if a notebook failed (``--strict``: or was skipped).

Finished runs are not trained again: a stopped study resumes where it stopped (``--retrain``
trains every run of notebooks 01-06 again; the LIF/ALIF grid of 07 always resumes from its table).
Executed notebooks go to ``runs/<profile>/``. A study with ``--set`` is an experiment: its executed notebooks go to
``runs/experiments/<profile>_with_<knobs>/``, its models, records and videos under their own run names to
``runs/experiments/`` (common.config.EXPERIMENTS_ROOT), and the report, the README and the figures stay as they are.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common.config import EXPERIMENTS_ROOT, PROFILES, PROJECT_ROOT, resolve_locations
from common.files import hold_root, read_json
from common.runs.preflight import command_line, preflight
from common.runs.specs import KnobError
from common.config import shown
from common.study.status import STATUS_FILE, NotebookOutcome, first_lines, portable_text, read_status, write_status

NOTEBOOKS = PROJECT_ROOT / "notebooks"
# Errors that mean "this machine has not got the data": the notebook is skipped, not failed.
MISSING_DATA_ERRORS = {"DatasetNotFoundError"}


class NotebookFailed(RuntimeError):
    """A notebook stopped with an error; ``ename``, ``evalue`` and ``cell`` say where and why."""

    def __init__(self, message: str, ename: str = "", evalue: str = "", cell: int | None = None):
        super().__init__(message)
        self.ename, self.evalue, self.cell = ename, evalue, cell

    @property
    def missing_data(self) -> bool:
        return self.ename in MISSING_DATA_ERRORS


def numbered_notebooks(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(prefix) for prefix in only)]
    return found


def run_notebook(notebook: Path, profile: str, out_dir: Path, parameters: dict | None = None) -> Path:
    """Execute one notebook with papermill, in its own folder (``notebooks/``, as Jupyter runs it), into
    ``out_dir``; raise :class:`NotebookFailed` naming the cell. The executed notebook holds no path of this
    machine, and is not rewritten when it shows what the one there already shows (:func:`settle`)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from common.runs.specs import check_parameters

    parameters = check_parameters(**{"profile": profile, **(parameters or {})})   # typed before any kernel starts
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / notebook.name
    running = out_dir / f".{notebook.stem}.running.ipynb"   # the file there stays whole until this one is done
    try:
        papermill.execute_notebook(str(notebook), str(running), cwd=str(notebook.parent),
                                   parameters=parameters,
                                   kernel_name="python3", progress_bar=True)
    except PapermillExecutionError as error:
        settle(running, output)
        raise NotebookFailed(f"{notebook.name} failed in cell {error.exec_count} "
                             f"({error.ename}: {error.evalue}). The executed notebook with the "
                             f"traceback is {shown(output)}.", error.ename, error.evalue, error.exec_count) from None
    except BaseException:
        running.unlink(missing_ok=True)
        raise
    settle(running, output)
    return output


def shown_content(notebook: dict) -> list:
    """What an executed notebook shows: every cell's source and outputs, without what changes from run to run
    when nothing else does (execution metadata and times, cell ids, progress bars: on stderr, or as widgets with a
    new id; and where the kernel happened to cut a cell's printed text into stream outputs)."""
    def progress(output):
        return (output.get("output_type") == "stream" and output.get("name") == "stderr") \
            or "application/vnd.jupyter.widget-view+json" in output.get("data", {})

    def joined(outputs):
        out = []
        for o in outputs:
            if o.get("output_type") == "stream" and out and out[-1][0] == ("stream", o.get("name")):
                out[-1] = (out[-1][0], out[-1][1] + "".join(o.get("text", "")))
            elif o.get("output_type") == "stream":
                out.append((("stream", o.get("name")), "".join(o.get("text", ""))))
            else:
                out.append((o.get("output_type"), o.get("data"), o.get("ename"), o.get("evalue")))
        return out

    return [("".join(cell.get("source", "")), joined(o for o in cell.get("outputs", []) if not progress(o)))
            for cell in notebook.get("cells", [])]


def settle(running: Path, output: Path) -> None:
    """Move the executed notebook ``running`` to ``output``, its machine paths made relative to the repository
    (common.study.status.portable_text); if ``output`` already shows the same, keep it and drop ``running``."""
    if not running.is_file():      # papermill stopped before writing anything: nothing to keep
        return
    text = portable_text(running.read_text())
    running.unlink()
    if output.is_file():
        try:
            if shown_content(json.loads(output.read_text())) == shown_content(json.loads(text)):
                return
        except ValueError:
            pass
    from common.files import atomic_write
    atomic_write(output, lambda handle: handle.write(text.encode()))


def parse_overrides(pairs: list[str] | None) -> dict:
    """``["beta=0.9", "epochs=2"]`` -> ``{"beta": 0.9, "epochs": 2}``: each value read once, as JSON (``true``,
    ``null``, ``[32, 32]``), else as a Python literal (``True``, ``(32, 32)``), else kept as a string."""
    import ast

    overrides = {}
    for pair in pairs or []:
        name, text = pair.split("=", 1) if "=" in pair else ("", "")
        if not name.strip():
            raise ValueError(f"--set takes NAME=VALUE, e.g. --set beta=0.9; got {pair!r}")
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
        overrides[name.strip()] = value
    return overrides


def notebook_specs(notebook: Path) -> list[str]:
    """Every spec ``notebook`` runs with its ``overrides``: the specs the table assigns to it and every spec its code
    names in a ``setup``/``prepare`` call (notebook 06 also runs notebook 03's beta 0.8 on its N-MNIST frames)."""
    import re

    from common.runs.specs import SPECS

    source = "\n".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]
                       if cell["cell_type"] == "code")
    named = {s.name for s in SPECS.values() if notebook.name.startswith(s.notebook + "_")}
    named |= {m for m in re.findall(r"""(?:setup|prepare|prepare_optional)\(\s*["']([^"']+)["']""", source) if m in SPECS}
    return sorted(named)


def check_overrides(notebooks: list[Path], profile: str, overrides: dict) -> None:
    """Resolve ``overrides`` against EVERY spec each selected notebook runs with them (common.runs.specs.resolve, the
    code the notebook itself runs) before anything runs, so a misspelt knob, or one that only some of a notebook's
    specs have, stops the study at once, naming the spec and its knobs. A notebook that takes no ``overrides``
    parameter (07-09) runs as its profile says; when none of the selected notebooks takes them, that is an error."""
    from common.runs.specs import KnobError, resolve

    if not overrides:
        return
    taking = [nb for nb in notebooks if "overrides" in parameters_of(nb)]
    if not taking:
        raise KnobError(f"--set: {', '.join(nb.name for nb in notebooks)} take no knobs (no `overrides` parameter); "
                        f"they run as profile {profile!r} says. Drop --set, or select notebooks 01-06.")
    for notebook in taking:
        for name in notebook_specs(notebook):
            try:
                resolve(name, profile, overrides=overrides)
            except ValueError as error:
                raise KnobError(f"--set for {notebook.name}, which runs spec {name!r} with the same overrides: "
                                f"{error}") from None
    for notebook in sorted(set(notebooks) - set(taking)):
        print(f"{notebook.name} takes no knobs: it runs as profile {profile!r} says, without --set.")


def parameters_of(notebook: Path) -> dict:
    """The parameters ``notebook``'s first cell declares (papermill's reading of its ``parameters`` cell)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def declared(notebook: Path, parameters: dict) -> dict:
    """The study's parameters that ``notebook``'s parameters cell declares (07 and 08 train nothing they
    could reuse, so they take no ``reuse_trained``)."""
    names = parameters_of(notebook)
    return {k: v for k, v in parameters.items() if k in names}


def run_one(notebook: Path, profile: str, out_dir: Path, parameters: dict, earlier: dict | None = None) -> NotebookOutcome:
    """Run one notebook; a notebook skipped for absent data leaves the executed notebook of an ``earlier`` run
    that had its data where it was (a run without data never overwrites one with)."""
    start = time.perf_counter()
    output = out_dir / notebook.name
    ran_before = any(n["notebook"] == notebook.name and n["status"] == "ran" for n in (earlier or {}).get("notebooks", []))
    kept = output.read_bytes() if ran_before and output.is_file() else None
    try:
        output = run_notebook(notebook, profile, out_dir, parameters)
    except NotebookFailed as error:
        seconds = time.perf_counter() - start
        if error.missing_data:
            if kept is not None:
                output.write_bytes(kept)
            return NotebookOutcome(notebook.name, "skipped", seconds, error.evalue, str(out_dir / notebook.name))
        return NotebookOutcome(notebook.name, "failed", seconds, str(error), str(out_dir / notebook.name))
    return NotebookOutcome(notebook.name, "ran", time.perf_counter() - start, "", str(output))


def summary_table(outcomes: list[NotebookOutcome]) -> str:
    """Every notebook: ran / skipped (why) / failed (cell and error), its time, and the total."""
    width = max(len(o.notebook) for o in outcomes)
    lines = [f"{'notebook':<{width}}  {'status':<7}  {'time':>8}  why", "-" * (width + 30)]
    for o in outcomes:
        lines.append(f"{o.notebook:<{width}}  {o.status:<7}  {format_seconds(o.seconds):>8}  "
                     f"{first_lines(o.reason, 1)[:120]}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ran", "skipped", "failed")}
    lines.append(f"{'total':<{width}}  {'':<7}  {format_seconds(sum(o.seconds for o in outcomes)):>8}  "
                 + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def experiment_folder(profile: str, overrides: dict) -> Path:
    """Where a study with ``--set`` keeps its executed notebooks and ``study.json``: a folder named after its knobs
    (``runs/experiments/quick_with_beta0.9_epochs2``), never the reference ``runs/<profile>/``."""
    import re

    knobs = "_".join(re.sub(r"[^A-Za-z0-9.]+", "", f"{k}{v}") for k, v in sorted(overrides.items()))
    return EXPERIMENTS_ROOT / f"{profile}_with_{knobs[:80]}"


def main(argv: list[str] | None = None) -> int:
    """``python -m common.study``: the study's own errors end in their sentence and exit code 2 (``--debug``: the
    traceback too; common.runs.preflight.command_line)."""
    return command_line(study, argv)


def study(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--only", nargs="*", help="notebook number prefixes, e.g. 01 03")
    parser.add_argument("--out", type=Path, default=None, help="folder for executed notebooks")
    parser.add_argument("--output-root", default=None,
                        help="where models/, results/ and videos/ go (default: the project; smoke: runs/smoke/outputs)")
    parser.add_argument("--retrain", action="store_true",
                        help="train finished runs again instead of reusing them (as <run>_retrain, beside the reference)")
    parser.add_argument("--replace-reference", action="store_true",
                        help="with --retrain: the retrained runs overwrite the reference files")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", dest="overrides",
                        help="a knob of the notebooks' specs, e.g. --set beta=0.9 --set epochs=2 (repeatable); "
                             "such runs get their own files")
    parser.add_argument("--strict", action="store_true", help="a notebook skipped for absent data fails the run")
    parser.add_argument("--no-report", action="store_true", help="do not regenerate the README's results section")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)   # tests
    parser.add_argument("--debug", action="store_true", help="show the traceback of the study's own errors too")
    args = parser.parse_args(argv)
    notebooks = numbered_notebooks(args.notebooks, only=args.only)
    if not notebooks:
        print(f"No notebooks matched {args.only} in {args.notebooks}", file=sys.stderr)
        return 2
    try:
        overrides = parse_overrides(args.overrides)
    except ValueError as error:
        raise KnobError(str(error)) from None
    check_overrides(notebooks, args.profile, overrides)
    out_dir = args.out or (experiment_folder(args.profile, overrides) if overrides else PROJECT_ROOT / "runs" / args.profile)
    parameters = {"reuse_trained": not args.retrain, "replace_reference": args.replace_reference,
                  **({"overrides": overrides} if overrides else {}),
                  **({"locations": {"output_root": str(args.output_root)}} if args.output_root else {})}
    outcomes = []
    status_file = out_dir / STATUS_FILE
    earlier = read_json(status_file, "Delete it (the next study writes it again), or restore it from git.") \
        if status_file.is_file() else None
    data_root, _, output_root = resolve_locations(None, None, args.output_root, args.profile, experiment=bool(overrides))
    # the machine first (a read-only root, a full disk, a device not there: one sentence), then the lock
    preflight(output_root, None, data_root)
    # one study at a time per output root: a second one waits (its notebooks' kernels inherit this lock)
    with hold_root(output_root):
        for i, notebook in enumerate(notebooks, 1):
            print(f"[{i}/{len(notebooks)}] {notebook.name} (profile {args.profile})", flush=True)
            outcome = run_one(notebook, args.profile, out_dir, declared(notebook, parameters), earlier)
            outcomes.append(outcome)
            write_status(status_file, args.profile, outcomes, earlier)   # after each: notebook 08 reads it
            print(f"    {outcome.status} in {format_seconds(outcome.seconds)}"
                  + (f": {first_lines(outcome.reason, 1)}" if outcome.reason else f" -> {outcome.executed}"),
                  flush=True)
    report_failed = False
    if overrides and not args.no_report:
        print("An experiment (--set): the report, the README and the figures are left as they are; its records are "
              f"in {shown(output_root)}/results, its executed notebooks in {shown(out_dir)}.")
    elif args.profile != "smoke" and not args.no_report and not args.output_root:
        try:
            from common.study.report import update_readme
            update_readme(status=read_status(args.profile), profile=args.profile)
            print("README.md results section regenerated from results/")
        except Exception as error:   # the notebooks' outcomes above stand; say what went wrong here
            print(f"README report failed: {type(error).__name__}: {error}", file=sys.stderr)
            report_failed = True
    print("\n" + summary_table(outcomes))
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    if skipped:
        print(f"\n{len(skipped)} notebook(s) skipped because their data is absent (also in {out_dir / STATUS_FILE}):")
        for o in skipped:
            print(f"\n{o.notebook}:\n  " + o.reason.strip().replace("\n", "\n  "))
    if failed or report_failed or (args.strict and skipped):
        print("STUDY FAILED: " + "; ".join([o.notebook for o in failed + (skipped if args.strict else [])]
                                            + (["the README report"] if report_failed else [])), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
