"""N-MNIST conclusions that survive a rerun: every variant of notebooks 02-04 on the same folds.

With a subset of N-MNIST at hand (the mirror's 1,000 + 100 real recordings), one 100-recording test set
makes one recording one point, and a rerun on another machine flipped "beta 0.8 beats beta 0.5". So the
quick profile pools *every* real recording and runs stratified k-fold cross-validation: each recording is
tested exactly once, every variant (beta 0.5, beta 0.8, learned beta, population code) is trained on the
same folds with the same seeds, and each comparison is paired by fold (t-interval over folds x seeds) and
by recording (exact McNemar test over all test predictions). The full profile keeps N-MNIST's official
60,000 / 10,000 split, with seeds as the replicates and the same statistics.

Each (variant, fold, seed) is one cell of the resumable grid runner (:func:`common.runs.grid.run_grid`,
2 workers), one record in ``results/nmnist_folds-<profile>.jsonl``: the fold's recordings, their labels and
the predictions after every time bin, so every statistic here can be recomputed from the table.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common.config import DataSettings
from common.data.splits import pooled_frames
from common.runs.cells import Cell, GridContext
from common.runs.grid import expand_grid
from common.runs.records import flat, table_path
from common.runs.specs import FOLD_VARIANTS
from common.runs.stats import cmh_by_run, corrected_resampled_t, holm

# The variants, in the tables' order: the names of the spec table's FOLD_VARIANTS (one source).
VARIANTS = tuple(FOLD_VARIANTS)


def fold_cell(factors: dict) -> Cell:
    """The run of one (variant, fold, seed) of the grid: the variant's spec trained on the fold's other recordings
    and tested on the fold (``fold`` None: the official split), keeping every test recording's answer after every
    time bin in its record."""
    variant, fold, seed = factors["variant"], factors.get("fold"), int(factors["seed"])
    split = f"fold{fold}" if fold is not None else "official"
    data = {"fold": fold}
    if factors.get("fold_seed") is not None:       # the confirmation's partition: its own folds and run names
        data["fold_seed"] = int(factors["fold_seed"])
        split = f"foldseed{data['fold_seed']}_{split}"
    return Cell(factors, FOLD_VARIANTS[variant], seed, keep_answers=True, data=data,
                run_name=f"nmnist_folds_{variant.replace(',', '').replace(' ', '_')}_{split}_seed{seed}")


def study_cells(settings: dict, seed: int = 0) -> list[Cell]:
    """Variants x folds x seeds (folds: the profile's k, or None for the official split), one seed after the other:
    a study stopped part-way holds whole repetitions of the k folds for every variant."""
    folds = list(range(settings["folds"])) if settings.get("folds") else [None]
    grid = [{"variant": list(VARIANTS), "fold": folds, "seeds": [s]} for s in range(seed, seed + settings["n_seeds"])]
    return [fold_cell(factors) for factors in expand_grid(grid)]


STUDY = "nmnist_folds"   # its table: results/nmnist_folds-<profile>.jsonl (common.runs.records.table_path)


def run_study(profile: str = "quick", data_root=None, mirror=None, output_root=None, device=None,
              workers: int | None = None, seed: int = 0) -> list[dict]:
    """Run (or resume) every cell of the profile's N-MNIST fold study; returns its rows."""
    from common.config import resolve_locations
    from common.runs.grid import run_grid
    from common.runs.specs import profile_settings

    settings = profile_settings("scnn_nmnist", profile)
    data_root, mirror, output_root = resolve_locations(data_root, mirror, output_root, profile)
    if settings.get("folds"):   # frame (and cache) every recording once, before the workers start
        pooled_frames("nmnist", DataSettings.of(settings), data_root, mirror)
    context = GridContext(profile, data_root, mirror, output_root, device, threads=1)
    return run_grid(study_cells(settings, seed), table_path(STUDY, profile, output_root), context,
                    workers=workers or settings.get("workers", 1))


# ---------------------------------------------------------------- the confirmation partition (issue #40)

CONFIRM = "nmnist_folds_confirm"   # its table: results/nmnist_folds_confirm-<profile>.jsonl


def primary_variants() -> list[str]:
    """The variants the primary family compares (:data:`common.runs.specs.PRIMARY_FAMILIES`), in the tables' order."""
    from common.runs.specs import PRIMARY_FAMILIES

    wanted = {v for pair in PRIMARY_FAMILIES["nmnist_folds"]["pairs"] for v in pair}
    return [v for v in VARIANTS if v in wanted]


def confirm_seeds(settings: dict) -> list[int]:
    """The confirmation's training seeds: :data:`common.runs.specs.FOLD_CONFIRM`'s first seed onwards, as many as the
    profile's ``n_seeds`` (3, 4, 5 in quick), none of which the exploratory grid (seeds 0 .. n_seeds - 1) uses."""
    from common.runs.specs import FOLD_CONFIRM

    return list(range(FOLD_CONFIRM["first_seed"], FOLD_CONFIRM["first_seed"] + settings["n_seeds"]))


def confirm_cells(settings: dict) -> list[Cell]:
    """The confirmation's cells: the primary variants on the folds of :data:`common.runs.specs.FOLD_CONFIRM`'s
    stratification seed, with its seeds. Seed by seed, and within a seed fold by fold (every primary variant of fold 0,
    then of fold 1, ...): a run stopped part-way holds whole seeds of k folds for every variant, plus the same folds
    of every variant of the seed it stopped in, so every comparison stays paired."""
    from common.runs.specs import FOLD_CONFIRM

    if not settings.get("folds"):
        raise ValueError("the confirmation partition is a k-fold split: this profile keeps the official split "
                         "(folds None); run it with a profile that sets folds (smoke, quick)")
    return [fold_cell({"variant": v, "fold": fold, "fold_seed": FOLD_CONFIRM["fold_seed"], "seed": s})
            for s in confirm_seeds(settings) for fold in range(settings["folds"]) for v in primary_variants()]


def expected_cost(cells: list[Cell], reference: list[dict], workers: int) -> dict:
    """What ``cells`` should cost, from the ``train_seconds`` of the same variants' cells in ``reference`` (the
    exploratory table's rows): the median per variant, summed over the cells; wall time divided over ``workers``.
    A variant without a reference cell makes the estimate None."""
    per_variant = {}
    for variant in dict.fromkeys(c.factors["variant"] for c in cells):
        seconds = [r["train_seconds"] for r in reference
                   if r["cell"]["variant"] == variant and r.get("train_seconds") is not None]
        per_variant[variant] = float(np.median(seconds)) if seconds else None
    known = None not in per_variant.values()
    total = sum(per_variant[c.factors["variant"]] for c in cells) if known else None
    return {"seconds_per_cell": per_variant, "cell_seconds": total,
            "wall_seconds": total / max(1, workers) if known else None, "reference_cells": len(reference)}


def run_confirmation(profile: str = "quick", data_root=None, mirror=None, output_root=None, device=None,
                     workers: int | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) the confirmation partition of the profile (:func:`confirm_cells`) into its own table,
    ``results/nmnist_folds_confirm-<profile>.jsonl``, a row appended as each cell finishes (cells already there are
    skipped: kill it and start it again to resume). Prints the expected cost from the exploratory table's records,
    and a progress bar."""
    from tqdm.auto import tqdm

    from common.config import resolve_locations
    from common.runs.grid import cell_key, run_grid
    from common.runs.records import ResultsTable
    from common.runs.specs import FOLD_CONFIRM, profile_settings

    settings = profile_settings("scnn_nmnist", profile)
    workers = workers or settings.get("workers", 1)
    data_root, mirror, output_root = resolve_locations(data_root, mirror, output_root, profile)
    cells = confirm_cells(settings)
    table = ResultsTable(table_path(CONFIRM, profile, output_root))
    done = {r.get("cell_key") for r in table.rows()}
    todo = [c for c in cells if cell_key(c.factors) not in done]
    reference = ResultsTable(table_path(STUDY, profile, output_root)).rows()
    cost = expected_cost(todo, reference, workers)
    print(f"confirmation partition ({profile}): {', '.join(primary_variants())}; {settings['folds']} folds of "
          f"stratification seed {FOLD_CONFIRM['fold_seed']}, training seeds {confirm_seeds(settings)}: {len(cells)} "
          f"cells, {len(cells) - len(todo)} already in {table.path.name}, {len(todo)} to run")
    if cost["wall_seconds"] is not None:
        print(f"expected cost: {cost['cell_seconds'] / 3600:.2f} cell-hours, about {cost['wall_seconds'] / 3600:.2f} h "
              f"of wall time with {workers} worker(s) (median train_seconds per variant over the "
              f"{cost['reference_cells']} cells of {table_path(STUDY, profile, output_root).name}: " +
              ", ".join(f"{v} {s:.0f} s" for v, s in cost["seconds_per_cell"].items()) + ")", flush=True)
    else:
        print(f"expected cost: unknown (no {STUDY} cells of every variant to measure it from)", flush=True)
    if settings.get("folds"):   # frame (and cache) every recording once, before the workers start
        pooled_frames("nmnist", DataSettings.of(settings), data_root, mirror)
    context = GridContext(profile, data_root, mirror, output_root, device, threads=1)
    with tqdm(total=len(cells), initial=len(cells) - len(todo), desc="confirmation cells", unit="cell",
              **({} if progress else {"disable": True})) as bar:   # unset: $TQDM_DISABLE decides
        return run_grid(cells, table, context, workers=workers, verbose=False,
                        on_row=lambda cell, row: (bar.set_postfix_str(cell_key(cell.factors)), bar.update(1)))


# ---------------------------------------------------------------- reading the table

def fold_settings(rows: list[dict]) -> dict:
    """The fold study's settings in the profile the rows were trained in."""
    from common.runs.specs import profile_settings
    return profile_settings("scnn_nmnist", rows[0]["config"]["profile"])


def complete_seeds(rows: list[dict]) -> list[dict]:
    """The rows of the training seeds that hold every (variant, fold) the partition has: a confirmation still running
    answers only from balanced seeds, never from a few cells."""
    if not rows:
        return []
    variants = {r["cell"]["variant"] for r in rows}
    by_seed: dict[int, set] = {}
    for r in rows:
        by_seed.setdefault(r["cell"]["seed"], set()).add((r["cell"]["variant"], r["cell"]["fold"]))
    expected = len(variants) * fold_settings(rows)["folds"]
    whole = {s for s, have in by_seed.items() if len(have) == expected}
    return [r for r in rows if r["cell"]["seed"] in whole]


def confirmation(profile: str, output_root=None) -> list[dict]:
    """The confirmation partition's rows (:func:`run_confirmation`) of its complete training seeds; none where it has
    not been run."""
    from common.runs.records import ResultsTable
    return complete_seeds(ResultsTable(table_path(CONFIRM, profile, output_root)).rows())


def fold_seed_of(record: dict):
    """The stratification seed of a record's folds (its partition): the cell's, else the record's (None: a row
    that names none, e.g. the official split)."""
    cell = record.get("cell") or {}
    data = (record.get("config") or {}).get("data") or {}
    for value in (cell.get("fold_seed"), record.get("fold_seed"), data.get("fold_seed")):
        if value is not None:
            return value
    return None


def _flat(records: list[dict]) -> list[dict]:
    """:func:`common.runs.records.flat` lines, each with its partition (``fold_seed``)."""
    return [{**flat(r), "fold_seed": fold_seed_of(r)} for r in records]


def _runs(rows: list[dict], variant: str) -> dict:
    """(fold seed, fold, seed) -> that run's flat record, for one variant: runs of two partitions never collide."""
    return {(r.get("fold_seed"), r["fold"], r["seed"]): r for r in rows if r["variant"] == variant}


def _right(row: dict, t: int) -> np.ndarray:
    """Which test recordings the run answered right after the first ``t`` time bins."""
    return np.asarray(row["predictions_by_time_bins"][t - 1]) == np.asarray(row["labels"])


def test_train_ratio(rows: list[dict]) -> float:
    """n_test / n_train of one fold (1 / (k - 1) for k folds): the overlap the corrected test corrects for."""
    row = rows[0]
    return len(row["labels"]) / row["train_samples"]


def _by_fold(by_run: dict) -> dict:
    """A per-run value (keyed (fold seed, fold, seed)) as {(fold seed, fold): [one value per seed]}: a fold of one
    partition is one replicate of the corrected repeated k-fold test (common.runs.stats.corrected_resampled_t)."""
    by_fold: dict = {}
    for (fold_seed, fold, _), value in by_run.items():
        by_fold.setdefault((fold_seed, fold), []).append(value)
    return by_fold


def _over_folds(by_run: dict, ratio: float, level: float = 0.95) -> dict:
    """A per-run value (keyed (fold seed, fold, seed)) summarised over folds with the corrected resampled t-test."""
    return corrected_resampled_t(_by_fold(by_run), ratio, level)


def accuracy_over_folds(records: list[dict], t: int | None = None, variants=VARIANTS) -> pd.DataFrame:
    """Per variant (of ``variants``, in their order): accuracy after ``t`` bins (default: all) over folds x seeds, with the interval corrected for
    the folds' overlapping training sets, the spread between folds and between seeds, no decisions, and how
    many test predictions it rests on."""
    rows = _flat(records)
    t = t or len(rows[0]["predictions_by_time_bins"])
    ratio = test_train_ratio(rows)
    lines = []
    for variant in [v for v in variants if any(r["variant"] == v for r in rows)]:
        runs = _runs(rows, variant)
        summary = _over_folds({k: float(_right(r, t).mean()) for k, r in runs.items()}, ratio)
        lines.append({"variant": variant, "runs": summary["runs"], "folds": summary["folds"],
                      "seeds": len({s for *_, s in runs}), "partitions": len({p for p, *_ in runs}), "mean": summary["mean"], "low": summary["low"],
                      "high": summary["high"], "fold std": summary["fold_std"], "seed std": summary["seed_std"],
                      "parameters": int(np.median([r["parameters"] for r in runs.values()])),
                      "test_predictions": sum(len(r["labels"]) for r in runs.values()),
                      "no_decision": sum(int((np.asarray(r["predictions_by_time_bins"][t - 1]) == -1).sum())
                                         for r in runs.values())})
    return pd.DataFrame(lines).set_index("variant")


def head_to_head(records: list[dict], pairs=None, bins=None, bootstrap: int = 2000) -> pd.DataFrame:
    """Each (a, b) of ``pairs`` after each of ``bins`` time bins (default: the exploratory family,
    :data:`common.runs.specs.FOLD_FAMILY`), b - a in accuracy points; the table's lines are one family:
    - over folds (seeds averaged within a fold; a fold of each partition one replicate): mean, unadjusted 95%
      interval and p-value of the corrected (repeated) k-fold t-test, Holm's adjustment over the table's lines, the
      Bonferroni-adjusted interval beside it (level 1 - 0.05/m for m lines), and in how many folds b is ahead / behind;
    - over recordings, descriptive: a two-way cluster bootstrap over runs and recordings (its 95% interval), the
      discordant counts pooled over runs, and the CMH p-value stratified by run (unadjusted, no verdict: it treats
      the trained models as fixed).
    A line comparing a variant of :data:`common.runs.specs.ALL_BINS_ONLY` before the last bin is left out: those
    networks were trained on their answer after all bins only, so earlier they are judged on inputs never seen."""
    from common.runs.specs import ALL_BINS_ONLY, FOLD_FAMILY
    from common.runs.stats import adjusted_level, cluster_bootstrap

    rows = _flat(records)
    pairs = pairs or FOLD_FAMILY["pairs"]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    bins = list(dict.fromkeys(min(b, n_bins) for b in (bins or FOLD_FAMILY["time_bins"])))
    ratio = test_train_ratio(rows)
    present = {r["variant"] for r in rows}
    tests = [(a, b, t) for a, b in pairs if {a, b} <= present for t in bins
             if t == n_bins or not {a, b} & set(ALL_BINS_ONLY)]
    level = adjusted_level(len(tests))
    lines = []
    for a, b, t in tests:
        runs_a, runs_b = _runs(rows, a), _runs(rows, b)
        keys = sorted(set(runs_a) & set(runs_b), key=str)
        right = [(_right(runs_a[k], t), _right(runs_b[k], t)) for k in keys]
        by_run = {k: float(rb.mean() - ra.mean()) for k, (ra, rb) in zip(keys, right)}
        folds, adjusted = _over_folds(by_run, ratio), _over_folds(by_run, ratio, level)
        recordings = cmh_by_run(right)
        names = sorted({name for k in keys for name in runs_a[k]["recordings"]})
        column = {name: j for j, name in enumerate(names)}
        table = np.full((len(keys), len(names)), np.nan)
        for i, (k, (ra, rb)) in enumerate(zip(keys, right)):
            table[i, [column[n] for n in runs_a[k]["recordings"]]] = rb.astype(float) - ra.astype(float)
        boot = cluster_bootstrap(table, n_boot=bootstrap)
        lines.append({"a": a, "b": b, "time bins": t, "b - a (points)": 100 * folds["mean"],
                      "95% CI low": 100 * folds["low"], "95% CI high": 100 * folds["high"],
                      "adjusted level": level, "adjusted CI low": 100 * adjusted["low"],
                      "adjusted CI high": 100 * adjusted["high"],
                      "runs": folds["runs"], "folds": folds["folds"], "folds b ahead": folds["positive"],
                      "folds b behind": folds["negative"], "p (folds)": folds["p_value"],
                      "only a right": int(sum((ra & ~rb).sum() for ra, rb in right)),
                      "only b right": int(sum((rb & ~ra).sum() for ra, rb in right)),
                      "recordings": boot["recordings"], "bootstrap low": 100 * boot["low"],
                      "bootstrap high": 100 * boot["high"], "p (CMH by run)": recordings["p_value"]})
    table = pd.DataFrame(lines)
    if len(table):
        table.insert(table.columns.get_loc("p (folds)") + 1, "Holm p (folds)", holm(table["p (folds)"]))
    return table


def primary_lines(records: list[dict], bootstrap: int = 2000) -> pd.DataFrame:
    """The primary family (:data:`common.runs.specs.PRIMARY_FAMILIES`) on ``records``: its pairs after all bins,
    Holm-adjusted over the family alone, with Bonferroni-adjusted intervals. ``records`` are the confirmation
    partition's rows (the confirmed answer), or both partitions' (the pooled estimate: the corrected repeated k-fold
    test over every fold of both), or the exploratory table's (what suggested the question)."""
    from common.runs.specs import PRIMARY_FAMILIES

    family = PRIMARY_FAMILIES["nmnist_folds"]
    return head_to_head(records, family["pairs"], family["time_bins"], bootstrap=bootstrap)


def family_lines(records: list[dict], pairs) -> pd.DataFrame:
    """The lines of the study's whole family (:func:`head_to_head` with its defaults, so Holm runs over every
    declared test) that compare one of ``pairs``: what a notebook shows of the family without shrinking it."""
    table = head_to_head(records)
    wanted = {tuple(p) for p in pairs}
    return table[[(a, b) in wanted for a, b in zip(table["a"], table["b"])]].reset_index(drop=True)


def fold_differences(records: list[dict], a: str, b: str, bins=None) -> pd.DataFrame:
    """b - a in accuracy points per fold (seeds averaged within the fold) after each of ``bins`` time bins
    (default: the family's): the per-fold signs beside :func:`head_to_head`'s pooled tests."""
    from common.runs.specs import FOLD_FAMILY

    rows = _flat(records)
    n_bins = len(rows[0]["predictions_by_time_bins"])
    runs_a, runs_b = _runs(rows, a), _runs(rows, b)
    keys = sorted(set(runs_a) & set(runs_b), key=str)
    table = {}
    for t in dict.fromkeys(min(x, n_bins) for x in (bins or FOLD_FAMILY["time_bins"])):
        by_fold = _by_fold({k: 100 * (_right(runs_b[k], t).mean() - _right(runs_a[k], t).mean()) for k in keys})
        partitions = len({fs for fs, _ in by_fold})
        table[f"after {t} bins"] = {f"fold {fold}" + (f" of fold seed {fs}" if partitions > 1 else ""): float(np.mean(v))
                                    for (fs, fold), v in by_fold.items()}
    return pd.DataFrame(table).rename_axis(f"{b} - {a} (points)")


def early_decisions(records: list[dict], bins=None) -> pd.DataFrame:
    """Per variant after t bins, means over runs: accuracy, the fraction without a decision (silent or tied),
    and the accuracy of the decided answers alone. A variant can be right more often early only because it
    decides more often, or because its decisions are better: the two columns tell which."""
    from common.runs.specs import FOLD_FAMILY

    rows = _flat(records)
    n_bins = len(rows[0]["predictions_by_time_bins"])
    lines = []
    for variant in [v for v in VARIANTS if any(r["variant"] == v for r in rows)]:
        runs = list(_runs(rows, variant).values())
        for t in dict.fromkeys(min(b, n_bins) for b in (bins or FOLD_FAMILY["time_bins"])):
            answers = [np.asarray(r["predictions_by_time_bins"][t - 1]) for r in runs]
            decided = [a != -1 for a in answers]
            right = [_right(r, t) for r in runs]
            lines.append({"variant": variant, "time bins": t, "accuracy": float(np.mean([x.mean() for x in right])),
                          "no decision": float(np.mean([1 - d.mean() for d in decided])),
                          "decided accuracy": float(np.mean([x[d].mean() if d.any() else np.nan
                                                             for x, d in zip(right, decided)]))})
    return pd.DataFrame(lines)


def curves(rows: list[dict]) -> dict[str, dict]:
    """Per variant: mean accuracy after t bins over folds x seeds, with its corrected 95% interval band."""
    rows = _flat(rows)
    ratio = test_train_ratio(rows)
    out = {}
    for variant in VARIANTS:
        runs = _runs(rows, variant)
        if runs:
            n_bins = len(next(iter(runs.values()))["accuracy_by_time_bins"])
            stats = [_over_folds({k: r["accuracy_by_time_bins"][t] for k, r in runs.items()}, ratio)
                     for t in range(n_bins)]
            out[variant] = {k: [s[k] for s in stats] for k in ("mean", "low", "high")}
    return out


def plot_curves(rows: list[dict], pair=("beta 0.5", "beta 0.8"), title="N-MNIST, every recording tested once",
                variants=None):
    """Accuracy after t bins per variant (``variants``, default every one) with its band, and the paired difference of ``pair`` with its band
    (both: 95% intervals over folds, corrected for overlapping training sets). The lines' data are the
    values of :func:`curves` and :func:`head_to_head`, which tests/test_nmnist_folds.py checks."""
    rows = _flat(rows)
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.2))   # README width: text stays >= 9 pt
    for variant, curve in curves(rows).items():
        if variants is not None and variant not in variants:
            continue
        bins = range(1, len(curve["mean"]) + 1)
        line, = left.plot(bins, curve["mean"], label=variant, ls="--" if variant.startswith("CNN") else "-")
        left.fill_between(bins, np.clip(curve["low"], 0, 1), np.clip(curve["high"], 0, 1), alpha=0.15,
                          color=line.get_color())
    runs = {v: len({(r["fold"], r["seed"]) for r in rows if r["variant"] == v}) for v in curves(rows)
            if variants is None or v in variants}
    usual = max(set(runs.values()), key=list(runs.values()).count)
    fewer = "".join(f"; {v}: {n}" for v, n in runs.items() if n != usual)
    left.set(xlabel="time bins seen", ylabel="test accuracy", ylim=(0, 1), title=title)
    left.legend(fontsize=9, loc="lower right")
    n_bins = len(rows[0]["accuracy_by_time_bins"])
    if {pair[0], pair[1]} <= {r["variant"] for r in rows}:
        table = head_to_head(rows, [pair], bins=range(1, n_bins + 1))
        right.plot(table["time bins"], table["b - a (points)"], color="black")
        right.fill_between(table["time bins"], table["95% CI low"], table["95% CI high"], color="grey", alpha=0.3)
        right.axhline(0, color="red", lw=0.8)
    right.set(xlabel="time bins seen", ylabel=f"{pair[1]} - {pair[0]} (points)", title="paired difference")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(f"bands: 95% CI over folds ({usual} runs each: folds x seeds{fewer}; corrected for overlapping "
                 f"training sets)",
                 fontsize=9, y=0.02, va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Run (or resume) the N-MNIST fold study of a profile: its "
                                     "exploratory partition, or the confirmation of the primary family.")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--partition", default="exploratory", choices=("exploratory", "confirm"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--output-root", default=None)
    args = parser.parse_args(argv)
    # pool workers must find this module's cells as common.study.nmnist_folds, not as __main__
    from common.study import nmnist_folds as study

    start = time.perf_counter()
    if args.partition == "confirm":
        rows = study.run_confirmation(args.profile, output_root=args.output_root, workers=args.workers)
        print(f"{len(rows)} rows in {table_path(CONFIRM, args.profile, args.output_root)}; "
              f"{time.perf_counter() - start:.0f} s wall")
        return 0
    rows = study.run_study(args.profile, workers=args.workers, output_root=args.output_root)
    print(f"{len(rows)} rows in {table_path(STUDY, args.profile)}; {time.perf_counter() - start:.0f} s wall")
    print(accuracy_over_folds(rows).round(4).to_string())
    print(head_to_head(rows).round(4).to_string())
    print(early_decisions(rows).round(4).to_string())
    return 0


def as_records(rows: list[dict], profile: str) -> list[dict]:
    """The fold study's records under the names the comparison pools by: run ``<spec>_folds`` (the variant's
    spec, :data:`common.runs.specs.FOLD_VARIANTS`), its official-split run as ``twin``, the variant as ``label``,
    and the variant's corrected interval over folds (the plain t-interval over 15 overlapping runs is too narrow)."""
    from common.runs.specs import FOLD_VARIANTS

    if not rows:
        return []
    intervals = accuracy_over_folds(rows)
    records = []
    for row in sorted(rows, key=lambda r: (r["cell"]["variant"], str(r["cell"]["fold"]), r["cell"]["seed"])):
        variant = row["cell"]["variant"]
        spec = FOLD_VARIANTS[variant]
        records.append({**row, "run": f"{spec}_folds-{profile}", "twin": spec, "label": variant,
                        "interval": [float(intervals.loc[variant, "low"]), float(intervals.loc[variant, "high"])],
                        "config": {**row["config"], "run_name": f"{spec}_folds"}})
    return records


def records(profile: str, output_root=None) -> list[dict]:
    """:func:`as_records` of the profile's table (none if it has not been run)."""
    from common.runs.records import ResultsTable

    return as_records(ResultsTable(table_path(STUDY, profile, output_root)).rows(), profile)


if __name__ == "__main__":
    from common.runs.preflight import command_line
    raise SystemExit(command_line(main))    # the study's own errors: one sentence, exit code 2 (--debug: traceback)
