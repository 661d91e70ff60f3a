import math

import pytest

from common.runs.stats import mcnemar, paired, t_interval


def test_t_interval_by_hand():
    stats = t_interval([0.01, 0.03, 0.02])
    half = 4.302653 * 0.01 / math.sqrt(3)            # t_{0.975, 2}, sd 0.01
    assert stats["mean"] == pytest.approx(0.02) and stats["low"] == pytest.approx(0.02 - half, rel=1e-4)
    assert math.isnan(t_interval([1.0])["low"])


def test_paired_uses_only_replicates_both_have():
    result = paired({0: 0.5, 1: 0.6, 2: 0.7}, {1: 0.7, 2: 0.9, 3: 1.0})
    assert result["replicates"] == [1, 2] and result["mean"] == pytest.approx(0.15)


def test_mcnemar_exact_binomial():
    # 10 discordant recordings, 1 vs 9: p = 2 * (C(10,0) + C(10,1)) / 2^10
    a = [True] * 1 + [False] * 9 + [True] * 50
    b = [False] * 1 + [True] * 9 + [True] * 50
    result = mcnemar(a, b)
    assert (result["a_only"], result["b_only"], result["samples"]) == (1, 9, 60)
    assert result["p_value"] == pytest.approx(2 * 11 / 1024)
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0      # no discordant pair
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_verdicts_read_inconclusive_with_their_interval_never_no_difference():
    from common.runs.stats import adjusted_level, verdict

    assert verdict(0.01, -1.0, 2.0) == "differs"
    assert verdict(0.2, -0.85, 2.48) == "inconclusive (between -0.85 and +2.48 points)"
    assert verdict(0.2) == "inconclusive"
    assert adjusted_level(4) == pytest.approx(1 - 0.05 / 4)


def test_the_cluster_bootstrap_carries_the_runs_and_the_recordings_variation():
    import numpy as np

    from common.runs.stats import cluster_bootstrap

    same = cluster_bootstrap(np.full((3, 50), 1.0))
    assert same["mean"] == same["low"] == same["high"] == 1.0
    # three runs that disagree (a run effect) on the same recordings: a wide interval; one run alone repeated
    # 3 times (no run effect) with the same per-recording values: narrower
    rng = np.random.default_rng(1)
    recordings = rng.choice([-1.0, 0.0, 1.0], size=200, p=[0.1, 0.7, 0.2])
    runs = np.stack([recordings + shift for shift in (-0.3, 0.0, 0.3)])
    wide, narrow = cluster_bootstrap(runs), cluster_bootstrap(np.stack([recordings] * 3))
    assert wide["low"] <= wide["mean"] <= wide["high"]
    assert wide["high"] - wide["low"] > 1.5 * (narrow["high"] - narrow["low"])
    # untested cells (NaN) are left out of the mean, and counted recordings are those tested at least once
    table = np.array([[1.0, np.nan, 0.0], [np.nan, 1.0, np.nan]])
    assert cluster_bootstrap(table)["mean"] == pytest.approx(2 / 3) and cluster_bootstrap(table)["recordings"] == 3
