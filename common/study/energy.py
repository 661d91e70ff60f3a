"""A first-order energy estimate per inference: operations counted, times energy per operation.

A conventional network multiplies and accumulates (MAC) every weight with every input value. A
spiking network, on hardware that skips silence, only accumulates (AC) a weight when an input
spike arrives. The operations are counted by NeuroBench (common/study/neurobench.py: its effective MACs
and ACs, exact at convolution borders, graded inputs counted as MACs); this module holds only the
cited energies. (The project's earlier hand-written count ignored borders and counted event-count
inputs as accumulates; it overstated the spiking CNN's operations by ~38% and was removed.)

Energies per operation: 32-bit floating point in a 45 nm process, M. Horowitz, "Computing's
energy problem (and what we can do about it)", ISSCC 2014: add 0.9 pJ, multiply 3.7 pJ, so a
MAC is 4.6 pJ and an AC 0.9 pJ. These are the figures most SNN papers cite.

What such an estimate leaves out, and why it is only a first order: memory traffic (fetching
weights and membrane state usually costs more than the arithmetic), control and routing of
spikes, the GPU/CPU the models actually run on here (which does not skip zeros at all), and
lower-precision arithmetic that real accelerators use. Treat ratios as indicative, not measured.
"""
from __future__ import annotations

ENERGY_PJ = {"mac": 4.6, "ac": 0.9}   # Horowitz 2014, 45 nm, 32-bit float
SOURCE = "M. Horowitz, Computing's energy problem (and what we can do about it), ISSCC 2014 (45 nm, fp32)"


def energy_nj(macs: float, acs: float) -> float:
    """Energy per inference in nanojoules of ``macs`` multiply-accumulates and ``acs`` accumulates."""
    return (macs * ENERGY_PJ["mac"] + acs * ENERGY_PJ["ac"]) / 1000
