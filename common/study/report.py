"""The study's report, generated from results/*.json and the grids' tables (never typed by hand).

    python -m common.study.report [--profile quick]   # write results/REPORT.md, and the README's summary

``results/REPORT.md`` holds everything: every finding (common/study/findings.py), every table, every figure. The
README, the study's front page, gets only the short summary of the findings and the key table, between its markers.
The study command calls it after the notebooks ran; tests/test_report.py and tests/test_findings.py fail if the
README, the report and the results files disagree.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from common.config import PROJECT_ROOT, SMOKE_OUTPUT_ROOT
from common.files import StudyError
from common.runs.records import load_results, table_path
from common.study.findings import p_text

START, END = "<!-- results:start -->", "<!-- results:end -->"
FINDINGS_START, FINDINGS_END = "<!-- findings:start -->", "<!-- findings:end -->"
TIMES_START, TIMES_END = "<!-- times:start -->", "<!-- times:end -->"
FRONT_DOOR = PROJECT_ROOT / "benchmarks" / "results"      # front_door-<machine kind>.json (benchmarks/front_door.py)
REPORT = "REPORT.md"     # in the results folder


class ReportRefused(StudyError, ValueError):
    """An input of the report is incomplete: a record without a key the report reads, a table with lines it
    cannot read or set aside. The README is left as it was."""


# What the report reads of every run's record (results/<run>-<profile>.json): a record without one would lose its
# line and its row in silence.
REQUIRED = {"run": None, "config": ("dataset", "model", "profile"), "test": ("accuracy", "n_samples"),
            "train_seconds": None, "device": None, "machine": ("torch_threads",), "date": None}
# The grid tables the report and the findings read.
TABLES = ("lif_alif", "nmnist_folds", "nmnist_folds_confirm", "gestures_dvssign", "gestures_dvsgesture")


def missing_keys(record: dict) -> list[str]:
    """The keys of :data:`REQUIRED` that ``record`` lacks (``test.accuracy`` for a nested one)."""
    missing = []
    for key, inner in REQUIRED.items():
        if key not in record:
            missing.append(key)
        elif inner:
            value = record[key]
            missing += [f"{key}.{k}" for k in inner if not isinstance(value, dict) or k not in value]
    return missing


def check_inputs(results_dir: Path) -> None:
    """Refuse (:class:`ReportRefused`, naming the file) a run's record that lacks a key the report reads, and a grid
    table with lines that cannot be read (now, or set aside into ``<table>.rejected`` by an earlier write): either
    would publish tables and findings from part of the runs without saying so."""
    from common.files import read_json
    from common.runs.records import ResultsTable

    results_dir = Path(results_dir)
    problems = []
    for path in sorted(results_dir.glob("*.json")):
        record = read_json(path)
        if isinstance(record, dict) and "config" in record:     # a run's record (not efficiency-<profile>.json)
            missing = missing_keys(record)
            if missing:
                problems.append(f"{path} lacks {', '.join(missing)}: run its notebook again (a finished run is "
                                f"re-evaluated, not retrained), or restore the file from git")
    for path in sorted(p for study in TABLES for p in results_dir.glob(f"{study}-*.jsonl")):
        table = ResultsTable(path)
        _, left_out = table._read()
        if left_out:
            problems.append(f"{path} has {len(left_out)} line(s) that cannot be read (line "
                            f"{', '.join(str(n) for n, _, _ in left_out[:5])}): restore the table from git, or run "
                            f"its grid again (it sets them aside into {table.rejected_path.name} and reruns their cells)")
        elif table.rejected_path.is_file():
            problems.append(f"{table.rejected_path} holds lines set aside from {path.name}: once the grid has run "
                            f"their cells again (it resumes), delete {table.rejected_path.name}")
    if problems:
        raise ReportRefused("The report is not written, its inputs are incomplete: " + "; ".join(problems) + ".")


def changed_findings(before: str, after: str) -> list[str]:
    """The findings lines that differ between two versions of the findings section (``-`` old, ``+`` new)."""
    import difflib

    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()]


def between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0] if start in text and end in text else ""


def replace_between(text: str, start: str, end: str, body: str, where: Path) -> str:
    """``text`` with what lies between the markers ``start`` and ``end`` replaced by ``body``."""
    if start not in text or end not in text:
        raise ValueError(f"{where} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def results_table(records: list[dict]) -> str:
    header = ("| run | dataset | model | profile | test accuracy | test samples | parameters "
              "| training time | device (threads) | date |\n|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for r in sorted(records, key=lambda r: r["run"]):
        rows.append(
            f"| {r['run']} | {r['config']['dataset']} | {r['config']['model']} | {r['config']['profile']} "
            f"| {r['test']['accuracy']:.2%} | {r['test']['n_samples']:,} | {r.get('parameters', 0):,} "
            f"| {r['train_seconds']:.0f} s | {r['device']} ({r['machine']['torch_threads']}) "
            f"| {r['date'][:10]} |")
    return "\n".join([header, *rows])


def _profiles(results_dir: Path, study: str) -> list[str]:
    """The profiles that have a ``results/<study>-<profile>.jsonl`` table."""
    return [p.stem.split("-", 1)[1] for p in sorted(Path(results_dir).glob(f"{study}-*.jsonl"))]


def run_records(results_dir: Path) -> list[dict]:
    """The README's table of runs: every results file, and notebook 06's runs from its grid's table."""
    from common.study.compare import head_to_head_records

    root = Path(results_dir).parent
    from common.study.gestures import ROLES
    profiles = {p for name in ROLES for p in _profiles(results_dir, f"gestures_{name}")}
    return load_results(results_dir) + [r for profile in sorted(profiles) for r in head_to_head_records(profile, root)]


def grid_records_in(results_dir: Path) -> list[dict]:
    """The LIF/ALIF headline cells of every ``results/lif_alif-<profile>.jsonl`` and the N-MNIST fold
    study's rows of every ``results/nmnist_folds-<profile>.jsonl``, as records."""
    from common.study import nmnist_folds
    from common.study.compare import grid_records

    root = Path(results_dir).parent
    return ([r for profile in _profiles(results_dir, "lif_alif") for r in grid_records(profile, root)]
            + [r for profile in _profiles(results_dir, "nmnist_folds") for r in nmnist_folds.records(profile, root)])


def markdown_table(frame, digits: int = 2) -> str:
    """A DataFrame as a Markdown table (index included), numbers rounded to ``digits``."""
    import pandas as pd

    frame = frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    cell = lambda v: f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def folds_section(results_dir: Path, profile: str = "quick") -> str:
    """The N-MNIST fold study: accuracy per variant and its family of head-to-heads, at both levels ("" if not run)."""
    from common.runs.records import ResultsTable
    from common.study import nmnist_folds

    rows = ResultsTable(table_path(nmnist_folds.STUDY, profile, Path(results_dir).parent)).rows()
    if not rows:
        return ""
    accuracy = nmnist_folds.accuracy_over_folds(rows)
    accuracy[["mean", "low", "high", "fold std", "seed std"]] *= 100
    pairs = nmnist_folds.head_to_head(rows).drop(columns=["runs", "folds", "adjusted level"])
    for column in [c for c in pairs.columns if c.startswith(("p ", "Holm p"))]:
        pairs[column] = [p_text(p) for p in pairs[column]]
    n = len({recording for r in rows for recording in r["recordings"]})
    seconds = pd.DataFrame([{"variant": r["cell"]["variant"], "s": r.get("wall_seconds") or r.get("train_seconds") or 0}
                            for r in rows]).groupby("variant", sort=False)["s"].sum()
    cost = ("Its cost, from the records (each cell one process with one thread; 2 cells at a time on a 2-core CPU): "
            + ", ".join(f"{v} {s / 60:.0f} min" for v, s in seconds.items())
            + f"; {seconds.sum() / 3600:.1f} h of cell time in all, about {seconds.sum() / 7200:.1f} h of wall time.\n\n")
    return (cost + f"N-MNIST, {rows[0]['folds']}-fold cross-validation over all {n:,} real recordings "
            f"(`results/nmnist_folds-{profile}.jsonl`, notebooks 03-04): each recording tested once per run, "
            "every variant on the same folds and training seeds. Accuracy in % after all bins, mean over folds "
            "(seeds averaged within a fold) with its 95% interval corrected for overlapping training sets:\n\n"
            + markdown_table(accuracy) + "\n\nHead-to-head (b - a, in points) after t time bins, the exploratory "
            "family (Holm; no conventional CNN before the last bin: trained on all bins only): over folds, the corrected "
            "resampled t-test with its unadjusted and Bonferroni-adjusted intervals, and in how many folds b is ahead or "
            "behind; over recordings, descriptive only: a two-way cluster bootstrap over runs and recordings (95%), the "
            "unadjusted Cochran-Mantel-Haenszel p stratified by run, and how many recordings only a, or only b, got "
            "right (pooled over runs):\n\n" + markdown_table(pairs, 2))


def grid_table(results_dir: Path) -> str:
    """The LIF/ALIF headline cells pooled over seeds, as a Markdown table ("" when there are none)."""
    from common.study.compare import accuracy_over_seeds

    records = [r for r in grid_records_in(results_dir) if r["config"]["model"] in ("rsnn", "mlp", "mlp_spikes")]
    if not records:
        return ""
    header = ("| run | dataset | profile | test accuracy (mean +- std) | seeds | test samples | parameters "
              "| training time per seed | device |\n|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r.run} | {r.dataset} | {r.profile} | {r.accuracy_mean:.2%} +- {r.accuracy_std:.2%} "
             f"| {r.seeds} | {r.test_samples:,} | {r.parameters:,} | {r.training_s:.0f} s | {r.device} |"
             for r in accuracy_over_seeds(records).itertuples()]
    return "\n".join([header, *lines])


FIGURES = {"accuracy.png": "test error rate of every model per dataset, log scale (bars: 95% CI over seeds/folds; hollow: single run; red x: source study)",
           "tradeoff.png": "test error over each model's replicates (bars: 95% interval; hollow: one run) against the energy per inference of its saved model, per dataset (rows) and cost model (columns); dashed: the non-dominated models",
           "energy.png": "energy per inference of each spiking model as its spike rate is scaled, against its conventional partner (dashed), under both cost models; dots: the measured rates",
           "nmnist_folds.png": "N-MNIST fold study: accuracy after t time bins per variant, and beta 0.8 - beta 0.5 paired over folds (bands: 95% CI)",
           "spikes.png": "spikes per inference of every spiking model, all layers, log axis (error bars: std over replicates)"}


def write_figures(records: list[dict], results_dir: Path, profile: str = "quick") -> None:
    """The README's figures, drawn from the same records as its tables, into ``results/figures/``."""
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "snn-study"   # stable ids inside the SVGs
    import matplotlib.pyplot as plt

    from common.study.compare import (accuracy_over_seeds, load_efficiency, plot_accuracy, plot_energy_sweep, plot_spikes,
                                      plot_tradeoff)

    folder = Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    everything = records + grid_records_in(results_dir)
    table = accuracy_over_seeds(everything)
    figures = {"accuracy.png": plot_accuracy(table)}
    efficiency = load_efficiency(profile, Path(results_dir).parent)
    if "energy_memory_nJ" in efficiency:     # an efficiency file of both cost models (notebook 08)
        figures["tradeoff.png"] = plot_tradeoff(efficiency, table)
        from common.study.compare import energy_pairs
        if "energy_memory_nJ" in efficiency and len(energy_pairs(efficiency)):
            figures["energy.png"] = plot_energy_sweep(efficiency)
    if any(r.get("spikes_per_sample") for r in everything):
        figures["spikes.png"] = plot_spikes(everything)
    from common.runs.records import ResultsTable
    from common.study import nmnist_folds
    folds = ResultsTable(table_path(nmnist_folds.STUDY, profile, Path(results_dir).parent)).rows()
    if folds:
        figures["nmnist_folds.png"] = nmnist_folds.plot_curves(folds)
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=100)                       # README width: text >= 9 pt at 100%
        figure.savefig((folder / name).with_suffix(".svg"), metadata={"Date": None})   # same figure, same file
        plt.close(figure)


def not_run_note(status: dict | None) -> str:
    """Which notebooks the last study run skipped or failed, and why ("" when all ran)."""
    if not status:
        return ""
    from common.study.status import first_lines

    missed = [n for n in status["notebooks"] if n["status"] != "ran"]
    if not missed:
        return ""
    lines = [f"- `{n['notebook']}`: {n['status']}: {first_lines(n['reason'], 1)}" for n in missed]
    return (f"Not run in the last `make study` (profile {status['profile']}, {status['date'][:10]}); the "
            f"tables hold only what ran, or earlier results of these notebooks where they exist:\n"
            + "\n".join(lines) + "\n\n")


def section(records: list[dict], results_dir: Path | None = None, status: dict | None = None,
            profile: str = "quick", figures: str = "figures/") -> str:
    """Every table of the results and the figures drawn (linked as ``figures`` + name: REPORT.md sits beside them)."""
    if not records:
        return not_run_note(status) + "No results yet: run `make study`."
    results_dir = Path(results_dir or PROJECT_ROOT / "results")
    text = not_run_note(status) + (results_table(records) + "\n\nGenerated by `python -m common.study.report` from `results/*.json`; "
            "each file also records the machine, package versions and git commit of its run.")
    folds = folds_section(results_dir, profile)
    if folds:
        text += "\n\n" + folds
    grid = grid_table(results_dir)
    if grid:
        text += ("\n\nLIF vs ALIF beside the MLP (notebook 07's headline cells, equal budgets, full test sets), "
                 "from `results/lif_alif-<profile>.jsonl`:\n\n" + grid)
    shown = [name for name in FIGURES if (results_dir / "figures" / name).exists()]
    text += "".join(f"\n\n![{FIGURES[name]}]({figures}{name})" for name in shown)
    return text


COMMITTED_README = PROJECT_ROOT / "README.md"


def report_path(readme: Path, profile: str) -> Path:
    """Where the report of ``profile`` goes: ``readme``, except that a smoke report never touches the committed
    README (its numbers are a test's): it goes to ``README.md`` under the smoke output root."""
    if profile == "smoke" and Path(readme).resolve() == COMMITTED_README.resolve():
        return SMOKE_OUTPUT_ROOT / "README.md"
    return Path(readme)


def key_table(records: list[dict], results_dir: Path) -> str:
    """The README's one table: every model's test accuracy per dataset, over its replicates (seeds, or folds x
    seeds with the corrected interval), beside its size and kind. A single run of a model that is replicated on
    the same dataset at the same size is left out (the notebooks' single N-MNIST runs on the mirror's 100 test
    recordings: the fold study replicates the same models); the line under the table says how many."""
    from common.data.datasets import describe
    from common.study.compare import accuracy_over_seeds, label

    table = accuracy_over_seeds(records + grid_records_in(results_dir))
    if table.empty:
        return "No results yet: run `make study`."
    same = ["dataset", "model", "parameters"]
    replicated = set(table.loc[table.seeds > 1, same].itertuples(index=False, name=None))
    single = table[(table.seeds == 1) & pd.Series(list(table[same].itertuples(index=False, name=None)),
                                                  index=table.index).isin(replicated)]
    table = table.drop(single.index)
    lines = ["| model | dataset | kind | test accuracy | 95% interval | runs | parameters |",
             "|---|---|---|---|---|---|---|"]
    order = ["dataset", "seeds", "spiking", "accuracy_mean"]     # per dataset: replicated rows first
    for r in table.sort_values(order, ascending=[True, False, True, False]).itertuples():
        interval = (f"{r.accuracy_low:.2%} .. {r.accuracy_high:.2%}" if r.seeds > 1 and pd.notna(r.accuracy_low)
                    else "one run")
        lines.append(f"| {label(r.label)} | {describe(r.dataset).title} | {'spiking' if r.spiking else 'conventional'} "
                     f"| {r.accuracy_mean:.2%} | {interval} | {r.seeds} | {int(r.parameters or 0):,} |")
    if len(single):
        names = ", ".join(sorted(describe(d).title for d in set(single.dataset)))
        lines += ["", f"Left out: {len(single)} single runs on {names}, whose models the rows above replicate "
                      "(each notebook shows its own run)."]
    return "\n".join(lines)


def summary(results_dir: Path, profile: str = "quick") -> str:
    """The README's summary of the findings: :func:`common.study.findings.summary_lines`."""
    from common.study import findings

    lines = findings.summary_lines(results_dir, profile)
    if not lines:
        return "No findings yet: run `make study`."
    return "\n".join(f"- {line}" for line in lines)


def report_text(records: list[dict], results_dir: Path, status: dict | None, profile: str) -> str:
    """``results/REPORT.md``: the findings in full, then every table and figure."""
    from common.study import findings

    return (f"# What the study finds, in full ({profile} profile)\n\n"
            "Generated by `python -m common.study.report` from the records in this folder; do not edit. The front "
            "page is the [README](../README.md). A claim reads as a difference only when its test survives Holm's "
            "adjustment within its family, and each names the level it rests on: seeds (what a rerun moves), folds "
            "(corrected for overlapping training sets), or recordings (stratified by run).\n\n"
            "## Findings\n\n" + findings.section(results_dir, profile).strip() + "\n\n## Results\n\n"
            + section(records, results_dir, status, profile).strip() + "\n")


# The tables `make study` fills (the confirmation partition and the bf16 check are run by their own commands)
STUDY_TABLES = ("lif_alif", "nmnist_folds", "gestures_dvssign")


def study_training(results_dir: Path, profile: str) -> tuple[float, int]:
    """``(seconds, runs)``: the training time recorded by every run `make study` trains in ``profile`` (its
    notebooks' results files and the rows of its grids' tables)."""
    from common.runs.records import ResultsTable, table_path

    rows = load_results(results_dir, profile=profile) + [
        r for table in STUDY_TABLES for r in ResultsTable(table_path(table, profile, Path(results_dir).parent)).rows()]
    return sum(float(r.get("train_seconds") or 0) for r in rows), len(rows)


def times_table(results_dir: Path, profile: str, front_door: Path = FRONT_DOOR) -> str:
    """The README's table of the two commands' times: the newest fresh-clone run of ``benchmarks/front_door.py``
    (its machine, date and commit named), and what a study from scratch trains (the sum of the records' training
    seconds: they ran on several machines, in several sessions, so it is a cost, not a wall time)."""
    import json

    runs = sorted(front_door.glob("front_door-*.json"))
    newest = max((json.loads(p.read_text()) for p in runs), key=lambda r: r["date"], default=None)
    trained, n_runs = study_training(results_dir, profile)
    lines = ["| command, on a fresh clone with `../shared` beside it | time |", "|---|---|"]
    if newest is None:
        lines.append("| every command | not yet timed: `python benchmarks/front_door.py` |")
    else:
        steps = newest["steps"]
        minutes = {name: f"{step['seconds'] / 60:.0f} min" + ("" if step["exit_code"] == 0 else " (failed)")
                   for name, step in steps.items()}
        clean = newest.get("git_status_clean_after_study")
        lines += [f"| `make env` (the install; `make study` and `make test` run it first when `.venv` is missing) "
                  f"| {minutes.get('make env', 'not reached')} |",
                  f"| `make study`, resumed (the committed models and tables reused) | "
                  f"{minutes.get('make study', 'not reached')}"
                  + {True: ", `git status` clean after it", False: ", changed tracked files"}.get(clean, "") + " |",
                  f"| `make test` (CI: `.ci/run`) | {minutes.get('CI (make test)', 'not reached')}"
                  + (f": {steps['CI (make test)']['tests']}" if steps.get("CI (make test)", {}).get("tests") else "")
                  + " |"]
    lines.append(f"| `make study` from scratch (every model trained again) | not timed in one piece: the committed "
                 f"records hold {trained / 3600:.1f} h of training ({n_runs} runs, on the machines that ran them)"
                 " |")
    if newest is not None:
        lines += ["", f"Timed by `benchmarks/front_door.py` on {newest['date'][:10]}: a {newest['cores']}-core "
                      f"{newest['machine']} machine, commit {newest['commit'][:7]}, {newest['profile']} profile."]
    return "\n".join(lines)


def update_readme(readme: Path = COMMITTED_README, results_dir: Path | None = None,
                  status: dict | None = None, profile: str = "quick") -> bool:
    """Redraw the figures, write ``results/REPORT.md`` in full and the README's summary and key table; returns True
    if either file changed. ``status``: the last study run's table (:func:`common.study.status.read_status`), to say
    what was not run. Incomplete inputs stop it, naming the file (:func:`check_inputs`); the summary lines that change
    are printed (a finding never turns silently); a smoke report goes under the smoke output root
    (:func:`report_path`), never into the committed README."""
    from common.files import atomic_write

    target = report_path(readme, profile)
    if results_dir is None:
        results_dir = (SMOKE_OUTPUT_ROOT if target != Path(readme) else PROJECT_ROOT) / "results"
    results_dir = Path(results_dir)
    check_inputs(results_dir)
    records = run_records(results_dir)
    if records:
        write_figures(records, results_dir, profile)
    report = results_dir / REPORT
    old_report = report.read_text() if report.exists() else None
    new_report = report_text(records, results_dir, status, profile)
    if new_report != old_report:
        report.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(report, lambda handle: handle.write(new_report.encode()))
    text = (target if target.is_file() else Path(readme)).read_text()
    new = replace_between(text, START, END, key_table(records, results_dir), readme)
    if FINDINGS_START in new:     # a README without a findings section (a test's) keeps only its table
        new = replace_between(new, FINDINGS_START, FINDINGS_END, summary(results_dir, profile), readme)
        changed = changed_findings(between(text, FINDINGS_START, FINDINGS_END), between(new, FINDINGS_START, FINDINGS_END))
        print(f"{len(changed)} summary line(s) changed in {target.name}" + (":" if changed else "."))
        for line in changed:
            print(f"  {line[:1]} {line[1:].strip()[:200]}")
    if TIMES_START in new:
        new = replace_between(new, TIMES_START, TIMES_END, times_table(results_dir, profile), readme)
    if new != text or not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda handle: handle.write(new.encode()))
    return new != text or new_report != old_report


def main(argv: list[str] | None = None) -> int:
    """``python -m common.study.report [--profile quick]``: the study's own errors (an incomplete input) end in
    their sentence and exit code 2; ``--debug`` shows the traceback too."""
    from common.runs.preflight import command_line

    return command_line(_main, argv)


def _main(argv: list[str]) -> int:
    import argparse

    from common.study.status import read_status

    parser = argparse.ArgumentParser(description="Write results/REPORT.md and the README's summary from results/.")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "full"),
                        help="whose records the findings and figures read (smoke: written under runs/smoke/outputs)")
    profile = parser.parse_args(argv).profile
    target = report_path(COMMITTED_README, profile)
    changed = update_readme(status=read_status(profile), profile=profile)
    print(f"results/REPORT.md and {target}'s summary", "updated" if changed else "already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
