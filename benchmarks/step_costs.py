"""What a training step costs and what the machine allows: the step's time from ``torch.profiler`` grouped into
the parts of a spiking CNN, the step's dense FLOPs counted from the model, and the CPU's measured GEMM peak.

The grouping (:func:`group_times`) is a pure function of the profiler's rows, ``(path, self microseconds)``,
``path`` being the names of the enclosing events from the outermost to the op itself, so a test can check it on
a fake list. Every row inside the profiled steps lands in exactly one group, so the shares add up to 100% of
the steps' self CPU time, which is their measured duration.
"""
from __future__ import annotations

import time
from contextlib import nullcontext

import torch
from torch import nn

STEP = "training step"     # the record_function range around one whole step
# the ranges inside a step: (phase, group the range decides; None lets the op decide)
RANGES = {"model forward": ("forward", None), "model backward": ("backward", None),
          "loss forward": ("forward", "loss (spike-count MSE)"), "loss backward": ("backward", "loss (spike-count MSE)"),
          "optimizer": (None, "optimizer (Adam, zero_grad)")}
# groups decided by an op or autograd node on the path, its name starting with one of these
OP_GROUPS = (("convolutions and the linear layer", ("aten::conv2d", "aten::convolution", "ConvolutionBackward",
                                                    "aten::linear", "AddmmBackward", "MmBackward")),
             ("pooling", ("aten::max_pool2d", "MaxPool2DWithIndicesBackward")),
             ("neurons (membrane recurrence, surrogate)", ("_LeakyOverTime",)))
OTHER = "other (layout copies, cat, slices, views, Python between ops)"
GROUPS = tuple(g for g, _ in OP_GROUPS) + tuple(dict.fromkeys(g for _, g in RANGES.values() if g)) + (OTHER,)
AUTOGRAD_NODE = "autograd::engine::evaluate_function: "


def classify(path) -> tuple[str, str | None]:
    """(group, phase) of one profiler row: the phase ("forward", "backward" or None) from the step's ranges; the
    group from a loss or optimizer range, else from the first op or autograd node on the path that names one."""
    phase, group = None, None
    for name in path:
        if name in RANGES:
            phase, group = RANGES[name]
            break
    if group is None:
        op_names = [name.removeprefix(AUTOGRAD_NODE) for name in path]
        group = next((g for name in op_names for g, prefixes in OP_GROUPS if name.startswith(prefixes)), OTHER)
    return group, phase


def group_times(rows) -> dict[str, dict[str, float]]:
    """``{group: {"forward", "backward", "total": microseconds, "share": fraction}}`` over ``rows`` of
    ``(path, self microseconds)`` inside a training step (rows outside one are left out); every group of
    :data:`GROUPS` is present and the shares sum to 1."""
    groups = {g: {"forward": 0.0, "backward": 0.0, "total": 0.0} for g in GROUPS}
    for path, self_us in rows:
        if STEP not in path:
            continue
        group, phase = classify(path)
        groups[group]["total"] += self_us
        if phase:
            groups[group][phase] += self_us
    step = sum(g["total"] for g in groups.values())
    if step <= 0:
        raise ValueError(f"no profiler rows inside a {STEP!r} range: was the step run under record_function?")
    for g in groups.values():
        g["share"] = g["total"] / step
    return groups


def profiler_rows(events) -> list[tuple[tuple[str, ...], float]]:
    """``(path, self microseconds)`` of every event of a ``torch.profiler`` run (``prof.events()``)."""
    def path(event):
        names = []
        while event is not None:
            names.append(event.name)
            event = event.cpu_parent
        return tuple(reversed(names))
    return [(path(e), e.self_cpu_time_total) for e in events]


def train_step(forward, objective, optimizer, x, labels, ranges: bool = False) -> None:
    """One training step. The loss's backward runs apart from the model's (autograd.grad to the output spikes,
    then backward from them: the same chain rule and gradients as ``loss.backward()``), so the profiler can tell
    the two apart; ``ranges`` marks the step's parts with record_function for it."""
    mark = torch.profiler.record_function if ranges else (lambda name: nullcontext())
    with mark(STEP):
        with mark("model forward"):
            spikes = forward(x)
        with mark("loss forward"):
            loss = objective.loss(spikes, labels)
        with mark("optimizer"):
            optimizer.zero_grad()
        with mark("loss backward"):
            grad_spikes, = torch.autograd.grad(loss, spikes)
        with mark("model backward"):
            spikes.backward(grad_spikes)
        with mark("optimizer"):
            optimizer.step()


def profile_steps(step, n_steps: int) -> list[tuple[tuple[str, ...], float]]:
    """The profiler's rows over ``n_steps`` calls of ``step()`` (which marks its ranges)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n_steps):
            step()
    return profiler_rows(prof.events())


def layer_calls(model: nn.Module, forward, x: torch.Tensor, kinds=(nn.Conv2d, nn.Linear)) -> list[tuple[int, bool]]:
    """Every call of a ``kinds`` layer (Conv2d, Linear) in one ``forward(x)``: its multiply-accumulates, counted
    densely (zeros included, as the CPU computes them) from forward hooks, and whether its input needs a gradient.
    The layer called first is fed the data, so none of its calls needs one (its backward computes only the
    weight's); every later layer's input comes from parameters. Counted under no_grad, so that nothing a
    training step does once (the layout's calibration) runs."""
    calls, first_layer = [], []

    def count(layer, _inputs, output):
        if isinstance(layer, nn.Conv2d):
            macs = output.numel() * (layer.in_channels // layer.groups) * layer.kernel_size[0] * layer.kernel_size[1]
        else:
            macs = output.numel() * layer.in_features
        first_layer[:] = first_layer or [layer]
        calls.append((macs, layer is not first_layer[0]))
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            forward(x)
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def dense_macs(calls: list[tuple[int, bool]]) -> int:
    """The forward pass's multiply-accumulates over :func:`layer_calls`."""
    return sum(macs for macs, _ in calls)


def training_flops(calls: list[tuple[int, bool]]) -> float:
    """FLOPs of a training step per sample over :func:`layer_calls`: 2 per MAC forward, 2 per MAC for the weight's
    gradient, and 2 more for the input's where it needs one (x3 in all for every layer but the first)."""
    return sum(2 * macs * (2 + needs_input_gradient) for macs, needs_input_gradient in calls)


def gemm_peak(dtype: torch.dtype = torch.float32, n: int = 3072, repeats: int = 5) -> float:
    """FLOP/s of ``torch.matmul`` of two n x n matrices of ``dtype``, best of ``repeats``, at torch's threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def has_bf16(cpu: str) -> bool:
    """Whether a CPU description (common.machine.cpu_description) lists bf16 arithmetic (AVX-512 BF16 or AMX)."""
    flags = cpu.rpartition("[")[2].rstrip("]").split()
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))
