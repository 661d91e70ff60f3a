"""The study's statistics, at the two levels a claim can rest on; every notebook, the comparison and
the report take theirs from here.

- Over replicates (seeds, folds): the mean of paired differences and its Student-t interval,
  :func:`t_interval`. It says how much a result moves when the run is repeated.
- Over test samples: the exact McNemar test on paired predictions, :func:`mcnemar`. It says whether
  two models that saw the same recordings differ on them more than chance would make them.
"""
from __future__ import annotations

import json
import math

SEED, KEY = "seed", "cell_key"   # as common.runs.grid writes them

# Two-sided 95% Student-t quantiles t_{0.975, df}, used when scipy is not installed.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t_quantile(df: int, level: float = 0.95) -> float:
    """Two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    try:
        from scipy import stats
        return float(stats.t.ppf(0.5 + level / 2, df))
    except ImportError:
        if level != 0.95:
            raise
        below = [d for d in _T975 if d <= df]
        return _T975[max(below)] if df <= 120 else 1.960   # conservative between table entries


def t_interval(values: list[float], level: float = 0.95) -> dict:
    """Mean and ``level`` t-interval of ``values`` (paired differences); NaN bounds when n < 2."""
    values = [float(v) for v in values]
    n = len(values)
    mean = sum(values) / n if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "std": math.nan, "low": math.nan, "high": math.nan}
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1, level) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "low": mean - half, "high": mean + half}


def paired(a: dict, b: dict, level: float = 0.95) -> dict:
    """``b[k] - a[k]`` over the replicates ``k`` both have (seeds, folds), with its t-interval."""
    keys = sorted(set(a) & set(b))
    return {**t_interval([b[k] - a[k] for k in keys], level), "replicates": keys}


def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test on paired right/wrong answers of two models on the same samples.

    ``a_only``: samples only A got right, ``b_only``: only B. Under "no difference" each discordant
    sample is a fair coin, so the two-sided p-value is the binomial tail of min(a_only, b_only).
    """
    pairs = list(zip(correct_a, correct_b, strict=True))
    a_only = sum(1 for x, y in pairs if x and not y)
    b_only = sum(1 for x, y in pairs if y and not x)
    n = a_only + b_only
    tail = sum(math.comb(n, k) for k in range(min(a_only, b_only) + 1)) / 2 ** n if n else 1.0
    return {"samples": len(pairs), "a_only": a_only, "b_only": b_only, "p_value": min(1.0, 2 * tail)}


# ------------------------------------------------------------------------------ over the seeds of runs

def seed_summary(frame, by: list[str], metric: str = "test_accuracy"):
    """Per group of ``by`` columns of ``frame`` (one row per run): n, mean, standard deviation (ddof 1),
    95% t-interval, min and max of ``metric`` over the group's replicates (seeds, folds)."""
    import pandas as pd

    frame = frame.copy()
    frame[by] = frame[by].astype(str)   # None / bool levels group cleanly
    lines = []
    for key, group in frame.groupby(by, sort=False, dropna=False):
        values = list(group[metric])
        lines.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), **t_interval(values),
                      "min": min(values), "max": max(values)})
    return pd.DataFrame(lines, columns=[*by, "n", "mean", "std", "low", "high", "min", "max"])


def paired_accuracy(runs: dict[str, list[dict]]):
    """Test accuracy per seed of two models (``{label: records}``), their paired difference
    ``"<second> - <first>"`` per seed (same data order and initialisation seed) and its 95% t-interval."""
    import pandas as pd

    first, second = runs
    by_seed = {label: {r["config"]["seed"]: r["test"]["accuracy"] for r in records} for label, records in runs.items()}
    table = pd.DataFrame(by_seed).rename_axis("seed")
    table[f"{second} - {first}"] = table[second] - table[first]
    difference = paired(by_seed[first], by_seed[second])
    table.attrs["interval"] = {k: difference[k] for k in ("n", "mean", "low", "high")}
    return table


def mean_curve(curves: list[list[float]]) -> list[float]:
    """The pointwise mean of several curves (e.g. accuracy by time bins over seeds)."""
    return [sum(c) / len(c) for c in zip(*curves)]


# ------------------------------------------------------------------------------ over the cells of a grid

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
    """:func:`seed_summary` of ``metric`` per cell of a grid (its factors); plus the means of ``extra``."""
    import pandas as pd

    frame = pd.DataFrame([{**_cell_factors(r), SEED: r[SEED], metric: r[metric],
                           **{e: r.get(e) for e in extra}} for r in rows])
    factors = factor_columns(rows)
    out = seed_summary(frame, factors, metric)
    for e in extra:
        out[e] = list(frame.assign(**{f: frame[f].astype(str) for f in factors})
                      .groupby(factors, sort=False, dropna=False)[e].mean())
    return out


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
