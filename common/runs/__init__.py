"""Runs: one spec per run, the training/evaluation core, checkpoints, the record format, the grid
runner, the statistics, and ``run(spec, data) -> record``. Imports data and networks."""
