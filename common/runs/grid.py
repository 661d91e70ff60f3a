"""Grids of runs: expand, and run resumably, locally or on Ray, whatever the study.

A *grid* is a dict ``factor -> list of levels`` (their product), or a list of such dicts (the union:
how a "quick" grid picks a subset of the full product). A dict may carry its own ``"seeds"``.
Every cell (one level per factor, plus a seed) becomes a typed :class:`common.runs.cells.Cell` and one call
``run_cell(cell, context) -> record`` (a run of :func:`common.runs.runner.run`), the same function for the LIF/ALIF
factors, the N-MNIST folds and the seeds of notebook 06's head-to-head. The statistics over the cells are in common/runs/stats.py.

Records go to a results table, ``results/<name>.jsonl`` (:class:`common.runs.records.ResultsTable`), one
per line with its cell and key. After every cell the *whole* table is rewritten atomically
(temporary file, fsync, rename), so a kill at any moment leaves either the old table or the new one,
never half a record. A cell whose key is already in the table is skipped: re-running a grid recomputes nothing, and
a killed grid resumes where it stopped (a killed cell itself resumes from its last epoch checkpoint,
``common.fit``).

Runners: :func:`run_grid` runs cells one after another, or in a local process pool
(``workers > 1``, concurrent.futures, no server); ``backend="ray"`` hands them to Ray Tune
(``pip install .[ray]``) for when one machine is not enough. Only the calling process writes the
table, whatever the backend. A pool's workers end when the calling process dies (a kill -9 of the
grid leaves no worker training on).

One writer per table: a grid holds its table's lock (and its output root's, ``context.output_root``)
from before it reads which cells are done until its last row is written, so the cells it runs are
claimed under the lock. A second run of the same grid waits (one sentence names the holder) and then
finds every cell done: two simultaneous runs never train or append a cell twice
(common.files.exclusive; $SNN_LOCK_WAIT=0 makes the second run stop instead of waiting).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from common.files import ENV_HELD_LOCKS, held_locks, hold_root
from common.runs.cells import Cell, GridContext, run_cell
from common.runs.preflight import preflight
from common.runs.records import ResultsTable, on_disk
from common.runs.stats import KEY, SEED

TIMING = ("train_seconds", "wall_seconds", "seconds_per_epoch", "checkpoint", "date", "history")   # differ run to run


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


# ------------------------------------------------------------------------------ runners

def _tagged(cell: Cell, row: dict) -> dict:
    return {**row, SEED: cell.factors[SEED], KEY: cell_key(cell.factors)}


def run_grid(cells: list[Cell], table: str | Path | ResultsTable, context: GridContext, workers: int = 1,
             backend: str = "local", verbose: bool = True, run: Callable[[Cell, GridContext], dict] = run_cell,
             on_row: Callable[[Cell, dict], None] | None = None) -> list[dict]:
    """Run every cell of ``cells`` not yet in ``table`` (by the key of its factors); return the table's rows for them.

    Each cell is one call of ``run`` (:func:`common.runs.cells.run_cell`: the same for every study's grid).
    ``backend="local"``: sequential (``workers=1``) or a process pool of ``workers`` processes. ``backend="ray"``:
    Ray Tune on a local (or already connected) Ray instance, ``workers`` trials at a time. ``on_row(cell, row)`` is
    called in this process after each row is in the table (a progress bar: local backends only).
    """
    table = table if isinstance(table, ResultsTable) else ResultsTable(table)
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    preflight(context.output_root or table.path.parent, context.device, context.data_root)
    root = hold_root(context.output_root) if context.output_root else contextlib.nullcontext()
    with root, table.lock():
        table.append()                      # lines that cannot be read, and second rows, set aside now
        done = table.keys()
        todo = [c for c in cells if cell_key(c.factors) not in done]
        if verbose:
            print(f"{len(cells)} cells: {len(cells) - len(todo)} already in {table.path.name}, {len(todo)} to run")
        if todo and backend == "ray":
            run_ray(todo, run, table, context, workers, verbose)
        elif todo and workers > 1:
            import multiprocessing
            # longest first (by epochs), so no long cell starts last while the other workers sit idle
            todo = sorted(todo, key=lambda cell: -float(cell.knobs.get("epochs") or cell.factors.get("epochs") or 0))
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=end_with_parent, initargs=(os.getpid(),))
            with pool:
                futures = {pool.submit(run, cell, context): cell for cell in todo}
                for n, future in enumerate(as_completed(futures), 1):
                    table.append(row := _tagged(futures[future], future.result()))
                    if on_row:
                        on_row(futures[future], row)
                    if verbose:
                        print(f"  [{n}/{len(todo)}] {cell_key(futures[future].factors)}")
        else:
            for n, cell in enumerate(todo, 1):
                if verbose:
                    print(f"  [{n}/{len(todo)}] {cell_key(cell.factors)}", flush=True)
                table.append(row := _tagged(cell, run(cell, context)))
                if on_row:
                    on_row(cell, row)
    wanted = {cell_key(c.factors) for c in cells}
    return [row for row in table.rows() if row[KEY] in wanted]


def run_seeds(study: str, spec_names: list[str], seeds: list[int], profile: str = "quick",
              overrides: dict | None = None, reuse_trained: bool = True, workers: int = 1, backend: str = "local",
              **locations) -> list[dict]:
    """Every spec of ``spec_names`` with every seed, as one resumable grid (:func:`common.runs.grid.run_grid`:
    ``workers`` processes, or ``backend="ray"``) whose records go to ``results/<study>-<profile>.jsonl``."""
    from common.config import resolve_locations
    from common.runs.records import table_path
    from common.runs.specs import check_parameters

    checked = check_parameters(profile=profile, overrides=overrides or {}, reuse_trained=reuse_trained,
                               locations=locations)     # a notebook's parameters, typed as everywhere
    profile, overrides, reuse_trained = checked["profile"], checked["overrides"], checked["reuse_trained"]
    data_root, mirror, output_root = resolve_locations(locations.get("data_root"), locations.get("mirror"),
                                                       locations.get("output_root"), profile,
                                                       experiment=bool(overrides))   # never the reference table
    context = GridContext(profile, data_root, mirror, output_root, locations.get("device"), dict(overrides or {}),
                          reuse_trained, threads=None, evaluate_every_epoch=True)
    cells = [Cell(factors, factors["spec"], int(factors["seed"]))
             for factors in expand_grid({"spec": list(spec_names), "seeds": list(seeds)})]
    return run_grid(cells, table_path(study, profile, output_root), context, workers=workers, backend=backend)


def end_with_parent(parent_pid: int, every: float = 1.0) -> None:
    """A pool worker's initializer: a thread that ends the worker once its parent is gone.

    A worker whose parent was killed (kill -9: no chance to shut the pool down) is re-parented, so
    ``os.getppid()`` changes; polled each second. This is portable, and unlike Linux's PR_SET_PDEATHSIG it
    does not fire when merely the thread that started the worker ends.
    """
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(every)
        os._exit(1)   # nothing to save: the parent that would write this worker's row is gone
    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def run_ray(cells: list[Cell], run_cell, table: ResultsTable, context: GridContext, workers: int = 1,
            verbose: bool = True) -> None:
    """Run ``cells`` as Ray Tune trials (one trial per cell, ``workers`` at a time); append their rows.

    Starts a local Ray instance unless one is connected already (``ray.init(address=...)`` first
    to use a cluster). Records travel back as JSON, as the table writes them, so they are the records the local runner writes.
    """
    try:
        import ray
        from ray import tune
    except ImportError as error:
        raise ImportError("backend='ray' needs Ray Tune: pip install '.[ray]'") from error
    from common.config import PROJECT_ROOT

    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=verbose,
                 runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}})
    locks = held_locks()   # Ray's workers do not inherit this process's environment: they work under its locks

    def trainable(config):
        os.environ[ENV_HELD_LOCKS] = locks
        tune.report({"row_json": json.dumps(on_disk(run_cell(config["cell"], context)), default=str)})

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
        by_key[cell_key(result.config["cell"].factors)] = json.loads(result.metrics["row_json"])
    table.append(*(_tagged(cell, by_key[cell_key(cell.factors)]) for cell in cells))
