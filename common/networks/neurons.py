"""Spiking neurons of the LIF-vs-ALIF study: the equations, written once.

Discrete time, step ``dt`` (1 ms by default), membrane decay ``beta = exp(-dt / tau_m)``.

LIF (leaky integrate-and-fire), reset by subtraction one step after a spike::

    v[t] = beta * v[t-1] + I[t] - v_th * z[t-1]          (reset term detached, as snntorch does)
    z[t] = H(v[t] - v_th)                                 (surrogate gradient in backward)

ALIF (adaptive LIF, Bellec et al. 2018): the same membrane, plus a trace ``a`` of the neuron's own
spikes that raises its threshold::

    a[t] = rho * a[t-1] + z[t-1],      rho = exp(-dt / tau_a)
    A[t] = v_th + beta_a * a[t]                            (adaptive threshold)
    v[t] = beta * v[t-1] + I[t] - A[t-1] * z[t-1]          (reset term detached)
    z[t] = H(v[t] - A[t])

The adaptation path is *not* detached: a gradient flows from ``z[t]`` through ``A[t]`` and ``a[t]``
back into earlier spikes ``z[t-k]`` (tests/test_neurons.py checks it). Only the reset subtraction
is detached, the usual choice (Zenke & Vogels 2021) and the one common/networks/snn.py makes.
Both decays are probabilities of "how much is kept per step", so they must lie in (0, 1): a decay of
1.6 (one version of the source study) makes the potential grow, and :class:`LIF` refuses it.

``beta`` can be learned: it is stored as a logit and ``beta = sigmoid(logit)``, so it receives a
gradient and stays in (0, 1) whatever the optimiser does.
"""
from __future__ import annotations

import math

import torch
from snntorch import surrogate
from torch import nn

DT_MS = 1.0
TAU_M_MS = 20.0      # membrane time constant, both neurons (the source used 10 ms LIF / 20 ms ALIF)
TAU_A_MS = 200.0     # adaptation time constant (the source's rho = exp(-1/200))
BETA_A = 0.2         # threshold increase per unit of adaptation trace, relative to v_th = 1
V_TH = 1.0


def decay(tau_ms: float, dt_ms: float = DT_MS) -> float:
    """Per-step decay ``exp(-dt / tau)`` of a quantity with time constant ``tau``."""
    if tau_ms <= 0 or dt_ms <= 0:
        raise ValueError(f"time constants must be positive, got tau={tau_ms}, dt={dt_ms}")
    return math.exp(-dt_ms / tau_ms)


def logit(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise ValueError(f"a decay must be in (0, 1), got {p}")
    return math.log(p / (1.0 - p))


def lif_step(current, v, z, beta, v_th, spike_fn):
    """One LIF step: returns ``(z[t], v[t])`` from ``I[t]``, ``v[t-1]``, ``z[t-1]``."""
    v = beta * v + current - v_th * z.detach()
    return spike_fn(v - v_th).to(v.dtype), v


def alif_step(current, v, a, z, threshold, beta, rho, beta_a, v_th, spike_fn):
    """One ALIF step: returns ``(z[t], v[t], a[t], A[t])`` from ``I[t]``, ``v, a, z, A`` at ``t-1``."""
    a = rho * a + z                                   # not detached: the adaptation path
    new_threshold = v_th + beta_a * a
    v = beta * v + current - threshold.detach() * z.detach()
    return spike_fn(v - new_threshold).to(v.dtype), v, a, new_threshold


class SpikeTrace(nn.Module):
    """Where a spiking layer's activity can be observed: a model passes each layer's spikes (and its
    membrane, ``[T, B, ...]`` each) through its trace, which returns the spikes unchanged. Observers
    (NeuroBench's hooks, common/study/neurobench.py) see them; without observers it costs nothing, and it
    has no parameters, so checkpoints do not change."""

    def __init__(self):
        super().__init__()
        self.observers: list = []

    def forward(self, spikes: torch.Tensor, membrane: torch.Tensor | None = None) -> torch.Tensor:
        for observe in self.observers:
            observe(spikes, membrane)
        return spikes


class LIF(nn.Module):
    """A layer of LIF neurons run over time: ``forward(I [T, B, N]) -> spikes [T, B, N]``.

    ``beta`` is the decay per step (default ``exp(-dt / tau_m)``); ``learn_beta`` makes it one
    trained scalar for the layer. ``recurrent(z [B, N]) -> [B, N]`` (optional) adds a current from
    the previous step's spikes, so the loop over time lives here and nowhere else.
    After a forward call, ``last_state`` holds the final ``v`` (and ``a``) for inspection.
    """

    adaptive = False

    def __init__(self, beta: float | None = None, learn_beta: bool = False, v_th: float = V_TH,
                 slope: float = 25.0, tau_m_ms: float = TAU_M_MS, dt_ms: float = DT_MS):
        super().__init__()
        beta = decay(tau_m_ms, dt_ms) if beta is None else float(beta)
        self.learn_beta, self.v_th = learn_beta, v_th
        if learn_beta:
            self.beta_logit = nn.Parameter(torch.tensor(logit(beta)))
        else:
            logit(beta)   # validates (0, 1)
            self.register_buffer("beta_fixed", torch.tensor(beta))
        self.spike_fn = surrogate.fast_sigmoid(slope=slope)
        self.last_state: dict[str, torch.Tensor] = {}
        self.trace = SpikeTrace()

    @property
    def decay(self) -> torch.Tensor:
        """The membrane decay per step, ``beta`` (a tensor: differentiable when learned)."""
        return torch.sigmoid(self.beta_logit) if self.learn_beta else self.beta_fixed

    def init_state(self, like: torch.Tensor) -> dict:
        return {"v": torch.zeros_like(like), "z": torch.zeros_like(like)}

    def step(self, current, state, beta):
        z, v = lif_step(current, state["v"], state["z"], beta, self.v_th, self.spike_fn)
        return z, {"v": v, "z": z}

    def forward(self, current: torch.Tensor, recurrent=None) -> torch.Tensor:
        steps = current.unbind(0)
        state, beta, spikes, membrane = self.init_state(steps[0]), self.decay, [], []
        observed = bool(self.trace.observers)
        for step in steps:
            if recurrent is not None:
                step = step + recurrent(state["z"])
            z, state = self.step(step, state, beta)
            spikes.append(z)
            if observed:
                membrane.append(state["v"].detach())
        self.last_state = state
        return self.trace(torch.stack(spikes), torch.stack(membrane) if observed else None)


class ALIF(LIF):
    """A layer of adaptive LIF neurons (threshold ``v_th + beta_a * a``); same interface as :class:`LIF`."""

    adaptive = True

    def __init__(self, beta: float | None = None, learn_beta: bool = False, v_th: float = V_TH,
                 slope: float = 25.0, tau_m_ms: float = TAU_M_MS, dt_ms: float = DT_MS,
                 tau_a_ms: float = TAU_A_MS, beta_a: float = BETA_A):
        super().__init__(beta, learn_beta, v_th, slope, tau_m_ms, dt_ms)
        rho = decay(tau_a_ms, dt_ms)
        self.register_buffer("rho", torch.tensor(rho))
        self.register_buffer("beta_a", torch.tensor(float(beta_a)))

    def init_state(self, like: torch.Tensor) -> dict:
        zeros = torch.zeros_like(like)
        return {"v": zeros, "z": zeros, "a": zeros, "A": torch.full_like(like, self.v_th)}

    def step(self, current, state, beta):
        z, v, a, threshold = alif_step(current, state["v"], state["a"], state["z"], state["A"], beta,
                                       self.rho, self.beta_a, self.v_th, self.spike_fn)
        return z, {"v": v, "z": z, "a": a, "A": threshold}


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator: ``u[t] = kappa * u[t-1] + I[t]``, ``u[0-] = 0``; returns ``u`` ``[T, ...]``.

    ``kappa = exp(-dt / tau_out)``; learned through a logit like the hidden ``beta`` when asked.
    """

    def __init__(self, kappa: float | None = None, learn_kappa: bool = False, tau_out_ms: float = 10.0,
                 dt_ms: float = DT_MS):
        super().__init__()
        kappa = decay(tau_out_ms, dt_ms) if kappa is None else float(kappa)
        self.learn_kappa = learn_kappa
        if learn_kappa:
            self.kappa_logit = nn.Parameter(torch.tensor(logit(kappa)))
        else:
            logit(kappa)
            self.register_buffer("kappa_fixed", torch.tensor(kappa))

    @property
    def decay(self) -> torch.Tensor:
        """The readout's decay per step, ``kappa`` (a tensor: differentiable when learned)."""
        return torch.sigmoid(self.kappa_logit) if self.learn_kappa else self.kappa_fixed

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        kappa, u, out = self.decay, torch.zeros_like(current[0]), []
        for step in current.unbind(0):
            u = kappa * u + step
            out.append(u)
        return torch.stack(out)


NEURONS = {"lif": LIF, "alif": ALIF}
