"""bf16 autocast against float32 on the fold study's own runs: does the cheaper arithmetic keep the accuracy?

    python benchmarks/bf16_folds.py [--profile quick] [--variant "beta 0.8"] [--workers 2]

Trains one variant's cells of the N-MNIST fold study (common/study/nmnist_folds.py: the same folds, seeds, epochs,
optimizer and data) again with ``precision="bfloat16"`` (common.runs.train.precision_scope), into
``results/nmnist_folds_bf16-<profile>.jsonl`` (resumable, like every grid), then compares them with the float32 runs
of the fold table, paired by fold and seed:

- bf16 - float32 after all bins over folds (seeds averaged within a fold, corrected resampled t-test) and over
  recordings (CMH stratified by run), with the same code as the fold study's head-to-heads;
- whether bf16's mean accuracy lies inside float32's corrected 95% interval: the condition under which bf16 could
  become the default (issue #27). It is one test of its own, outside the fold study's declared family.

Its speed is not timed here (the cells share the machine): ``benchmarks/peers.py`` times bf16 against float32 in one run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.runs.cells import Cell  # noqa: E402

STUDY = "nmnist_folds_bf16"
PRECISION = {"precision": "bfloat16"}


def bf16_cells(float32_cells: list[Cell], variant: str) -> list[Cell]:
    """The fold study's cells of ``variant``, again under bf16 autocast: same spec, fold, seed and data, their own
    run names, and the variant named '<variant>, bf16 autocast' in the table."""
    return [Cell({**c.factors, "variant": f"{variant}, bf16 autocast"}, c.spec, c.seed,
                 run_name=f"{c.run_name}_bf16", knobs={**c.knobs, **PRECISION}, data=c.data,
                 keep_answers=c.keep_answers)
            for c in float32_cells if c.factors["variant"] == variant]


def compare(float32_rows: list[dict], bf16_rows: list[dict], variant: str) -> dict:
    """bf16 - float32 of ``variant``, paired by fold and seed, after all bins: the head-to-head line (over folds and
    over recordings) and both accuracies over folds with their corrected intervals."""
    from common.runs.records import flat
    from common.study import nmnist_folds

    label = f"{variant}, bf16 autocast"
    paired = {(r["cell"]["fold"], r["cell"]["seed"]) for r in bf16_rows}
    base = [r for r in float32_rows if r["cell"]["variant"] == variant
            and (r["cell"]["fold"], r["cell"]["seed"]) in paired]
    if not base:
        raise ValueError(f"no float32 run of {variant!r} in the fold table pairs with the bf16 runs: run "
                         f"`python -m common.study.nmnist_folds` first")
    n_bins = len(flat(bf16_rows[0])["predictions_by_time_bins"])
    line = nmnist_folds.head_to_head(base + bf16_rows, pairs=[(variant, label)], bins=[n_bins]).iloc[0].to_dict()
    accuracy = nmnist_folds.accuracy_over_folds(base + bf16_rows, variants=(variant, label))
    f32, bf16 = accuracy.loc[variant], accuracy.loc[label]
    return {"line": line, "float32": f32, "bf16": bf16, "inside": bool(f32["low"] <= bf16["mean"] <= f32["high"])}


def summary_lines(result: dict, variant: str) -> list[str]:
    line, f32, bf16 = result["line"], result["float32"], result["bf16"]
    interval = lambda s: f"{100 * s['mean']:.2f}% ({100 * s['low']:.2f} .. {100 * s['high']:.2f})"
    return [f"{variant}, {line['runs']} runs over {line['folds']} folds, paired by fold and seed, after all bins:",
            f"  float32 {interval(f32)}; bf16 autocast {interval(bf16)}",
            f"  bf16 - float32: {line['b - a (points)']:+.2f} points (95% CI {line['95% CI low']:+.2f} .. "
            f"{line['95% CI high']:+.2f}), bf16 ahead in {line['folds b ahead']} of {line['folds']} folds, behind in "
            f"{line['folds b behind']}; over folds p = {line['p (folds)']:.3f}; over recordings (CMH by run) "
            f"p = {line['p (CMH by run)']:.3f} ({line['only a right']} recordings only float32 got right, "
            f"{line['only b right']} only bf16)",
            f"  bf16's mean is {'inside' if result['inside'] else 'outside'} float32's 95% interval"
            + (": it may become a default" if result["inside"] else ": float32 stays the default")]


def main(argv=None) -> int:
    from common.config import resolve_locations
    from common.runs.cells import GridContext
    from common.runs.grid import run_grid
    from common.runs.records import ResultsTable, table_path
    from common.runs.specs import profile_settings
    from common.study import nmnist_folds

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--variant", default="beta 0.8", choices=nmnist_folds.VARIANTS)
    parser.add_argument("--workers", type=int, default=None, help="default: the profile's")
    args = parser.parse_args(argv)
    settings = profile_settings("scnn_nmnist", args.profile)
    data_root, mirror, output_root = resolve_locations(None, None, None, args.profile)
    cells = bf16_cells(nmnist_folds.study_cells(settings), args.variant)
    context = GridContext(args.profile, data_root, mirror, output_root, None, threads=1)
    bf16_rows = run_grid(cells, table_path(STUDY, args.profile, output_root), context,
                         workers=args.workers or settings.get("workers", 1))
    float32_rows = ResultsTable(table_path(nmnist_folds.STUDY, args.profile, output_root)).rows()
    print("\n".join(summary_lines(compare(float32_rows, bf16_rows, args.variant), args.variant)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
