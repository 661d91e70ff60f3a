"""The spiking CNN (common/networks/snn.py) and its objective (common.networks.objectives.spike_count_mse).

The central check: running each stateless layer once over all T*B frames and then the membrane
recurrence over T gives exactly what snntorch's own Leaky neurons give when the network is stepped
one time bin at a time, spikes and gradients alike.
"""
import json

import pytest
import snntorch as snn
import torch
from snntorch import functional as SF
from snntorch import surrogate

import common.networks.snn as S
from common.networks.objectives import class_spike_counts, spike_count_mse
from common.networks.registry import build_model
from common.runs.checkpoint import load_model, save_checkpoint


def active_model(seed=0, **kwargs) -> S.SpikingCNN:
    """A float64 SCNN whose three layers all spike on Poisson input (default init is too quiet)."""
    torch.manual_seed(seed)
    model = S.SpikingCNN(**kwargs).double()
    with torch.no_grad():
        model.conv2.weight.mul_(3.0)
        model.fc.weight.mul_(6.0)
    return model


def poisson_input(T=6, B=3, size=34, rate=0.5, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((T, B, 2, size, size), rate), generator=generator).double()


def per_step_reference(model: S.SpikingCNN, x: torch.Tensor) -> torch.Tensor:
    """The source study's order of work: every layer once per time bin, snntorch Leaky neurons."""
    betas = model.decay_tensor()
    spike_grad = surrogate.fast_sigmoid(slope=25)
    lifs = [snn.Leaky(beta=betas[i], threshold=1.0, spike_grad=spike_grad, reset_mechanism="subtract")
            for i in range(3)]
    mems = [lif.init_leaky() for lif in lifs]
    out = []
    for t in range(x.shape[0]):
        cur = model.pool(model.conv1(x[t]))
        spk, mems[0] = lifs[0](cur, mems[0])
        cur = model.pool(model.conv2(spk.double()))
        spk, mems[1] = lifs[1](cur, mems[1])
        spk, mems[2] = lifs[2](model.fc(spk.double().flatten(1)), mems[2])
        out.append(spk.double())
    return torch.stack(out)


def close(ours: torch.Tensor, reference: torch.Tensor, tolerance: float = 1e-6) -> bool:
    """Equal up to ``tolerance`` of the reference's largest entry (it went through float32)."""
    return bool((ours - reference).abs().max() <= tolerance * reference.abs().max())


def gradients(model, output, labels):
    model.zero_grad()
    SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)(output, labels).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_shapes_nmnist_dvs_and_population():
    x = torch.rand(4, 2, 2, 34, 34)
    assert S.SpikingCNN()(x).shape == (4, 2, 10)
    assert S.SpikingCNN(n_classes=11, input_size=32)(torch.rand(4, 2, 2, 32, 32)).shape == (4, 2, 11)
    assert S.SpikingCNN(population_size=5)(x).shape == (4, 2, 50)
    assert S.SpikingCNN().fc.in_features == S.SpikingCNN(input_size=32).fc.in_features == 800


def test_batched_over_time_equals_per_step_snntorch_reference():
    for kwargs in ({"beta": 0.5}, {"beta": 0.8}, {"beta": 0.8, "learn_beta": True}):
        model = active_model(**kwargs)
        x, labels = poisson_input(T=5, B=2), torch.tensor([3, 7])
        fast = model(x)
        assert all(count > 0 for count in model.spike_counts.values()), model.spike_counts
        fast_grads = gradients(model, fast, labels)
        slow = per_step_reference(model, x)
        slow_grads = gradients(model, slow, labels)
        assert torch.equal(fast, slow), kwargs
        # snntorch's surrogates emit float32 spikes, so the reference's gradients pass through float32
        # (error ~2e-8 of the largest entry); ours stay float64. 1e-6 still catches any wrong term.
        for name in fast_grads:
            assert close(fast_grads[name], slow_grads[name]), (kwargs, name)
        assert fast_grads["fc.weight"].abs().sum() > 0


def test_state_resets_at_every_forward():
    model = active_model()
    a, b = poisson_input(seed=1), poisson_input(seed=2)
    first = model(a)
    model(b)
    assert torch.equal(model(a), first)


def test_spike_counts_and_rates_describe_last_forward():
    model = active_model()
    out = model(poisson_input(T=6, B=3))
    assert set(model.spike_counts) == {"lif1", "lif2", "lif3"}
    assert model.spike_counts["lif3"] == out.sum().item() / 3
    assert model.spike_rates["lif3"] == out.mean().item()
    assert 0 < model.spike_rates["lif1"] <= 1


def test_learned_beta_gets_gradient_and_stays_in_unit_interval():
    model = S.SpikingCNN(beta=0.8, learn_beta=True)
    assert all(abs(b - 0.8) < 1e-6 for b in model.decays().values())
    out = model(torch.poisson(torch.full((5, 2, 2, 34, 34), 0.5)))
    out.sum().backward()   # even a silent output passes gradient to beta through the surrogate
    assert model.beta_logit.grad is not None and (model.beta_logit.grad != 0).all()
    with torch.no_grad():
        model.beta_logit.add_(10.0)                           # a wild optimizer step
    assert all(0 < b < 1 for b in model.decays().values())
    fixed = S.SpikingCNN(beta=0.5)
    assert fixed.decays() == {"lif1": 0.5, "lif2": 0.5, "lif3": 0.5}
    assert "beta_fixed" not in dict(fixed.named_parameters()) and "beta_fixed" in fixed.state_dict()


def test_checkpoint_rebuilds_the_scnn(tmp_path):
    kwargs = {"beta": 0.8, "learn_beta": True, "population_size": 2, "n_classes": 11, "input_size": 32}
    model = build_model("scnn", **kwargs).eval()
    save_checkpoint(tmp_path / "scnn.pth", model, "scnn", kwargs, meta={})
    loaded, _ = load_model(tmp_path / "scnn.pth")
    x = torch.poisson(torch.full((4, 2, 2, 32, 32), 1.0))
    assert isinstance(loaded, S.SpikingCNN) and torch.equal(loaded(x), model(x))
    assert loaded.decays() == model.decays()


def test_population_prediction_sums_each_class_group():
    # 3 classes x 4 neurons, T = 5, one sample. Neuron 0 (class 0) fires every bin: the single most
    # active neuron. Class 1's four neurons fire 2 bins each: 8 spikes against class 0's 5.
    spikes = torch.zeros(5, 1, 12)
    spikes[:, 0, 0] = 1
    spikes[:2, 0, 4:8] = 1
    objective = spike_count_mse(population_size=4, n_classes=3)
    assert spikes.sum(0).argmax(-1).item() == 0               # per-neuron argmax says class 0
    assert objective.predict(spikes).tolist() == [1]          # the group sums say class 1
    assert class_spike_counts(spikes, 3, 4).tolist() == [[5, 8, 0]]
    labels = torch.tensor([1])
    plain = spike_count_mse(population_size=1, n_classes=12)
    assert not torch.isclose(objective.loss(spikes, labels), plain.loss(spikes, labels))
    assert spike_count_mse().predict(torch.eye(10)[None, [3, 7]]).tolist() == [3, 7]


def test_spike_count_mse_trains_the_scnn_one_step():
    torch.manual_seed(0)
    model, objective = S.SpikingCNN(population_size=2), spike_count_mse(population_size=2)
    x, labels = torch.poisson(torch.full((5, 4, 2, 34, 34), 0.5)), torch.tensor([0, 1, 2, 3])
    loss = objective.loss(model(x), labels)
    loss.backward()
    assert torch.isfinite(loss) and model.conv1.weight.grad.abs().sum() > 0


# --- Grad-CAM over time (common.explanations.gradcam) -----------------------------------------------------------
import numpy as np  # noqa: E402

import patches.grad_cam_two_output as two_output  # noqa: E402
from common.explanations.gradcam import grad_cam, grad_cam_over_time, plot_grad_cam_over_time  # noqa: E402
from common.networks.cnn import CNN  # noqa: E402


def moving_square_clip(T=6, size=34, side=8, events=3.0):
    """Events of a square that moves left to right, one step per time bin (both polarities)."""
    clip = torch.zeros(T, 2, size, size)
    for t in range(T):
        left = 2 + t * (size - side - 4) // (T - 1)
        clip[t, :, 13:13 + side, left:left + side] = events
    return clip


def hand_grad_cam_per_bin(model, clip, target_class):
    """Grad-CAM written out with autograd alone: conv2 activations [T, K, h, w] and the gradient of
    the class spike count with respect to them, without pytorch-grad-cam."""
    store = {}
    handle = model.conv2.register_forward_hook(lambda m, i, o: store.update(a=o))
    try:
        counts = class_spike_counts(model(clip[:, None]), model.n_classes, model.population_size)
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(counts[0, target_class], store["a"])
    weights = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * store["a"]).sum(1)).detach().numpy(), grad, store["a"].detach()


def test_grad_cam_over_time_maps_follow_the_bins():
    model = active_model(population_size=2).float().eval()
    clip = moving_square_clip()
    per_bin, aggregated = grad_cam_over_time(model, clip)
    assert per_bin.shape == (6, 34, 34) and aggregated.shape == (34, 34)
    assert np.isfinite(per_bin).all() and np.isfinite(aggregated).all()
    assert per_bin.min() >= 0 and per_bin.max() == np.float32(1.0)     # scaled by the clip's max
    assert aggregated.min() >= 0 and aggregated.max() == np.float32(1.0) and aggregated.std() > 0.05
    assert not np.allclose(per_bin[0], per_bin[-1], atol=1e-3)          # the square moved

    # Default class = most spikes per class group; and the maps are true Grad-CAM per bin.
    with torch.no_grad():
        predicted = int(class_spike_counts(model(clip[:, None]), 10, 2).argmax())
    per_bin_explicit, _ = grad_cam_over_time(model, clip, target_class=predicted)
    np.testing.assert_array_equal(per_bin, per_bin_explicit)
    raw, grad, activation = hand_grad_cam_per_bin(model, clip, predicted)
    from common.explanations.gradcam import to_input
    expected = to_input(raw, model.cam_stages, (34, 34))        # placed through conv1-pool-conv2
    np.testing.assert_allclose(per_bin, expected / expected.max(), atol=1e-5)
    # Aggregated: channel weights averaged over all bins, applied to the time-summed activation.
    weights = grad.mean(dim=(0, 2, 3))[:, None, None]
    coarse = torch.relu((weights * activation.sum(0)).sum(0)).numpy()
    assert coarse.max() > 0
    coarse = to_input(coarse, model.cam_stages, (34, 34))
    np.testing.assert_allclose(aggregated, coarse / coarse.max(), atol=1e-5)

    fig = plot_grad_cam_over_time(clip, per_bin, aggregated, title="test")
    assert len(fig.axes) == 7
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_grad_cam_over_time_per_bin_scale_bin_stretches_each_bin():
    model = active_model().float().eval()
    per_bin, _ = grad_cam_over_time(model, moving_square_clip(), per_bin_scale="bin")
    assert per_bin.shape == (6, 34, 34)
    assert all(m.max() == 0 or abs(m.max() - 1) < 1e-3 for m in per_bin)   # each bin stretched to [0, 1]


def test_patch_leaves_plain_cnn_grad_cam_unchanged():
    torch.manual_seed(0)
    model, images = CNN().eval(), torch.rand(3, 1, 28, 28)
    two_output.remove()
    try:
        unpatched = grad_cam(model, images)
    finally:
        two_output.apply()
    patched = grad_cam(model, images)
    assert unpatched.shape == (3, 28, 28)
    np.testing.assert_array_equal(unpatched, patched)


def test_leaky_over_time_matches_snntorch_leaky_for_both_surrogates():
    """The hand-written backward against snntorch Leaky stepped through autograd, beta included."""
    for mine, theirs in ((S.fast_sigmoid_grad(25.0), surrogate.fast_sigmoid(slope=25)),
                         (S.atan_grad(2.0), surrogate.atan(alpha=2.0))):
        torch.manual_seed(0)
        current = (torch.randn(7, 3, 5, dtype=torch.float64) * 1.2).requires_grad_()
        beta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
        weights = torch.randn(7, 3, 5, dtype=torch.float64)
        spikes = S.leaky_over_time(current, beta, 1.0, mine)
        grads = torch.autograd.grad((spikes * weights).sum(), (current, beta))

        lif = snn.Leaky(beta=beta, threshold=1.0, spike_grad=theirs, reset_mechanism="subtract")
        mem, reference = lif.init_leaky(), []
        for t in range(current.shape[0]):
            spk, mem = lif(current[t], mem)
            reference.append(spk.double())
        reference = torch.stack(reference)
        reference_grads = torch.autograd.grad((reference * weights).sum(), (current, beta))
        assert 0 < spikes.sum() < spikes.numel()
        assert torch.equal(spikes, reference)
        for ours, ref in zip(grads, reference_grads):
            assert close(ours, ref)
        assert grads[1].abs() > 0


# --- convolution layout over time (common.networks.layout) ---------------------------------------------------
from common.networks import layout  # noqa: E402


def test_every_time_chunk_gives_the_same_spikes_loss_and_gradients():
    from common.networks.objectives import spike_count_mse
    torch.manual_seed(0)
    model = S.SpikingCNN(beta=0.5).train()
    x = (torch.rand(12, 6, 2, 34, 34) < 0.08).float() * 3
    labels = torch.randint(0, 10, (6,))
    objective, results = spike_count_mse(), {}
    for chunk in (1, 5, None):
        model.time_chunk = chunk
        model.zero_grad()
        spikes = model(x)
        loss = objective.loss(spikes, labels)
        loss.backward()
        results[chunk] = (spikes.detach(), loss.item(), model.conv1.weight.grad.clone())
    for chunk in (1, 5):
        assert torch.equal(results[chunk][0], results[None][0])
        assert results[chunk][1] == pytest.approx(results[None][1], rel=1e-6)
        assert torch.allclose(results[chunk][2], results[None][2], rtol=1e-4, atol=1e-10)   # float sums in another order


def test_a_cached_choice_is_measured_again_once_when_training_steps_run_far_slower(tmp_path, monkeypatch, capsys):
    """The cache says the chosen chunk's forward + backward takes 0.1 s; training steps that take 0.3 s (3x, a
    cache from a busy spell) make the next step measure again, once: a second slow spell keeps the new choice."""
    for name, value in (("CACHE", tmp_path / "time_chunk.json"), ("_memory", {}), ("_step_starts", {}),
                        ("_calibrated_seconds", {}), ("_rechecked", set())):
        monkeypatch.setattr(layout, name, value)
    monkeypatch.delenv(layout.ENV_TIME_CHUNK, raising=False)
    now, calls = [0.0], []
    monkeypatch.setattr(layout, "_clock", lambda: now[0])
    monkeypatch.setattr(layout, "calibrate", lambda model, x: calls.append(1) or {"1": [0.3] * 5, "5": [0.1] * 5,
                                                                                "all": [0.2] * 5})
    model, x = S.SpikingCNN().train(), torch.zeros(10, 4, 2, 34, 34)

    def steps(n, seconds):
        for _ in range(n):
            layout.time_chunk(model, x)
            now[0] += seconds
    steps(3 * layout.STEPS_WATCHED, 0.2)                 # 2x the calibrated step: within what training costs
    assert len(calls) == 1
    steps(layout.STEPS_WATCHED, 0.3)                     # 3x: measured again
    assert len(calls) == 2 and "measuring the layout again" in capsys.readouterr().err
    steps(3 * layout.STEPS_WATCHED, 0.3)                 # still slow: no calibration loop
    assert len(calls) == 2 and layout.time_chunk(model, x) == 5


def test_time_chunk_is_measured_once_cached_per_machine_and_can_be_forced(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "CACHE", tmp_path / "time_chunk.json")
    monkeypatch.setattr(layout, "_memory", {})
    monkeypatch.delenv(layout.ENV_TIME_CHUNK, raising=False)
    calls = []
    monkeypatch.setattr(layout, "calibrate", lambda model, x: calls.append(1) or {"1": [0.3] * 5, "5": [0.1] * 5,
                                                                                "all": [0.2] * 5})
    model = S.SpikingCNN().train()
    x = torch.zeros(10, 4, 2, 34, 34)
    assert layout.time_chunk(model, x) == 5 and layout.time_chunk(model, x) == 5 and len(calls) == 1
    saved = json.loads((tmp_path / "time_chunk.json").read_text())
    assert [v["chunk"] for v in saved.values()] == ["5"] and "torch" in next(iter(saved))
    monkeypatch.setattr(layout, "_memory", {})
    assert layout.time_chunk(model, x) == 5 and len(calls) == 1          # from the file, not measured again
    monkeypatch.setattr(layout, "_memory", {})
    monkeypatch.setenv(layout.ENV_TIME_CHUNK, "recalibrate")
    assert layout.time_chunk(model, x) == 5 and len(calls) == 2          # measured again on request
    monkeypatch.delenv(layout.ENV_TIME_CHUNK)
    saved = json.loads((tmp_path / "time_chunk.json").read_text())
    (tmp_path / "time_chunk.json").write_text(json.dumps({k: {**v, "version": 1} for k, v in saved.items()}))
    monkeypatch.setattr(layout, "_memory", {})
    assert layout.time_chunk(model, x) == 5 and len(calls) == 3          # a choice of an older calibration: again
    monkeypatch.setenv(layout.ENV_TIME_CHUNK, "all")
    assert layout.time_chunk(model, x) is None
    monkeypatch.setenv(layout.ENV_TIME_CHUNK, "0")
    with pytest.raises(ValueError, match="SNN_TIME_CHUNK"):
        layout.time_chunk(model, x)


def test_an_undecided_choice_takes_the_default_of_its_batch(tmp_path, monkeypatch):
    """Spreads that overlap: a batch of 128 takes 1 bin per call, a batch of 32 takes 5, each cached as undecided."""
    monkeypatch.setattr(layout, "CACHE", tmp_path / "time_chunk.json")
    monkeypatch.setattr(layout, "_memory", {})
    monkeypatch.delenv(layout.ENV_TIME_CHUNK, raising=False)
    overlapping = {"1": [0.30, 0.21, 0.25, 0.29, 0.22], "5": [0.22, 0.28, 0.24, 0.30, 0.21],
                   "all": [0.23, 0.27, 0.29, 0.22, 0.26]}
    monkeypatch.setattr(layout, "calibrate", lambda model, x: overlapping)
    model = S.SpikingCNN().train()
    assert layout.time_chunk(model, torch.zeros(3, 128, 2, 34, 34)) == 1
    assert layout.time_chunk(model, torch.zeros(3, 32, 2, 34, 34)) == 5
    saved = json.loads((tmp_path / "time_chunk.json").read_text())
    assert sorted((v["chunk"], v["decided"]) for v in saved.values()) == [("1", False), ("5", False)]


def test_calibration_times_each_candidate_and_leaves_the_model_as_it_was():
    model = S.SpikingCNN().train()
    timings = layout.calibrate(model, torch.rand(6, 2, 2, 34, 34), rounds=2)
    assert set(timings) == {"1", "5", "all"} and all(len(t) == 2 and min(t) > 0 for t in timings.values())
    ceiling = layout.ceiling(model, torch.rand(6, 2, 2, 34, 34))
    assert set(ceiling) == {"1", "5", "all"} and all(t > 0 for t in ceiling.values())
    assert model.time_chunk == "auto" and all(p.grad is None for p in model.parameters())


class FakeMachine:
    """A clock and steps whose cost is set by hand: ``steady[chunk]`` seconds a step, plus ``warm_up`` on the
    first call of each candidate (the trap of a first-step calibration: it ranks the one-time set-up)."""

    def __init__(self, steady, warm_up=3.0):
        self.now, self.steady, self.warm_up, self.calls = 0.0, steady, warm_up, {}

    def clock(self):
        return self.now

    def step_for(self, chunk):
        name = str(chunk or "all")
        def step():
            n = self.calls.get(name, 0)
            self.calls[name] = n + 1
            self.now += self.steady[name] + (self.warm_up if n == 0 else 0.0)
        return step


def test_a_warm_up_biased_timer_does_not_fool_the_choice():
    # steady state: 5 bins fastest; every candidate's first step costs 3 s more (one-time set-up)
    machine = FakeMachine({"1": 0.30, "5": 0.20, "all": 0.26})
    times = layout.interleaved_seconds(machine.step_for, clock=machine.clock)
    assert all(len(t) == layout.ROUNDS for t in times.values())
    assert max(max(t) for t in times.values()) < 1.0                  # no warm-up inside a timed round
    assert layout.choose(times) == ("5", True)


def test_a_choice_the_spread_cannot_carry_falls_back_to_the_default():
    noisy = {"1": [0.30, 0.31, 0.29, 0.30, 0.30], "5": [0.20, 0.26, 0.21, 0.27, 0.22],
             "all": [0.21, 0.25, 0.20, 0.26, 0.24]}                   # 5 and all overlap
    assert layout.choose(noisy) == (str(layout.DEFAULT_CHUNK), False)
    assert layout.choose(noisy, default=1) == ("1", False)             # the default wins even where it was slowest
    assert layout.default_chunk(32) == layout.default_chunk(64) == 5 and layout.default_chunk(65) == 1
    clear = {"1": [0.30] * 5, "5": [0.20, 0.21, 0.20, 0.21, 0.20], "all": [0.25, 0.26, 0.25, 0.26, 0.25]}
    assert layout.choose(clear) == ("5", True)


def test_a_layout_chosen_under_bf16_autocast_is_kept_apart_from_the_float32_choice():
    x = torch.zeros(25, 32, 2, 34, 34)
    plain = layout.shape_key(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layout.shape_key(x) != plain and "bfloat16" in layout.shape_key(x)
    assert layout.shape_key(x) == plain
