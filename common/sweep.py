"""Factor grids: expand, run (resumably), and summarise with confidence intervals.

A *grid* is a dict ``factor -> list of levels`` (their product), or a list of such dicts (the union:
how a "quick" grid picks a subset of the full product). A dict may carry its own ``"seeds"``.
Every cell (one level per factor, plus a seed) is one call ``run_cell(cell, context) -> row``.

Rows go to a results table, ``results/<name>.jsonl``, one JSON object per line. After every cell
the *whole* table is rewritten through :func:`common.checkpoint.atomic_write` (temporary file,
fsync, rename), so a kill at any moment leaves either the old table or the new one, never half a
row. A cell whose key is already in the table is skipped: re-running a grid recomputes nothing, and
a killed grid resumes where it stopped (a killed cell itself resumes from its last epoch checkpoint,
``common.fit``).

Runners: :func:`run_grid` runs cells one after another, or in a local process pool
(``workers > 1``, concurrent.futures, no server); ``backend="ray"`` hands them to Ray Tune
(``pip install .[ray]``) for when one machine is not enough. Only the calling process writes the
table, whatever the backend.
"""
from __future__ import annotations

import itertools
import json
import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from .checkpoint import atomic_write
from .stats import t_interval, t_quantile  # noqa: F401  (one statistics module; re-exported here)

SEED = "seed"
KEY = "cell_key"
TIMING = ("train_seconds", "wall_seconds", "seconds_per_epoch", "checkpoint", "date")   # differ run to run


# ------------------------------------------------------------------------------ grid and table

def expand_grid(grid: dict | list[dict], seeds: list[int] | None = None) -> list[dict]:
    """Every cell of ``grid`` (dict or list of dicts), each with a ``seed``; duplicates removed, order kept."""
    cells, seen = [], set()
    for part in ([grid] if isinstance(grid, dict) else grid):
        part = dict(part)
        part_seeds = part.pop("seeds", seeds)
        if part_seeds is None:
            raise ValueError(f"no seeds for grid part {part}: pass seeds= or put 'seeds' in it")
        factors = sorted(part)
        for levels in itertools.product(*(part[f] for f in factors)):
            for seed in part_seeds:
                cell = {**dict(zip(factors, levels)), SEED: seed}
                key = cell_key(cell)
                if key not in seen:
                    seen.add(key)
                    cells.append(cell)
    return cells


def cell_key(cell: dict) -> str:
    """The identity of a cell: its factors and seed, as canonical JSON."""
    return json.dumps({k: v for k, v in cell.items() if k != KEY}, sort_keys=True, default=str)


class ResultsTable:
    """A JSONL file of result rows, each tagged with its ``cell_key``; appends rewrite it atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def keys(self) -> set[str]:
        return {row[KEY] for row in self.rows()}

    def append(self, *rows: dict) -> None:
        text = "".join(json.dumps(row, default=str) + "\n" for row in [*self.rows(), *rows])
        atomic_write(self.path, lambda handle: handle.write(text.encode()))

    def frame(self):
        import pandas as pd
        return pd.DataFrame(self.rows())


# ------------------------------------------------------------------------------ runners

def _tagged(cell: dict, row: dict) -> dict:
    return {**row, SEED: cell[SEED], KEY: cell_key(cell)}


def run_grid(grid, run_cell: Callable[[dict, dict], dict], table: str | Path | ResultsTable,
             context: dict | None = None, seeds: list[int] | None = None, workers: int = 1,
             backend: str = "local", verbose: bool = True) -> list[dict]:
    """Run every cell of ``grid`` not yet in ``table``; return the table's rows for the grid's cells.

    ``backend="local"``: sequential (``workers=1``) or a process pool of ``workers`` processes
    (``run_cell`` must then be importable, e.g. :func:`common.rsnn.train_cell`). ``backend="ray"``:
    Ray Tune on a local (or already connected) Ray instance, ``workers`` trials at a time.
    """
    table = table if isinstance(table, ResultsTable) else ResultsTable(table)
    context = dict(context or {})
    cells = expand_grid(grid, seeds)
    done = table.keys()
    todo = [c for c in cells if cell_key(c) not in done]
    if verbose:
        print(f"{len(cells)} cells: {len(cells) - len(todo)} already in {table.path.name}, {len(todo)} to run")
    if todo and backend == "ray":
        run_ray(todo, run_cell, table, context, workers, verbose)
    elif todo and workers > 1:
        import multiprocessing
        # longest first (by epochs), so no long cell starts last while the other workers sit idle
        todo = sorted(todo, key=lambda cell: -float(cell.get("epochs", 0) or 0))
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        with pool:
            futures = {pool.submit(run_cell, cell, context): cell for cell in todo}
            for n, future in enumerate(as_completed(futures), 1):
                table.append(_tagged(futures[future], future.result()))
                if verbose:
                    print(f"  [{n}/{len(todo)}] {cell_key(futures[future])}")
    elif todo:
        if backend != "local":
            raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
        for n, cell in enumerate(todo, 1):
            if verbose:
                print(f"  [{n}/{len(todo)}] {cell_key(cell)}", flush=True)
            table.append(_tagged(cell, run_cell(cell, context)))
    wanted = {cell_key(c) for c in cells}
    return [row for row in table.rows() if row[KEY] in wanted]


def run_ray(cells: list[dict], run_cell, table: ResultsTable, context: dict, workers: int = 1,
            verbose: bool = True) -> None:
    """Run ``cells`` as Ray Tune trials (one trial per cell, ``workers`` at a time); append their rows.

    Starts a local Ray instance unless one is connected already (``ray.init(address=...)`` first
    to use a cluster). Rows travel back as JSON, so they are the same rows the local runner writes.
    """
    try:
        import ray
        from ray import tune
    except ImportError as error:
        raise ImportError("backend='ray' needs Ray Tune: pip install '.[ray]'") from error
    from .config import PROJECT_ROOT

    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=verbose,
                 runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}})

    def trainable(config):
        tune.report({"row_json": json.dumps(run_cell(config["cell"], context), default=str)})

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"cell": tune.grid_search(cells)},
        tune_config=tune.TuneConfig(max_concurrent_trials=workers),
        run_config=tune.RunConfig(storage_path=str(table.path.parent.resolve() / "ray"),
                                  name=table.path.stem, verbose=1 if verbose else 0))
    results = tuner.fit()
    by_key = {}
    for result in results:
        if result.error is not None:
            raise RuntimeError(f"Ray trial for cell {result.config['cell']} failed: {result.error}")
        by_key[cell_key(result.config["cell"])] = json.loads(result.metrics["row_json"])
    table.append(*(_tagged(cell, by_key[cell_key(cell)]) for cell in cells))


# ------------------------------------------------------------------------------ statistics

def factor_columns(rows: list[dict]) -> list[str]:
    """Columns that define a cell: in the cell key, except the seed."""
    columns = []
    for row in rows:
        for name in json.loads(row[KEY]):
            if name != SEED and name not in columns:
                columns.append(name)
    return columns


def _cell_factors(row: dict) -> dict:
    return {k: v for k, v in json.loads(row[KEY]).items() if k != SEED}


def summarize(rows: list[dict], metric: str = "test_accuracy", extra: tuple[str, ...] = ()):
    """Mean, std (over seeds, ddof 1) and n of ``metric`` per cell; plus the means of ``extra`` columns."""
    import pandas as pd

    frame = pd.DataFrame([{**_cell_factors(r), SEED: r[SEED], metric: r[metric],
                           **{e: r.get(e) for e in extra}} for r in rows])
    factors = [c for c in factor_columns(rows)]
    frame[factors] = frame[factors].astype(str)   # None / bool levels group cleanly
    grouped = frame.groupby(factors, dropna=False)
    out = grouped[metric].agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    for e in extra:
        out[e] = grouped[e].mean()
    return out.reset_index()


def paired_differences(rows: list[dict], factor: str, level_a, level_b, metric: str = "test_accuracy"):
    """``metric(level_b) - metric(level_a)`` over cells equal in every other factor and the seed.

    One line per context (the other factors' levels) with the mean difference and its 95%
    t-interval over seeds, and a final ``all`` line pooling every pair. Returns a DataFrame.
    """
    import pandas as pd

    def split(row):
        factors = _cell_factors(row)
        level = factors.pop(factor, None)
        return level, json.dumps({**factors, SEED: row[SEED]}, sort_keys=True, default=str)

    a, b = {}, {}
    for row in rows:
        level, context = split(row)
        if level == level_a:
            a[context] = row[metric]
        elif level == level_b:
            b[context] = row[metric]
    by_context: dict[str, list[float]] = {}
    for context in sorted(set(a) & set(b)):
        others = {k: v for k, v in json.loads(context).items() if k != SEED}
        by_context.setdefault(json.dumps(others, sort_keys=True, default=str), []).append(b[context] - a[context])
    lines = [{"factor": factor, "a": level_a, "b": level_b, "context": ctx, **t_interval(diffs)}
             for ctx, diffs in by_context.items()]
    if len(lines) > 1:
        pooled = [d for diffs in by_context.values() for d in diffs]
        lines.append({"factor": factor, "a": level_a, "b": level_b, "context": "all", **t_interval(pooled)})
    return pd.DataFrame(lines, columns=["factor", "a", "b", "context", "n", "mean", "std", "low", "high"])


def factor_effects(rows: list[dict], comparisons: list[tuple], metric: str = "test_accuracy"):
    """:func:`paired_differences` for several ``(factor, level_a, level_b)``, stacked in one table."""
    import pandas as pd
    frames = [paired_differences(rows, *c, metric=metric) for c in comparisons]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
