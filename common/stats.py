"""The study's statistics, at the two levels a claim can rest on.

- Over replicates (seeds, folds): the mean of paired differences and its Student-t interval,
  :func:`t_interval`. It says how much a result moves when the run is repeated.
- Over test samples: the exact McNemar test on paired predictions, :func:`mcnemar`. It says whether
  two models that saw the same recordings differ on them more than chance would make them.
"""
from __future__ import annotations

import math

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
