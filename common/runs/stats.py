"""The study's statistics: a thin layer over scipy and statsmodels that names the study's choices. Every
notebook, the comparison and the report take theirs from here.

Three levels a claim can rest on, each with its test:
- Over replicates (seeds): the mean of paired differences with its Student-t interval and one-sample
  t-test, :func:`t_interval` (scipy). It says how much a result moves when the run is repeated.
- Over the folds of a cross-validation: the same, with the variance corrected for the folds' overlapping
  training sets (Nadeau & Bengio 2003, "Inference for the generalization error"; the repeated k-fold form
  of Bouckaert & Frank 2004), :func:`corrected_resampled_t`. The plain t-interval over folds is too narrow.
- Over test samples: the exact McNemar test on the paired predictions of two models (statsmodels),
  :func:`mcnemar`. When the predictions come from several trained runs that re-test the same recordings, the
  recordings and the runs are both clusters: :func:`cluster_bootstrap` resamples both (descriptive evidence beside
  the fold-level test, never a second verdict); the Cochran-Mantel-Haenszel test stratified by run,
  :func:`cmh_by_run`, treats the trained models as fixed and is kept as a descriptive number only.
A family of tests (e.g. the primary N-MNIST head-to-heads) is adjusted with Holm's method, :func:`holm`
(statsmodels): a claim reads as a difference only if its adjusted p-value is below 0.05 (:func:`verdict`);
otherwise it reads "inconclusive" with its interval. An interval printed beside an adjusted verdict is
Bonferroni-adjusted (:func:`adjusted_level`), or labelled unadjusted.
"""
from __future__ import annotations

import json
import math

import numpy as np

SEED, KEY = "seed", "cell_key"   # as common.runs.grid writes them
ALPHA = 0.05                     # the study's one significance level, after Holm's adjustment


def t_quantile(df: int, level: float = 0.95) -> float:
    """Two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy import stats
    return float(stats.t.ppf(0.5 + level / 2, df))


def _t_summary(mean: float, std: float, n: int, scale: float, df: int, level: float) -> dict:
    """Interval and two-sided p-value of "mean = 0" for a t statistic with standard error ``std * scale``."""
    from scipy import stats

    se = std * scale
    if not n or df < 1 or not math.isfinite(se):
        return {"n": n, "mean": mean, "std": std, "low": math.nan, "high": math.nan, "p_value": math.nan}
    half = t_quantile(df, level) * se
    p = 1.0 if se == 0 and mean == 0 else 0.0 if se == 0 else float(2 * stats.t.sf(abs(mean) / se, df))
    return {"n": n, "mean": mean, "std": std, "low": mean - half, "high": mean + half, "p_value": p}


def t_interval(values: list[float], level: float = 0.95) -> dict:
    """Mean, ``level`` t-interval and t-test p-value (mean = 0) of ``values``, e.g. paired differences over
    seeds; NaN bounds when n < 2."""
    values = np.asarray([float(v) for v in values])
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    return _t_summary(mean, std, n, 1 / math.sqrt(n) if n else math.nan, n - 1, level)


def corrected_resampled_t(by_fold: dict, test_train_ratio: float, level: float = 0.95) -> dict:
    """Paired differences over the folds of a k-fold cross-validation, ``by_fold``: fold -> the differences
    of its training seeds. Seeds are averaged within a fold (what is left is the fold's difference, with the
    training noise reduced), and the fold means' variance is corrected for overlapping training sets:
    ``var = (1/n + n_test/n_train) * s^2``, ``df = n - 1`` over the ``n`` keys of ``by_fold`` (Nadeau & Bengio 2003).
    Training seeds on the same folds are not independent fold draws, so they are averaged (r = 1 per partition).
    Keys that are (partition, fold) pairs, for r partitions drawn with different stratification seeds, give
    Bouckaert & Frank's (2004) corrected repeated k-fold test: ``1/(k r) + n_test/n_train``, ``df = k r - 1``.
    Also returns the two noises
    apart: ``fold_std`` (between folds) and ``seed_std`` (the pooled standard deviation within a fold)."""
    folds = sorted(by_fold, key=str)
    means = np.array([np.mean(by_fold[f]) for f in folds], dtype=float)
    k = len(means)
    within = [np.var(by_fold[f], ddof=1) for f in folds if len(by_fold[f]) > 1]
    mean = float(means.mean()) if k else math.nan
    std = float(means.std(ddof=1)) if k > 1 else math.nan
    out = _t_summary(mean, std, k, math.sqrt(1 / k + test_train_ratio) if k else math.nan, k - 1, level)
    out.update(folds=k, runs=sum(len(by_fold[f]) for f in folds), fold_std=std,
               seed_std=float(math.sqrt(np.mean(within))) if within else math.nan,
               positive=int((means > 0).sum()), negative=int((means < 0).sum()))
    return out


def paired(a: dict, b: dict, level: float = 0.95) -> dict:
    """``b[k] - a[k]`` over the replicates ``k`` both have (seeds, folds), with its t-interval."""
    keys = sorted(set(a) & set(b))
    return {**t_interval([b[k] - a[k] for k in keys], level), "replicates": keys}


def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test (statsmodels) on paired right/wrong answers of two models on the same samples.
    ``a_only``: samples only A got right, ``b_only``: only B; each discordant sample is a fair coin under
    "no difference", so p is the two-sided binomial tail."""
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    pairs = list(zip(correct_a, correct_b, strict=True))
    a_only = sum(1 for x, y in pairs if x and not y)
    b_only = sum(1 for x, y in pairs if y and not x)
    both = sum(1 for x, y in pairs if x and y)
    table = [[both, a_only], [b_only, len(pairs) - both - a_only - b_only]]
    p = float(sm_mcnemar(table, exact=True).pvalue) if a_only + b_only else 1.0
    return {"samples": len(pairs), "a_only": a_only, "b_only": b_only, "p_value": min(1.0, p)}


def cmh_by_run(runs: list[tuple]) -> dict:
    """Cochran-Mantel-Haenszel test (statsmodels ``StratifiedTable``) of "a and b are right equally often",
    stratified by run: ``runs`` holds, per trained pair of runs, ``(right_a, right_b)`` (booleans over the
    same test recordings). Each stratum is the 2x2 table model x (right, wrong). Pairing inside a stratum is
    not used, which makes the test conservative; the strata keep 5 models' predictions from pooling as one.
    Also: the Mantel-Haenszel pooled odds ratio of b over a, and the Breslow-Day p-value of "every run has
    the same odds ratio" (small: the runs disagree, and a pooled answer hides it)."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = []
    for right_a, right_b in runs:
        ra, rb = int(np.sum(right_a)), int(np.sum(right_b))
        tables.append([[rb, len(right_b) - rb], [ra, len(right_a) - ra]])
    tables = np.asarray(tables, dtype=float).transpose(1, 2, 0)      # 2 x 2 x strata
    informative = (tables[:, 1, :].sum(0) > 0) & (tables[:, 0, :].sum(0) > 0)   # somebody wrong and right
    if not informative.any():
        return {"strata": tables.shape[2], "p_value": 1.0, "odds_ratio": math.nan, "homogeneity_p": math.nan}
    table = StratifiedTable(tables[:, :, informative] + 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        test = table.test_null_odds(correction=True)
        try:
            homogeneity = float(table.test_equal_odds().pvalue)
        except (ValueError, ZeroDivisionError, FloatingPointError):
            homogeneity = math.nan
        odds = float(table.oddsratio_pooled)
    return {"strata": int(informative.sum()), "p_value": float(test.pvalue), "odds_ratio": odds,
            "homogeneity_p": homogeneity}


def holm(p_values) -> list[float]:
    """Holm-adjusted p-values (statsmodels ``multipletests``) of one family of tests; NaNs stay NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(list(p_values), dtype=float)
    out = np.full(len(p), np.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = multipletests(p[finite], method="holm")[1]
    return out.tolist()


def adjusted_level(family_size: int, level: float = 1 - ALPHA) -> float:
    """The confidence level of an interval printed beside a family's adjusted verdicts: Bonferroni's,
    ``1 - (1 - level) / m`` for ``m`` tests. Conservative against Holm's step-down (a Holm "differs" can sit beside
    an interval that touches zero, never the reverse)."""
    return 1 - (1 - level) / max(1, int(family_size))


def interval_text(low: float, high: float, unit: str = "points") -> str:
    """An interval in words: "between -0.85 and +2.48 points"."""
    return f"between {low:+.2f} and {high:+.2f} {unit}"


def verdict(adjusted_p: float, low: float | None = None, high: float | None = None, unit: str = "points") -> str:
    """The words a claim may use after its family's adjustment: "differs" when the adjusted p-value is below
    :data:`ALPHA`, else "inconclusive", with the interval (``low``, ``high``) when given. Never "no difference":
    a test that does not reject leaves every value of its interval possible, zero among them."""
    if adjusted_p < ALPHA:
        return "differs"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    return f"inconclusive ({interval_text(low, high, unit)})"


def cluster_bootstrap(differences: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """A two-way cluster (pigeonhole) bootstrap of a mean over a runs x recordings table (Owen 2007; Cameron,
    Gelbach & Miller 2011): ``differences[i, j]`` is run i's value on recording j (e.g. b right - a right, -1/0/1),
    NaN where run i did not test recording j. Runs and recordings are resampled independently (multinomial weights),
    so the interval carries both the runs' and the recordings' variation: a recording tested by several runs, and a
    run's many recordings, are not independent observations. Percentile interval; descriptive (no test)."""
    d = np.asarray(differences, dtype=float)
    tested = np.isfinite(d)
    values = np.where(tested, d, 0.0)
    mean = float(values.sum() / tested.sum()) if tested.any() else math.nan
    if not tested.any():
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "runs": 0, "recordings": 0}
    rng = np.random.default_rng(seed)
    n_runs, n_recordings = d.shape
    w_runs = rng.multinomial(n_runs, np.full(n_runs, 1 / n_runs), size=n_boot).astype(float)
    w_recordings = rng.multinomial(n_recordings, np.full(n_recordings, 1 / n_recordings), size=n_boot).astype(float)
    numerator = np.einsum("bi,ij,bj->b", w_runs, values, w_recordings)
    denominator = np.einsum("bi,ij,bj->b", w_runs, tested.astype(float), w_recordings)
    boots = numerator[denominator > 0] / denominator[denominator > 0]
    low, high = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": mean, "low": float(low), "high": float(high), "runs": n_runs,
            "recordings": int(tested.any(0).sum())}


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
    return pd.DataFrame(lines, columns=["factor", "a", "b", "context", "n", "mean", "std", "low", "high", "p_value"])


def factor_effects(rows: list[dict], comparisons: list[tuple], metric: str = "test_accuracy"):
    """:func:`paired_differences` for several ``(factor, level_a, level_b)``, stacked in one table."""
    import pandas as pd
    frames = [paired_differences(rows, *c, metric=metric) for c in comparisons]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
