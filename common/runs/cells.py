"""A grid cell, typed: what every grid of the study (the LIF/ALIF factors, the N-MNIST folds, notebook 06's seeds)
runs, through one function, :func:`run_cell`.

A :class:`Cell` holds the levels that key its row in the results table (``factors``, with its seed) and the run they
mean: a spec of the table (common/runs/specs.py), the knobs and data fields the cell sets, its run name. The run is
resolved in one place (:meth:`Cell.resolve`), so a variant's name is data on the spec table and never parsed back
from a run name. A :class:`GridContext` is what every cell of one grid shares: profile, overrides, locations,
threads. Neither holds a resource that changes what a run is: a checkpoint is reused whatever the worker count.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from common.runs.specs import ResolvedSpec, Spec, resolve


@dataclass(frozen=True)
class GridContext:
    """What every cell of one grid shares. ``threads``: torch threads per cell (None: torch's default)."""

    profile: str
    data_root: str | None = None
    mirror: str | None = None
    output_root: str | None = None
    device: str | None = None
    overrides: dict = field(default_factory=dict)    # knobs of every cell's spec (e.g. a smaller study's epochs)
    reuse_trained: bool = True
    threads: int | None = 1
    evaluate_every_epoch: bool = False   # a test pass after every epoch (for a notebook's learning curves)

    def locations(self) -> dict:
        return {"data_root": self.data_root, "mirror": self.mirror, "output_root": self.output_root,
                "device": self.device}


@dataclass(frozen=True)
class Cell:
    """One cell of a grid: its ``factors`` (the levels and seed that key its results row, common.runs.grid.cell_key)
    and the run they mean."""

    factors: dict
    spec: Spec | str | None          # a spec of common.runs.specs.SPECS (or one a study derives from it)
    seed: int
    run_name: str | None = None      # None: the spec's own naming (<spec>_seed<k>)
    knobs: dict = field(default_factory=dict)   # knobs the cell sets beside the grid's overrides (epochs, hidden, ...)
    data: dict = field(default_factory=dict)    # data fields the cell sets (common.config.DataSettings: fold, encoding)
    keep_answers: bool = False       # keep every test recording's name, label and answer after every time bin
    named: dict | None = None        # the cell as its record names it (None: its factors)

    def resolve(self, context: GridContext) -> ResolvedSpec:
        """The run this cell is, under the grid's profile, overrides and locations."""
        overrides = {**{k: v for k, v in context.overrides.items() if k != "seed"}, **self.knobs}  # the cell's seed rules
        return resolve(self.spec, context.profile, seed=self.seed, overrides=overrides, run_name=self.run_name,
                       cell_data=self.data, **context.locations())


def run_cell(cell: Cell, context: GridContext) -> dict:
    """Train (or resume, or reuse) one cell's run on its data and return its record, tagged with its cell: the one
    function every grid's cells go through (common.runs.grid.run_grid)."""
    from common.runs.runner import load_data, run

    if context.threads:
        torch.set_num_threads(int(context.threads))    # cells run in parallel, a few threads each
    spec = cell.resolve(context)
    start = time.perf_counter()
    data = load_data(spec.config)
    record = run(spec, data, reuse_trained=context.reuse_trained, save=False,
                 evaluate_every_epoch=context.evaluate_every_epoch)
    record.update(cell=dict(cell.named or cell.factors), wall_seconds=time.perf_counter() - start,
                  torch_threads=torch.get_num_threads())
    if cell.keep_answers:
        record.update(recordings=data.test.recordings, labels=data.test.labels.tolist(),
                      predictions_by_time_bins=record["predictions_by_time_bins"].tolist())
    return record
