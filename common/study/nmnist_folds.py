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
from common.runs.stats import mcnemar, paired, seed_summary, t_interval

# The variants of notebooks 02-04 (their specs: common.runs.specs.FOLD_VARIANTS), in the tables' order.
VARIANTS = ("beta 0.5", "beta 0.8", "learned beta", "population code", "population code, equal size",
            "CNN, summed events", "CNN, time bins as channels")
# (a, b): every table reports b - a.
HEAD_TO_HEAD = [("beta 0.5", "beta 0.8"), ("beta 0.8", "learned beta"), ("beta 0.8", "population code")]


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
    from common.runs.specs import FOLD_VARIANTS, resolve

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
    """Variants x folds x seeds (folds: the profile's k, or None for the official split), one seed after the
    other: a study stopped part-way holds whole repetitions of the k folds for every variant."""
    folds = list(range(settings["folds"])) if settings.get("folds") else [None]
    return [{"variant": list(VARIANTS), "fold": folds, "seeds": [s]}
            for s in range(seed, seed + settings["n_seeds"])]


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

def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """Per variant: mean, spread and 95% interval of accuracy over folds x seeds, test predictions, no decisions."""
    rows = pd.DataFrame([flat(r) for r in records])
    table = seed_summary(rows, ["variant"]).set_index("variant").rename(columns={"n": "replicates"})
    grouped = rows.groupby("variant")
    table["test_predictions"], table["no_decision"] = grouped.test_samples.sum(), grouped.no_decision.sum()
    return table.reindex([v for v in VARIANTS if v in table.index])


def _by_replicate(rows, variant, metric):
    return {(r["fold"], r["seed"]): metric(r) for r in rows if r["variant"] == variant}


def _correct(rows, variant, index) -> dict:
    """(recording, seed) -> right or wrong after the time bins up to ``index``."""
    return {(rec, r["seed"]): p == y for r in rows if r["variant"] == variant
            for rec, y, p in zip(r["recordings"], r["labels"], r["predictions_by_time_bins"][index])}


def head_to_head(rows: list[dict], pairs=HEAD_TO_HEAD, t: int | None = None) -> pd.DataFrame:
    """For each (a, b): b - a in accuracy after the first ``t`` time bins (default: all), paired over
    folds x seeds (t-interval) and over recordings (exact McNemar)."""
    rows = [flat(r) for r in rows]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    t = t or n_bins
    index = t - 1
    lines = []
    for a, b in pairs:
        accuracy = lambda r: float(np.mean(np.array(r["predictions_by_time_bins"][index]) == np.array(r["labels"])))
        over_replicates = paired(_by_replicate(rows, a, accuracy), _by_replicate(rows, b, accuracy))
        right_a, right_b = _correct(rows, a, index), _correct(rows, b, index)
        keys = sorted(set(right_a) & set(right_b))
        test = mcnemar([right_a[k] for k in keys], [right_b[k] for k in keys])
        lines.append({"a": a, "b": b, "time bins": t,
                      "b - a (points)": 100 * over_replicates["mean"], "95% CI low": 100 * over_replicates["low"],
                      "95% CI high": 100 * over_replicates["high"], "replicates": over_replicates["n"],
                      "paired predictions": test["samples"], "only a right": test["a_only"],
                      "only b right": test["b_only"], "McNemar p": test["p_value"]})
    return pd.DataFrame(lines)


def over_time(rows: list[dict], pairs=HEAD_TO_HEAD, bins=(3, 6, 10, 15)) -> pd.DataFrame:
    """:func:`head_to_head` after each of ``bins`` time bins (how early each variant decides); bins past
    the recordings' length are left out."""
    rows = [flat(r) for r in rows]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    return pd.concat([head_to_head(rows, pairs, t) for t in dict.fromkeys(min(b, n_bins) for b in bins)],
                     ignore_index=True)


def curves(rows: list[dict]) -> dict[str, dict]:
    """Per variant: mean accuracy after t bins over folds x seeds, with its 95% t-interval band."""
    rows = [flat(r) for r in rows]
    out = {}
    for variant in VARIANTS:
        runs = [r["accuracy_by_time_bins"] for r in rows if r["variant"] == variant]
        if runs:
            stats = [t_interval(list(column)) for column in zip(*runs)]
            out[variant] = {k: [s[k] for s in stats] for k in ("mean", "low", "high")}
    return out


def plot_curves(rows: list[dict], pair=("beta 0.5", "beta 0.8"), title="N-MNIST, every recording tested once"):
    """Accuracy after t bins per variant with its band, and the paired difference of ``pair`` with its band."""
    rows = [flat(r) for r in rows]
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))   # README width: text stays >= 9 pt
    for variant, curve in curves(rows).items():
        bins = range(1, len(curve["mean"]) + 1)
        left.plot(bins, curve["mean"], label=variant)
        left.fill_between(bins, np.clip(curve["low"], 0, 1), np.clip(curve["high"], 0, 1), alpha=0.2)
    left.set(xlabel="time bins seen", ylabel="test accuracy", title=f"{title}\n(band: 95% CI over folds x seeds)")
    left.legend(fontsize=9)
    n_bins = len(rows[0]["accuracy_by_time_bins"])
    after = lambda t: (lambda r: 100 * r["accuracy_by_time_bins"][t])
    stats = [paired(_by_replicate(rows, pair[0], after(t)), _by_replicate(rows, pair[1], after(t)))
             for t in range(n_bins)]
    keys = stats[0]["replicates"]
    if keys:
        bins = range(1, n_bins + 1)
        right.plot(bins, [s["mean"] for s in stats], color="black")
        right.fill_between(bins, [s["low"] for s in stats], [s["high"] for s in stats], color="grey", alpha=0.3)
        right.axhline(0, color="red", lw=0.8)
    right.set(xlabel="time bins seen", ylabel=f"{pair[1]} - {pair[0]} (points)",
              title=f"paired difference over {len(keys)} folds x seeds (band: 95% CI)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
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
    return 0


def as_records(rows: list[dict], profile: str) -> list[dict]:
    """The fold study's records under the names the comparison pools per variant like seeds: run
    ``scnn_nmnist_<variant>_folds``, replicate k as "seed" k."""
    records = []
    for row in sorted(rows, key=lambda r: (r["cell"]["variant"], str(r["cell"]["fold"]), r["cell"]["seed"])):
        cell = row["cell"]
        name = f"scnn_nmnist_{cell['variant'].replace(' ', '_')}_folds"
        replicate = (cell["fold"] or 0) * 1000 + cell["seed"]
        records.append({**row, "run": f"{name}_seed{replicate}-{profile}",
                        "config": {**row["config"], "run_name": f"{name}_seed{replicate}", "seed": replicate}})
    return records


def records(profile: str, output_root=None) -> list[dict]:
    """:func:`as_records` of the profile's table (none if it has not been run)."""
    from common.runs.records import ResultsTable

    return as_records(ResultsTable(table_path(profile, output_root)).rows(), profile)


if __name__ == "__main__":
    raise SystemExit(main())
