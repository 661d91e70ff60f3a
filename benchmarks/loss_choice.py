"""What the loss choice moves (issue #40): the spiking CNN (beta 0.8) on N-MNIST trained with cross-entropy on its
output spike counts (snntorch's ``ce_count_loss``) instead of its ``spike_count_mse`` (``mse_count_loss``, correct
class firing in 80% of the bins, the others in 20%), everything else as in the fold study's quick cells: the same
fold of the exploratory partition, the same seeds (so the same initial weights and batch order), epochs, optimizer,
schedule and augmentation. Each cell is paired with the committed cell of ``results/nmnist_folds-quick.jsonl`` that
differs from it only in the loss.

    python benchmarks/loss_choice.py [--fold 0] [--seeds 0 1] [--output-root /tmp/loss_choice]

Prints the accuracy of both losses per seed and the paired difference; the rows go to
``benchmarks/results/loss_choice-quick.jsonl`` (the checkpoints stay under --output-root).

Its rows (fold 0, seeds 0 and 1, run on a 2-core AMD EPYC) are committed; rerunning the command prints the paired
differences from them without training again. With two seeds on one fold it says how far the loss moves one
model, not which loss is better in general.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANT = "beta 0.8"
LOSS = {"kind": "spike_count_cross_entropy", "population_size": 1}


def main(argv=None) -> int:
    from common.runs.cells import GridContext
    from common.runs.grid import run_grid
    from common.runs.records import ResultsTable
    from common.runs.specs import FOLD_VARIANTS, SPECS
    from common.study.nmnist_folds import fold_cell

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--output-root", default="/tmp/loss_choice")
    parser.add_argument("--mirror", default=None)
    args = parser.parse_args(argv)

    spec = replace(SPECS[FOLD_VARIANTS[VARIANT]], objective=LOSS)
    cells = []
    for seed in args.seeds:
        base = fold_cell({"variant": VARIANT, "fold": args.fold, "seed": seed})
        cells.append(replace(base, spec=spec, factors={**base.factors, "loss": LOSS["kind"]},
                             run_name=base.run_name.replace("nmnist_folds_", "loss_choice_ce_")))
    table = ResultsTable(ROOT / "benchmarks" / "results" / "loss_choice-quick.jsonl")
    context = GridContext("quick", mirror=args.mirror, output_root=args.output_root, threads=1)
    rows = run_grid(cells, table, context, workers=1)
    committed = [json.loads(line) for line in (ROOT / "results" / "nmnist_folds-quick.jsonl").read_text().splitlines()]
    mse = {r["cell"]["seed"]: r["test"]["accuracy"] for r in committed
           if r["cell"]["variant"] == VARIANT and r["cell"]["fold"] == args.fold and r["cell"]["seed"] in args.seeds}
    ce = {r["cell"]["seed"]: r["test"]["accuracy"] for r in rows}
    differences = []
    for seed in sorted(ce):
        differences.append(100 * (ce[seed] - mse[seed]))
        print(f"seed {seed}: spike_count_mse {mse[seed]:.2%}, cross-entropy on spike counts {ce[seed]:.2%} "
              f"({differences[-1]:+.2f} points)")
    print(f"cross-entropy - spike_count_mse, mean over {len(differences)} seeds of fold {args.fold}: "
          f"{sum(differences) / len(differences):+.2f} points (range {min(differences):+.2f} .. {max(differences):+.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
