"""LIF / ALIF / leaky readout against hand-computed traces, and their gradients."""
import math

import pytest
import torch

from common.networks.neurons import ALIF, LIF, LeakyReadout, alif_step, decay, lif_step


def test_decay_is_exp_minus_dt_over_tau():
    assert decay(20.0) == pytest.approx(math.exp(-1 / 20))
    assert decay(200.0, 2.0) == pytest.approx(math.exp(-2 / 200))
    with pytest.raises(ValueError):
        decay(0.0)


def test_lif_hand_computed_trace():
    # beta 0.5, v_th 1, constant input 0.7 (a spike needs v > v_th):
    # t0: v = 0.7; t1: v = 0.35 + 0.7 = 1.05 -> spike; t2: v = 0.525 + 0.7 - 1 = 0.225;
    # t3: v = 0.1125 + 0.7 = 0.8125; t4: v = 0.40625 + 0.7 = 1.10625 -> spike
    lif = LIF(beta=0.5)
    spikes = lif(torch.full((5, 1, 1), 0.7))
    assert spikes.flatten().tolist() == [0, 1, 0, 0, 1]
    assert lif.last_state["v"].item() == pytest.approx(1.10625)


def test_alif_hand_computed_trace():
    # beta 0.5, v_th 1, beta_a 0.5, rho = exp(-1/tau_a) with tau_a = 1/ln 2 -> rho = 0.5, input 1.2:
    # t0: a=0, A=1,   v=1.2            -> spike
    # t1: a=1, A=1.5, v=0.6+1.2-1=0.8  -> none     (reset subtracts A[t0] = 1)
    # t2: a=.5,A=1.25,v=0.4+1.2=1.6    -> spike
    # t3: a=1.25, A=1.625, v=0.8+1.2-1.25=0.75 -> none
    # t4: a=.625, A=1.3125, v=0.375+1.2=1.575 -> spike
    alif = ALIF(beta=0.5, beta_a=0.5, tau_a_ms=1 / math.log(2))
    assert alif.rho.item() == pytest.approx(0.5)
    spikes = alif(torch.full((5, 1, 1), 1.2))
    assert spikes.flatten().tolist() == [1, 0, 1, 0, 1]
    assert alif.last_state["a"].item() == pytest.approx(0.625)
    assert alif.last_state["A"].item() == pytest.approx(1.3125)
    assert alif.last_state["v"].item() == pytest.approx(1.575)
    # over a longer input, adaptation lowers the firing
    long_input = torch.full((20, 1, 1), 1.2)
    lif_count = LIF(beta=0.5)(long_input).sum()
    assert ALIF(beta=0.5, beta_a=0.5, tau_a_ms=1 / math.log(2))(long_input).sum() < lif_count


def test_alif_without_adaptation_is_lif():
    current = torch.randn(12, 4, 7) * 1.5
    assert torch.equal(ALIF(beta=0.8, beta_a=0.0)(current), LIF(beta=0.8)(current))


def test_decays_out_of_range_are_refused():
    with pytest.raises(ValueError):
        LIF(beta=1.6)          # the source study's leaking-upwards bug
    with pytest.raises(ValueError):
        LeakyReadout(kappa=0.0)


def test_learned_beta_gets_gradient_and_stays_in_unit_interval():
    torch.manual_seed(0)
    lif = LIF(beta=0.9, learn_beta=True)
    assert 0 < lif.decay.item() < 1 and lif.decay.item() == pytest.approx(0.9)
    lif(torch.rand(10, 8, 16) * 2).sum().backward()
    assert lif.beta_logit.grad is not None and lif.beta_logit.grad.abs() > 0
    with torch.no_grad():
        lif.beta_logit.fill_(50.0)     # an optimiser step of any size keeps beta inside (0, 1)
    assert 0 < lif.decay.item() <= 1.0 and lif.decay.item() == pytest.approx(1.0)


def test_alif_adaptation_path_carries_gradient():
    """d loss / d beta_a is non-zero, and the input gradient differs from a detached-trace ALIF."""
    torch.manual_seed(1)
    current = (torch.rand(15, 4, 6) * 2).requires_grad_()
    beta_a = torch.tensor(0.3, requires_grad=True)
    fast = lambda x: torch.sigmoid(4 * x)          # smooth stand-in for the surrogate, differentiable

    def run(detach_trace):
        v = a = z = torch.zeros(4, 6)
        threshold, total = torch.ones(4, 6), 0
        for step in current.unbind(0):
            z_in = z.detach() if detach_trace else z
            z, v, a, threshold = alif_step(step, v, a, z_in, threshold, 0.9, 0.95, beta_a, 1.0, fast)
            total = total + z.sum()
        return total

    (g_input, g_beta_a) = torch.autograd.grad(run(False), (current, beta_a))
    assert g_beta_a.abs() > 0                      # the threshold depends on beta_a * a, a on spikes
    g_detached = torch.autograd.grad(run(True), current)[0]
    assert not torch.allclose(g_input, g_detached)   # the trace a passes gradient to earlier steps


def test_lif_step_reset_is_detached_but_input_is_not():
    v = torch.tensor([0.5], requires_grad=True)
    z_prev = torch.tensor([1.0], requires_grad=True)
    current = torch.tensor([0.7], requires_grad=True)
    z, v_new = lif_step(current, v, z_prev, 0.9, 1.0, lambda x: torch.sigmoid(x))
    grads = torch.autograd.grad(v_new, (current, v, z_prev), allow_unused=True)
    assert grads[0].item() == 1.0 and grads[1].item() == pytest.approx(0.9)
    assert grads[2] is None or grads[2].item() == 0


def test_leaky_readout_trace():
    readout = LeakyReadout(kappa=0.5)
    u = readout(torch.tensor([[1.0], [0.0], [2.0]]).unsqueeze(-1))
    assert u.flatten().tolist() == [1.0, 0.5, 2.25]
