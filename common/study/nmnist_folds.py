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

from common.runs.records import flat
from common.runs.specs import FOLD_VARIANTS
from common.runs.stats import cmh_by_run, corrected_resampled_t, holm

# The variants, in the tables' order: the names of the spec table's FOLD_VARIANTS (one source).
VARIANTS = tuple(FOLD_VARIANTS)


def stratified_folds(labels, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint test folds covering every sample once, each class split as evenly as possible."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    offset = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        for i, index in enumerate(members):
            folds[(i + offset) % k].append(int(index))
        offset += len(members)                  # start the next class where this one stopped: even folds
    return [np.sort(np.array(f, dtype=int)) for f in folds]


def official_split(settings: dict, data_root, mirror):
    """(train frames, test frames) of N-MNIST's own split, limited by the profile's settings."""
    from common.data.events import event_frames

    args = dict(n_time_bins=settings["n_time_bins"], data_root=data_root, mirror=mirror, progress=False)
    return (event_frames("nmnist", True, limit=settings["train_limit"], **args),
            event_frames("nmnist", False, limit=settings["test_limit"], **args))


def pooled_frames(settings: dict, data_root, mirror):
    """Every recording at hand (training and test split) as one set of frames, labels and file names."""
    from common.data.events import EventFrames

    parts = official_split(settings, data_root, mirror)
    return EventFrames(torch.cat([p.frames for p in parts]), torch.cat([p.labels for p in parts]),
                       parts[0].classes, parts[0].sensor_size, str(Path(parts[0].source).parent), None,
                       [r for p in parts for r in p.recordings])


def subset(frames, index):
    from common.data.events import EventFrames

    index = torch.as_tensor(index, dtype=torch.long)
    return EventFrames(frames.frames[index], frames.labels[index], frames.classes, frames.sensor_size,
                       frames.source, None, [frames.recordings[i] for i in index.tolist()])


def fold_split(settings: dict, data_root, mirror, fold: int | None):
    """(train frames, test frames) of one fold, or of the official split when ``fold`` is None."""
    if fold is None:
        return official_split(settings, data_root, mirror)
    everything = pooled_frames(settings, data_root, mirror)
    folds = stratified_folds(everything.labels.numpy(), settings["folds"], settings["fold_seed"])
    test = folds[fold]
    train = np.setdiff1d(np.arange(len(everything.labels)), test)
    return subset(everything, train), subset(everything, test)


def fold_cell(cell: dict, context: dict) -> dict:
    """Train one variant on one fold with one seed (:func:`common.runs.runner.run`, resumable), test it on
    the fold, and keep every test recording's answer after every time bin in its record. ``context``:
    ``profile``, the locations, ``threads`` and ``overrides`` (knobs of the variants' specs, e.g. a smaller
    study's ``folds``)."""
    from common.data.events import EventData, event_loaders
    from common.runs.runner import run
    from common.runs.specs import resolve

    variant, seed, fold = cell["variant"], int(cell["seed"]), cell.get("fold")
    torch.set_num_threads(int(context.get("threads") or 1))   # cells run in parallel, one thread each
    split = f"fold{fold}" if fold is not None else "official"
    spec = resolve(FOLD_VARIANTS[variant], context["profile"], seed=seed, overrides=context.get("overrides"),
                   extra={"fold": fold}, run_name=f"nmnist_folds_{variant.replace(',', '').replace(' ', '_')}_{split}_seed{seed}",
                   data_root=context.get("data_root"), mirror=context.get("mirror"),
                   output_root=context.get("output_root"), device=context.get("device"))
    settings = spec.settings
    train, test = fold_split(settings, context.get("data_root"), context.get("mirror"), fold)
    data = EventData(train, test, *event_loaders(train, test, batch_size=spec.config.batch_size, seed=seed,
                                                      max_shift=settings.get("max_shift", 0)))
    record = run(spec, data, reuse_trained=True, save=False, evaluate_every_epoch=False)
    record.update(cell={"variant": variant, "fold": fold, "seed": seed},
                  folds=settings.get("folds") if fold is not None else None,
                  fold_seed=settings.get("fold_seed") if fold is not None else None,
                  recordings=test.recordings, labels=test.labels.tolist(),
                  predictions_by_time_bins=record["predictions_by_time_bins"].tolist(),
                  torch_threads=torch.get_num_threads())
    return record


def study_cells(settings: dict, seed: int = 0) -> list[dict]:
    """Variants x folds x seeds (folds: the profile's k, or None for the official split; a variant's seeds capped
    by :data:`common.runs.specs.FOLD_SEEDS`), one seed after the other: a study stopped part-way holds whole
    repetitions of the k folds for every variant."""
    from common.runs.specs import FOLD_SEEDS

    folds = list(range(settings["folds"])) if settings.get("folds") else [None]
    grid = []
    for s in range(seed, seed + settings["n_seeds"]):
        variants = [v for v in VARIANTS if s - seed < FOLD_SEEDS.get(v, settings["n_seeds"])]
        grid.append({"variant": variants, "fold": folds, "seeds": [s]})
    return grid


def table_path(profile: str, output_root=None) -> Path:
    from common.runs.records import table_path
    return table_path("nmnist_folds", profile, output_root)


def run_study(profile: str = "quick", data_root=None, mirror=None, output_root=None, device=None,
              workers: int | None = None, seed: int = 0) -> list[dict]:
    """Run (or resume) every cell of the profile's N-MNIST fold study; returns its rows."""
    from common.config import resolve_locations
    from common.runs.grid import run_grid
    from common.runs.specs import profile_settings

    settings = profile_settings("scnn_nmnist", profile)
    data_root, mirror, output_root = resolve_locations(data_root, mirror, output_root, profile)
    if settings.get("folds"):
        pooled_frames(settings, data_root, mirror)   # frame (and cache) once, before the workers start
    context = {"profile": profile, "data_root": data_root, "mirror": mirror,
               "output_root": output_root, "device": device, "threads": 1}
    return run_grid(study_cells(settings, seed), fold_cell, table_path(profile, output_root), context,
                    workers=workers or settings.get("workers", 1))


# ---------------------------------------------------------------- reading the table

def _runs(rows: list[dict], variant: str) -> dict:
    """(fold, seed) -> that run's flat record, for one variant."""
    return {(r["fold"], r["seed"]): r for r in rows if r["variant"] == variant}


def _right(row: dict, t: int) -> np.ndarray:
    """Which test recordings the run answered right after the first ``t`` time bins."""
    return np.asarray(row["predictions_by_time_bins"][t - 1]) == np.asarray(row["labels"])


def test_train_ratio(rows: list[dict]) -> float:
    """n_test / n_train of one fold (1 / (k - 1) for k folds): the overlap the corrected test corrects for."""
    row = rows[0]
    return len(row["labels"]) / row["train_samples"]


def _by_fold(by_run: dict) -> dict:
    """A per-run value (keyed (fold, seed)) as {fold: [one value per seed]}."""
    by_fold: dict = {}
    for (fold, _), value in by_run.items():
        by_fold.setdefault(fold, []).append(value)
    return by_fold


def _over_folds(by_run: dict, ratio: float) -> dict:
    """A per-run value (keyed (fold, seed)) summarised over folds with the corrected resampled t-test."""
    return corrected_resampled_t(_by_fold(by_run), ratio)


def accuracy_table(records: list[dict], t: int | None = None) -> pd.DataFrame:
    """Per variant: accuracy after ``t`` bins (default: all) over folds x seeds, with the interval corrected for
    the folds' overlapping training sets, the spread between folds and between seeds, no decisions, and how
    many test predictions it rests on."""
    rows = [flat(r) for r in records]
    t = t or len(rows[0]["predictions_by_time_bins"])
    ratio = test_train_ratio(rows)
    lines = []
    for variant in [v for v in VARIANTS if any(r["variant"] == v for r in rows)]:
        runs = _runs(rows, variant)
        summary = _over_folds({k: float(_right(r, t).mean()) for k, r in runs.items()}, ratio)
        lines.append({"variant": variant, "runs": summary["runs"], "folds": summary["folds"],
                      "seeds": len({s for _, s in runs}), "mean": summary["mean"], "low": summary["low"],
                      "high": summary["high"], "fold std": summary["fold_std"], "seed std": summary["seed_std"],
                      "parameters": int(np.median([r["parameters"] for r in runs.values()])),
                      "test_predictions": sum(len(r["labels"]) for r in runs.values()),
                      "no_decision": sum(int((np.asarray(r["predictions_by_time_bins"][t - 1]) == -1).sum())
                                         for r in runs.values())})
    return pd.DataFrame(lines).set_index("variant")


def head_to_head(records: list[dict], pairs=None, bins=None) -> pd.DataFrame:
    """Each (a, b) of ``pairs`` after each of ``bins`` time bins (default: the study's family,
    :data:`common.runs.specs.FOLD_FAMILY`), b - a in accuracy at three levels:
    - over folds (seeds averaged within a fold): mean, 95% interval and p-value of the corrected resampled
      t-test, and in how many folds b is ahead / behind;
    - over recordings, stratified by run: the CMH test over the runs' 2x2 tables, and the discordant counts
      pooled over runs (descriptive);
    and the Holm adjustment of both p-values over every line of the table (one family)."""
    from common.runs.specs import FOLD_FAMILY

    rows = [flat(r) for r in records]
    pairs = pairs or FOLD_FAMILY["pairs"]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    bins = list(dict.fromkeys(min(b, n_bins) for b in (bins or FOLD_FAMILY["time_bins"])))
    ratio = test_train_ratio(rows)
    present = {r["variant"] for r in rows}
    lines = []
    for a, b in [p for p in pairs if set(p) <= present]:
        runs_a, runs_b = _runs(rows, a), _runs(rows, b)
        keys = sorted(set(runs_a) & set(runs_b), key=str)
        for t in bins:
            right = [(_right(runs_a[k], t), _right(runs_b[k], t)) for k in keys]
            folds = _over_folds({k: float(rb.mean() - ra.mean()) for k, (ra, rb) in zip(keys, right)}, ratio)
            recordings = cmh_by_run(right)
            lines.append({"a": a, "b": b, "time bins": t, "b - a (points)": 100 * folds["mean"],
                          "95% CI low": 100 * folds["low"], "95% CI high": 100 * folds["high"],
                          "runs": folds["runs"], "folds": folds["folds"], "folds b ahead": folds["positive"],
                          "folds b behind": folds["negative"], "p (folds)": folds["p_value"],
                          "only a right": int(sum((ra & ~rb).sum() for ra, rb in right)),
                          "only b right": int(sum((rb & ~ra).sum() for ra, rb in right)),
                          "p (CMH by run)": recordings["p_value"], "runs agree (Breslow-Day p)": recordings["homogeneity_p"]})
    table = pd.DataFrame(lines)
    if len(table):
        table.insert(table.columns.get_loc("p (folds)") + 1, "Holm p (folds)", holm(table["p (folds)"]))
        table.insert(table.columns.get_loc("p (CMH by run)") + 1, "Holm p (CMH)", holm(table["p (CMH by run)"]))
    return table


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

    rows = [flat(r) for r in records]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    runs_a, runs_b = _runs(rows, a), _runs(rows, b)
    keys = sorted(set(runs_a) & set(runs_b), key=str)
    table = {}
    for t in dict.fromkeys(min(x, n_bins) for x in (bins or FOLD_FAMILY["time_bins"])):
        by_fold = _by_fold({k: 100 * (_right(runs_b[k], t).mean() - _right(runs_a[k], t).mean()) for k in keys})
        table[f"after {t} bins"] = {f"fold {fold}": float(np.mean(v)) for fold, v in by_fold.items()}
    return pd.DataFrame(table).rename_axis(f"{b} - {a} (points)")


def early_decisions(records: list[dict], bins=None) -> pd.DataFrame:
    """Per variant after t bins, means over runs: accuracy, the fraction without a decision (silent or tied),
    and the accuracy of the decided answers alone. A variant can be right more often early only because it
    decides more often, or because its decisions are better: the two columns tell which."""
    from common.runs.specs import FOLD_FAMILY

    rows = [flat(r) for r in records]
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
    rows = [flat(r) for r in rows]
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
    rows = [flat(r) for r in rows]
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.2))   # README width: text stays >= 9 pt
    for variant, curve in curves(rows).items():
        if variants is not None and variant not in variants:
            continue
        bins = range(1, len(curve["mean"]) + 1)
        line, = left.plot(bins, curve["mean"], label=variant, ls="--" if variant.startswith("CNN") else "-")
        left.fill_between(bins, np.clip(curve["low"], 0, 1), np.clip(curve["high"], 0, 1), alpha=0.15,
                          color=line.get_color())
    runs = len({(r["fold"], r["seed"]) for r in rows})
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
    fig.suptitle(f"bands: 95% CI over folds ({runs} runs: folds x seeds, corrected for overlapping training sets)",
                 fontsize=9, y=0.02, va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Run (or resume) the N-MNIST fold study of a profile.")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run_study(args.profile, workers=args.workers)
    print(f"{len(rows)} rows in {table_path(args.profile)}; {time.perf_counter() - start:.0f} s wall")
    print(accuracy_table(rows).round(4).to_string())
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
    intervals = accuracy_table(rows)
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

    return as_records(ResultsTable(table_path(profile, output_root)).rows(), profile)


if __name__ == "__main__":
    raise SystemExit(main())
