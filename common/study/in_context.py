"""A single run in context: its accuracy beside the study's replicated estimate of the same variant.

One run is one draw: the official-split N-MNIST runs moved by 2 points between two machines, while the fold
study (common/study/nmnist_folds.py, every variant on the same folds and seeds) says how far a rerun moves.
Every notebook that prints a single run's accuracy calls :func:`in_context` beside it.
"""
from __future__ import annotations

import math

from common.runs.specs import FOLD_VARIANTS


def variant_of(run_name: str) -> str | None:
    """The fold study's variant a run belongs to (its spec's, also for ``<spec>_retrain`` or ``<spec>_<digest>``)."""
    matches = [(spec, variant) for variant, spec in FOLD_VARIANTS.items()
               if run_name == spec or run_name.startswith(spec + "_")]
    return max(matches, key=lambda m: len(m[0]))[1] if matches else None   # the longest: population vs population_small


def in_context(record: dict, output_root=None) -> str:
    """Two lines (printed, and returned): the study's replicated estimate of ``record``'s variant with its 95%
    interval, and whether the run falls inside it; or one line saying why there is no such estimate."""
    from common.config import shown
    from common.runs.records import ResultsTable, table_path
    from common.study import nmnist_folds

    config = record["config"]
    accuracy, variant = record["test"]["accuracy"], variant_of(config["run_name"])
    table = table_path(nmnist_folds.STUDY, config["profile"], output_root)
    rows = ResultsTable(table).rows() if variant else []
    if variant is None:
        text = (f"No replicated estimate of {config['run_name']}: the study runs it once (one seed), so "
                f"{accuracy:.2%} is a single run, and how much a rerun moves it is not measured.")
    elif not any(r.get("cell", {}).get("variant") == variant for r in rows):
        text = (f"No replicated estimate of {variant!r} yet: {shown(table)} holds no run of it (notebook 03 "
                f"runs the fold study), so {accuracy:.2%} is a single run.")
    else:
        line = nmnist_folds.accuracy_over_folds(rows).loc[variant]
        mean, low, high = (float(line[k]) for k in ("mean", "low", "high"))
        runs = int(line.get("runs", line.get("replicates", 0)))
        if math.isnan(low) or math.isnan(high):
            where = "no interval yet (too few folds have finished)"
        elif low <= accuracy <= high:
            where = "inside it"
        else:
            where = "above it" if accuracy > high else "below it"
        text = (f"replicated estimate of {variant!r} (fold study, {runs} runs, {shown(table)}): {mean:.2%}, "
                f"95% interval {low:.2%} .. {high:.2%}\n"
                f"this run, {accuracy:.2%} on its {record['test']['n_samples']} test samples, is {where}.")
    print(text)
    return text
