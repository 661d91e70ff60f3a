"""Time one training epoch of the LIF-vs-ALIF cells on real data and extrapolate the quick grid.

    python benchmarks/lif_alif_grid.py --mirror ../shared/datasets [--train-limit 12800] [--threads 1]

Trains each model kind (LIF, ALIF, MLP; quick settings) for one epoch on ``--train-limit`` real
MNIST images (scaled up to 60,000), evaluates on the full test set, and prints seconds per epoch and
the quick grid's estimated wall time. Timings depend on machine load: run it on an idle machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.runs.grid import expand_grid  # noqa: E402
from common.runs.specs import profile_settings  # noqa: E402
from common.runs.cells import GridContext, run_cell  # noqa: E402
from common.study.lif_alif import headline_cells, lif_alif_cell, study_grid  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", default=None)
    parser.add_argument("--train-limit", type=int, default=60000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kinds", nargs="*", default=["lif", "alif", "mlp"])
    args = parser.parse_args(argv)
    settings = profile_settings("lif_alif", "quick")
    measured = {}
    with tempfile.TemporaryDirectory() as out:
        for kind in args.kinds:
            cell = {**headline_cells(settings)[kind], "epochs": 1}
            context = GridContext("quick", mirror=args.mirror, output_root=out, threads=args.threads,
                                  overrides={"train_limit": args.train_limit})
            cpu = time.process_time()
            row = run_cell(lif_alif_cell(cell), context)
            cpu = time.process_time() - cpu          # CPU seconds of all threads: less load-dependent
            per_epoch = row["train_seconds"] * 60000 / args.train_limit
            evaluation = row["wall_seconds"] - row["train_seconds"]
            measured[kind] = (per_epoch, evaluation)
            print(f"{kind}: {row['train_seconds']:.1f} s for {args.train_limit} images -> {per_epoch:.0f} s per "
                  f"60k epoch; full test set evaluation {evaluation:.0f} s; accuracy {row['test']['accuracy']:.4f}; "
                  f"CPU {cpu:.0f} s over {row['wall_seconds']:.0f} s wall (load share {cpu / row['wall_seconds'] / 2:.0%} of 2 cores)")
    total = 0.0
    for cell in expand_grid(study_grid(settings)):
        kind = cell.get("neuron", "mlp") if cell["model"] == "rsnn" else "mlp"
        if kind in measured:
            per_epoch, evaluation = measured[kind]
            total += per_epoch * cell["epochs"] * (1.3 if cell.get("recurrent") else 1.0) + evaluation
    n = len(expand_grid(study_grid(settings)))
    print(f"quick grid: {n} cells, estimated {total / 60:.0f} min in one process, "
          f"~{total / 120:.0f} min with --workers 2 on 2 free cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
