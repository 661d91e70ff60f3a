"""Energy per inference under two stated cost models, side by side, from NeuroBench's counts.

1. **Operations only** (what most SNN papers report): effective MACs and effective ACs, each at its energy in
   :data:`ENERGY_PJ` (32-bit floating point in 45 nm, M. Horowitz, "Computing's energy problem (and what we can do
   about it)", ISSCC 2014: an AC is his add, a MAC his multiply plus add; the one place these numbers are written).
   NeuroBench counts the operations (common/study/neurobench.py): exact at convolution borders, graded inputs
   (pixels, event counts) as MACs, zeros skipped.

   That last rule drives the spiking CNN's cost: its first layer reads event counts, so NeuroBench prices it as
   MACs over every time bin (in the study's N-MNIST models, most of the spiking CNN's operations energy).
   An event-driven core would instead accumulate the weight once per input event: common.study.compare shows the
   energy both ways (``..._event_inputs_as_acs``: a spiking network's first-layer MACs priced as ACs, one per
   non-zero input and synapse, a lower bound when a count above one means several events).

2. **Operations and data movement**, after Lemaire et al. 2022 ("An analytical estimation of spiking neural
   networks energy efficiency", ICONIP 2022, arXiv:2210.13107) and Yan et al. 2024 ("Reconsidering the energy
   efficiency of spiking neural networks", arXiv:2409.08290): every operation also pays for the memory words it
   moves, at the SRAM access energy of the memory that holds them.
   - a conventional network, per effective MAC: read the weight and the input activation; per output value:
     write it once;
   - a spiking network, per effective MAC of its first (graded-input) layer: as above; per effective AC (one
     input spike reaching one synapse): read the weight, read and write the target neuron's membrane (an
     event-driven core cannot keep it in a register across events: Lemaire et al.'s point); per membrane update
     (every neuron, every time bin): read, leak (a multiply) and write the membrane; per spike: write the event.
   SRAM access energy per 32-bit word from Horowitz's 45 nm table of 64-bit accesses by memory size
   (:data:`SRAM_64BIT_PJ`; halved for 32 bits), interpolated log-linearly in the memory's size, floored at 8 KB; a memory
   larger than 1 MB is charged the 1 MB figure (an optimistic choice: the models here all fit in 1 MB).

What both leave out: control, routing, leakage, and the low-precision arithmetic real accelerators use; and the
CPU and GPU the models actually run on here, which skip no zeros at all. Ratios are indicative, not measured.
:func:`crossover_spike_rate` tells, for a spiking/conventional pair, at what spike rate the winner would change.
"""
from __future__ import annotations

import math

ENERGY_PJ = {"mac": 4.6, "ac": 0.9}   # Horowitz 2014, 45 nm, 32-bit float
SOURCE = "M. Horowitz, Computing's energy problem (and what we can do about it), ISSCC 2014 (45 nm, fp32)"
# Horowitz 2014, 45 nm: energy of one 64-bit SRAM access by the memory's size in bytes
SRAM_64BIT_PJ = {8 * 1024: 10.0, 32 * 1024: 20.0, 1024 * 1024: 100.0}
WORD_BYTES = 4


def energy_nj(macs: float, acs: float) -> float:
    """Cost model 1: energy per inference in nanojoules of ``macs`` multiply-accumulates and ``acs`` accumulates."""
    return (macs * ENERGY_PJ["mac"] + acs * ENERGY_PJ["ac"]) / 1000


def sram_word_pj(size_bytes: float) -> float:
    """Energy of reading or writing one 32-bit word of an SRAM of ``size_bytes``: Horowitz's 64-bit figures
    halved, log-linear between his sizes, floored at the smallest and capped at the largest."""
    sizes = sorted(SRAM_64BIT_PJ)
    size = min(max(float(size_bytes), sizes[0]), sizes[-1])
    for low, high in zip(sizes, sizes[1:]):
        if size <= high:
            share = (math.log(size) - math.log(low)) / (math.log(high) - math.log(low))
            return 0.5 * (SRAM_64BIT_PJ[low] + share * (SRAM_64BIT_PJ[high] - SRAM_64BIT_PJ[low]))
    return 0.5 * SRAM_64BIT_PJ[sizes[-1]]


def memory_aware_nj(macs: float, acs: float, membrane_updates: float, spikes: float, weight_bytes: float,
                    neurons: float, outputs: float = 0.0) -> float:
    """Cost model 2 (Lemaire et al. 2022 / Yan et al. 2024), in nJ per inference.

    ``macs``/``acs``: NeuroBench's effective operations; ``membrane_updates``: neurons x time bins (0 for a
    conventional network); ``spikes``: spikes per inference; ``weight_bytes``: the weight memory (NeuroBench's
    Footprint); ``neurons``: values held in the state/activation memory at once; ``outputs``: values a
    conventional network writes (its activations)."""
    weight = sram_word_pj(weight_bytes)
    state = sram_word_pj(neurons * WORD_BYTES)
    e = macs * (ENERGY_PJ["mac"] + weight + state)                 # weight and input activation read
    e += acs * (ENERGY_PJ["ac"] + weight + 2 * state)              # weight read, membrane read + write
    e += membrane_updates * (ENERGY_PJ["mac"] - ENERGY_PJ["ac"] + 2 * state)   # leak: a multiply, read + write
    e += spikes * state + outputs * state                          # spike events / activations written
    return e / 1000


def crossover_spike_rate(spiking: dict, conventional_nj: float, model, fixed_acs: float = 0.0) -> float:
    """The spike rate (spikes per neuron per time bin) at which ``spiking`` would cost what the conventional
    network costs under cost ``model`` (a function of a row's counts), holding its first layer and its membrane
    updates fixed and scaling its ACs and spikes with the rate; inf if it never would. ``fixed_acs``: ACs that do
    not scale with the network's spikes (its input events, when those are priced as ACs)."""
    rate = spiking["spikes"] / spiking["membrane_updates"]
    fixed = model({**spiking, "acs": fixed_acs, "spikes": 0.0})
    variable = model(spiking) - fixed
    if variable <= 0:
        return math.inf
    scale = (conventional_nj - fixed) / variable
    return rate * scale if scale > 0 else 0.0
