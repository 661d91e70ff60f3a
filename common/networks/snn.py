"""The spiking CNN of the study (N-MNIST, DVS Gesture), batched over time for speed.

Architecture (the source study's): Conv(2->12, k5) - MaxPool2 - Leaky - Conv(12->32, k5) - MaxPool2 -
Leaky - Flatten - Linear(800 -> n_outputs) - Leaky, with snntorch's leaky integrate-and-fire rule:
threshold 1, reset by subtraction (delayed one step, snntorch's default), fast-sigmoid surrogate
gradient (slope 25). Input ``[T, B, C, H, W]`` (``n_time_bins`` = T), output spikes ``[T, B, n_outputs]``.

Why batched over time: convolution, pooling and the linear layer carry no state, so applying them to
all ``T * B`` frames in one call is the same computation as applying them once per time bin. Only the
membrane recurrence needs a loop over T, and it is a few elementwise operations. The source study
instead stepped a whole ``nn.Sequential`` of ``Leaky(init_hidden=True)`` layers T times, paying for T
small convolutions per layer. tests/test_snn.py checks that both orders give the same spikes and
gradients. Measured on a 2-core CPU (T=25, Adam step included): 1.2-1.3x the per-step loop at batch 128,
where both are bound by convolution arithmetic, 1.6x at batch 8, 2.6x at batch 1 (Grad-CAM, demos);
the Python stepping overhead it removes matters most on a GPU.

A side effect Grad-CAM needs: the second convolution runs once per forward call, so its activations
for all T bins arrive in one hook call as ``[T * B, 32, 11, 11]`` (see common.explanations.gradcam.grad_cam_over_time).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from common.networks import layout
from common.networks.neurons import SpikeTrace
from common.networks.registry import register

LAYERS = ("lif1", "lif2", "lif3")   # the three spiking layers, named as in spike_counts


def conv_output_size(input_size: int) -> int:
    """Side length after the two conv(k5) + maxpool(2) stages: 34 -> 5, 32 -> 5, 28 -> 4."""
    return ((input_size - 4) // 2 - 4) // 2


def event_batch(x: torch.Tensor, channels: int | None = None, size: int | None = None,
                time_bins: int | None = None) -> torch.Tensor:
    """A batch of event frames ``[T, B, C, H, W]`` as float, or a ValueError naming the shape the model expects
    (``channels``, ``size`` x ``size``, and ``time_bins`` when the model knows what it was trained on): a clip
    given batch first (``[B, T, C, H, W]``) is refused instead of answering for T clips of one bin."""
    expected = (f"[T{'=' + str(time_bins) if time_bins else ''}, B, C={channels or 'C'}, "
                f"H={size or 'H'}, W={size or 'W'}] (time first)")
    wrong = x.dim() != 5 or (channels is not None and x.shape[2] != channels) \
        or (size is not None and tuple(x.shape[3:]) != (size, size)) or (time_bins and x.shape[0] != time_bins)
    if wrong:
        hint = ""
        if x.dim() == 5 and time_bins and x.shape[1] == time_bins and x.shape[0] != time_bins:
            hint = "; batch and time look swapped: pass x.transpose(0, 1)"
        elif x.dim() == 4:
            hint = "; one clip [T, C, H, W] needs a batch axis: pass x.unsqueeze(1)"
        raise ValueError(f"expected input {expected}, got shape {tuple(x.shape)}{hint}")
    return x if x.is_floating_point() else x.float()


# Surrogate derivatives, computed in place: leaky_over_time hands them a temporary it no longer needs.
def fast_sigmoid_grad(slope: float = 25.0):
    """Derivative of snntorch's ``surrogate.fast_sigmoid(slope)``: ``1 / (slope * |x| + 1)^2``."""
    return lambda x: x.abs_().mul_(slope).add_(1.0).square_().reciprocal_()


def atan_grad(alpha: float = 2.0):
    """Derivative of snntorch's ``surrogate.atan(alpha)``: ``(alpha / 2) / (1 + (pi / 2 * alpha * x)^2)``."""
    return lambda x: x.mul_(math.pi / 2 * alpha).square_().add_(1.0).reciprocal_().mul_(alpha / 2)


class _LeakyOverTime(torch.autograd.Function):
    """The membrane recurrence with a hand-written backward pass (see :func:`leaky_over_time`)."""

    @staticmethod
    def forward(ctx, current, beta, threshold, surrogate_grad):
        decay = float(beta)
        mem, spk = torch.empty_like(current), torch.empty_like(current)
        mem[0] = current[0]
        torch.gt(mem[0], threshold, out=spk[0])          # written in place: no bool temporary to copy
        for t in range(1, current.shape[0]):
            torch.add(current[t], mem[t - 1], alpha=decay, out=mem[t])
            mem[t].sub_(spk[t - 1], alpha=threshold)       # reset by subtraction, one step late
            torch.gt(mem[t], threshold, out=spk[t])
        ctx.save_for_backward(mem, beta if torch.is_tensor(beta) else torch.tensor(decay))
        ctx.threshold, ctx.surrogate_grad = threshold, surrogate_grad
        ctx.mark_non_differentiable(mem)          # returned for observation (NeuroBench), not for gradients
        # the membrane never receives a gradient: without this, autograd zero-fills a [T, ...] tensor for it
        # in every backward pass (~5% of a batch-128 step, torch.profiler)
        ctx.set_materialize_grads(False)
        return spk, mem

    @staticmethod
    def backward(ctx, grad_spk, _grad_mem):
        mem, beta = ctx.saved_tensors
        if grad_spk is None:      # not materialised (see forward): no gradient reaches the spikes either
            return None, None, None, None
        decay = float(beta)
        # dL/dmem[t] = dL/dspk[t] * surrogate'(mem[t] - threshold) + beta * dL/dmem[t+1]; the reset is
        # detached (as in snntorch), so no gradient flows through spk[t-1] into mem[t]. One time bin at
        # a time: a bin's tensors stay in cache (whole-[T, ...] operations ran 2.5x slower, measured).
        grad_mem = torch.empty_like(mem)
        for t in range(mem.shape[0] - 1, -1, -1):
            torch.mul(grad_spk[t], ctx.surrogate_grad(mem[t] - ctx.threshold), out=grad_mem[t])
            if t + 1 < mem.shape[0]:
                grad_mem[t].add_(grad_mem[t + 1], alpha=decay)
        grad_beta = None
        if ctx.needs_input_grad[1]:
            grad_beta = (grad_mem[1:] * mem[:-1]).sum().reshape(beta.shape).to(beta.dtype)
        return grad_mem, grad_beta, None, None


def leaky_over_time(current: torch.Tensor, beta, threshold: float, surrogate_grad,
                    return_membrane: bool = False):
    """Spikes ``[T, ...]`` of leaky integrate-and-fire neurons driven by ``current`` ``[T, ...]``.

    Exactly snntorch ``Leaky(reset_mechanism="subtract", reset_delay=True)``, membrane starting at 0::

        mem[t] = beta * mem[t-1] + current[t] - threshold * spk[t-1]   (reset signal detached)
        spk[t] = heaviside(mem[t] - threshold), gradient surrogate_grad(mem[t] - threshold)

    ``beta``: a float or a 0-d tensor (which then receives a gradient). ``surrogate_grad``: the
    derivative used in place of the step's, e.g. :func:`fast_sigmoid_grad`.

    Why a hand-written backward: run through autograd, this loop records ~10 small operations per
    time bin and replays them backwards; here the forward is 3 in-place operations per bin, the
    backward's surrogate and carry are a few in-place operations per bin. Measured on the idle 2-core CPU
    (first spiking layer of the N-MNIST SCNN, [25, 128, 12, 15, 15]): forward + backward 53 -> 24 ms;
    the whole training step 221 -> 235 samples/s (benchmarks/nmnist_training_speed.py).
    tests/test_snn.py checks spikes and gradients against snntorch's Leaky stepped bin by bin.
    ``return_membrane=True`` returns ``(spikes, membrane)``, the membrane ``[T, ...]`` after each bin's
    update (no gradient through it): what NeuroBench's membrane-update count reads.
    """
    spikes, membrane = _LeakyOverTime.apply(current, beta, threshold, surrogate_grad)
    return (spikes, membrane) if return_membrane else spikes


@register("scnn", kind="spiking", label="spiking CNN")
class SpikingCNN(nn.Module):
    """Spiking CNN for event data; ``forward([T, B, C, H, W]) -> spikes [T, B, n_classes * population_size]``.

    - ``beta``: membrane decay per time bin (0.5 or 0.8 in the study);
    - ``learn_beta``: each spiking layer learns its own beta, stored as a logit so that
      ``sigmoid(logit)`` stays in (0, 1) whatever the optimizer does (snntorch instead clamps, which
      stops the gradient at the bounds);
    - ``population_size``: output neurons per class (1 = one neuron per class); the objective
      (common.networks.objectives.spike_count_mse) sums each class's group;
    - ``input_size``: 34 for N-MNIST, 32 for DVS Gesture (both give 32 * 5 * 5 = 800 features).

    State is reset at every forward call, so nothing leaks between batches. After each forward,
    ``spike_counts[layer]`` is the mean number of spikes per sample in that layer and
    ``spike_rates[layer]`` the mean spikes per neuron per time bin.
    """

    def __init__(self, beta: float = 0.5, learn_beta: bool = False, n_classes: int = 10,
                 population_size: int = 1, in_channels: int = 2, input_size: int = 34,
                 threshold: float = 1.0, slope: float = 25.0):
        super().__init__()
        if not 0.0 < beta < 1.0:
            raise ValueError(f"beta must be in (0, 1), got {beta}")
        side = conv_output_size(input_size)
        if side < 1:
            raise ValueError(f"input_size {input_size} is too small for two conv(k5)+pool(2) stages")
        self.n_classes, self.population_size = n_classes, population_size
        self.n_outputs = n_classes * population_size
        self.threshold, self.learn_beta = threshold, learn_beta
        self.in_channels, self.input_size = in_channels, input_size
        self.expected_time_bins: int | None = None   # set by common.load_model from the run's config
        self.conv1 = nn.Conv2d(in_channels, 12, 5)
        self.conv2 = nn.Conv2d(12, 32, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * side * side, self.n_outputs)
        self.surrogate_grad = fast_sigmoid_grad(slope)
        if learn_beta:
            logit = math.log(beta / (1.0 - beta))
            self.beta_logit = nn.Parameter(torch.full((len(LAYERS),), logit))
        else:
            self.register_buffer("beta_fixed", torch.full((len(LAYERS),), float(beta)))
        self.traces = nn.ModuleList(SpikeTrace() for _ in LAYERS)   # where each layer's spikes can be observed
        # time bins per convolution call: "auto" measures (common/networks/layout.py), None runs all bins in one
        # call (Grad-CAM needs that: its hooks keep one activation per call), an int forces a chunk
        self.time_chunk: int | str | None = "auto"
        self.spike_counts: dict[str, float] = {}
        self.spike_rates: dict[str, float] = {}

    def decay_tensor(self) -> torch.Tensor:
        """The three layers' decays as one tensor, as the forward pass uses them (differentiable when learned)."""
        return torch.sigmoid(self.beta_logit) if self.learn_beta else self.beta_fixed

    def decays(self) -> dict[str, float]:
        """Current decay (beta) of each spiking layer, e.g. ``{"lif1": 0.5, "lif2": 0.5, "lif3": 0.5}``."""
        return dict(zip(LAYERS, self.decay_tensor().detach().cpu().tolist()))

    def epoch_metrics(self) -> dict:
        """What the runner records after every epoch: each layer's beta, when it is learned."""
        return {f"beta_{k}": v for k, v in self.decays().items()} if self.learn_beta else {}

    def learned_decays(self) -> dict:
        """What the runner records of the trained model beside its accuracy."""
        return {"learned_beta": self.decays()} if self.learn_beta else {}

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.conv2

    @property
    def cam_stages(self) -> list:
        """The layers between the input and ``gradcam_layer`` (common.explanations.gradcam.to_input reads them)."""
        return [self.conv1, self.pool, self.conv2]

    def conv_over_time(self, conv: nn.Module, x: torch.Tensor, chunk: int | None) -> torch.Tensor:
        """``pool(conv(x))`` of ``x`` ``[T, B, C, H, W]``, ``chunk`` time bins per call (None: all at once).
        channels_last: on CPU the 2- and 12-channel convolutions and the pooling run ~1.5x faster."""
        T, B = x.shape[:2]
        # split, not slices: a slice's backward zero-fills a whole [T, ...] gradient per chunk, split's is one cat
        parts = [self.pool(conv(part.flatten(0, 1).contiguous(memory_format=torch.channels_last)))
                 for part in x.split(chunk or T)]
        return (parts[0] if len(parts) == 1 else torch.cat(parts)).unflatten(0, (T, B))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = event_batch(x, self.in_channels, self.input_size, self.expected_time_bins)
        T, B = x.shape[:2]
        beta = self.decay_tensor()

        def lif(current, i):   # spikes of layer i, shown to its trace (NeuroBench observes there)
            spikes, membrane = leaky_over_time(current, beta[i], self.threshold, self.surrogate_grad, True)
            return self.traces[i](spikes, membrane)

        chunk = layout.time_chunk(self, x) if self.time_chunk == "auto" else self.time_chunk
        spk1 = lif(self.conv_over_time(self.conv1, x, chunk), 0)        # [T, B, 12, 15, 15]
        spk2 = lif(self.conv_over_time(self.conv2, spk1, chunk), 1)     # [T, B, 32, 5, 5]
        spk3 = lif(self.fc(spk2.flatten(2)), 2)                          # [T, B, n_outputs]

        with torch.no_grad():
            self.neurons_per_sample = sum(spk[0, 0].numel() for spk in (spk1, spk2, spk3))
            for name, spk in zip(LAYERS, (spk1, spk2, spk3)):
                total = spk.sum().item()
                self.spike_counts[name] = total / B
                self.spike_rates[name] = total / spk.numel()
        return spk3


@register("scnn_wide", kind="spiking", label="spiking CNN, wide")
class WideSpikingCNN(SpikingCNN):
    """common.networks.snn.SpikingCNN with ``channels`` convolution channels instead of (12, 32).

    Everything else (neurons, surrogate, learned beta, population code, Grad-CAM layer, time
    batching) is the parent's: only the three weighted layers are rebuilt at the new width.
    """

    def __init__(self, channels: tuple[int, int] = (32, 64), **kwargs):
        super().__init__(**kwargs)
        side = conv_output_size(kwargs.get("input_size", 34))
        self.conv1 = nn.Conv2d(kwargs.get("in_channels", 2), channels[0], 5)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 5)
        self.fc = nn.Linear(channels[1] * side * side, self.n_outputs)
