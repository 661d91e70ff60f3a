import pytest

from common.study.energy import ENERGY_PJ, energy_nj


def test_energy_is_operations_times_the_cited_energies():
    assert ENERGY_PJ == {"mac": 4.6, "ac": 0.9}                     # Horowitz 2014, 45 nm fp32
    assert energy_nj(1_000, 0) == pytest.approx(4.6) and energy_nj(0, 1_000) == pytest.approx(0.9)
