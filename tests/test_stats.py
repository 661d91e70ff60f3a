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
