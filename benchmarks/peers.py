"""Training throughput of the project's spiking CNN against the peers a user would pick instead.

    python benchmarks/peers.py [--batch 128] [--runs 3] [--recalibrate]

Same model everywhere, the spec ``scnn_nmnist_beta0.5`` of notebook 02 (common/runs/specs.py, quick profile):
12C5-MP2-32C5-MP2-800FC10, beta 0.5, fast-sigmoid surrogate of slope 25, threshold 1, reset by subtraction,
T = 25; random frames at N-MNIST density (~4% of pixel-bins active, counts 1-3), Adam at the spec's learning
rate, snntorch's spike-count MSE; ``--batch`` (default 128, where the peers were first compared; the spec
trains at 32); 2 warm-up steps then 6 timed steps, ``--runs`` times, each row in
its own process so its peak memory is its own, the runs interleaved (run 1 of every row, then run 2 in a shuffled
order, ...) so a slow spell of the machine, or the row timed just before, does not fall on one row alone:

- project: ``common.build_model("scnn")`` with the layout it chooses itself (common/networks/layout.py;
  ``--recalibrate`` makes its first run measure the choice again instead of reading the cache), and with
  each layout forced (chunks of 1, 5 and all time bins per convolution call);
- snntorch: ``Leaky`` layers in an ``nn.Sequential`` stepped over frames already in memory;
- spikingjelly 2.0 multi-step: ``layer.*`` and ``neuron.LIFNode`` with ``step_mode="m"`` (torch backend);
- bf16 autocast (where the CPU has avx512_bf16 or AMX): the auto row and snntorch's again, under torch's bf16 autocast,
  a measured option beside the float32 rows (benchmarks/bf16_folds.py measures what it does to accuracy);
- glibc malloc defaults: the auto row and snntorch's again in a process that hands freed memory back to the kernel
  (every other row's process keeps it, as the study's runs do: common.machine.keep_freed_memory);
- convolutions alone: the model's two convolution stages (conv + pool, forward and backward) in their fastest
  layout, for scale (the rest of the step is neurons, loss and optimizer).

Every peer runs: a missing one fails the benchmark with the command that installs it. First the machine's limit:
the step's FLOPs counted from the model and the float32 GEMM peak measured here before and after the rows (the
higher counts; bf16 too where the CPU has it).
Then a row per timing with samples/s, the fraction of the float32 peak that the row's FLOPs per second make, and
the ratio to the best peer; then where one training step of the project (auto layout) goes, from
``torch.profiler`` over real steps (benchmarks/step_costs.py), in parts that add up to the profiled step, and
the bound that the convolutions' own speed inside that step sets on the step's share of the peak.
``--time-bins`` shortens the samples, only to check the benchmark itself quickly.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from benchmarks import step_costs  # noqa: E402
from common.machine import keep_freed_memory  # noqa: E402
from common.runs.specs import resolve  # noqa: E402

SPEC = resolve("scnn_nmnist_beta0.5", "quick")      # the network, T and lr of notebook 02
T, BETA, LR = SPEC.config.data.n_time_bins, SPEC.config.model_kwargs["beta"], SPEC.config.lr
AUTO = "project (auto layout)"
FORCED = {"project, 1 bin per call": 1, "project, 5 bins per call": 5, "project, all bins per call": None}
PEERS = ["snntorch Leaky stepped over frames in memory", "spikingjelly 2.0 multi-step (torch backend)"]
CONVOLUTIONS_ALONE = "convolutions alone: the two conv + pool stages, fastest layout"
FORWARD_MACS = "forward MACs"   # flops_per_sample's key for the forward pass's multiply-accumulates
ROWS = [AUTO, *FORCED, *PEERS, CONVOLUTIONS_ALONE]
# bf16 as a measured option, not the default (the study trains in float32): the project's auto row and snntorch's
# (the best peer so far), each under torch's bf16 autocast (common.runs.train.precision_scope), timed where the CPU has bf16
BF16_ROWS = {f"{AUTO}, bf16 autocast": AUTO, f"{PEERS[0]}, bf16 autocast": PEERS[0]}
# every row's process keeps its freed memory (common.machine.keep_freed_memory, as the study's runs do); these two
# rows run with glibc's malloc as it comes, to show what that setting is worth to the project and to the best peer
MALLOC_ROWS = {f"{AUTO}, glibc malloc defaults": AUTO, f"{PEERS[0]}, glibc malloc defaults": PEERS[0]}
# how to install each peer (spikingjelly --no-deps, as the Makefile does: it declares torchaudio, which has no
# release for the pinned torch; loguru is its one import)
INSTALL = {"snntorch": "pip install -e .  (the project pins snntorch)",
           "spikingjelly": "pip install --no-deps spikingjelly==2.0.0 loguru"}
STEPS, WARM_UP, PROFILED_STEPS = 6, 2, 3


class BenchmarkFailed(RuntimeError):
    """The benchmark cannot give its full table (a row failed or a peer is missing)."""


class PeerMissing(BenchmarkFailed):
    pass


def require(package: str):
    """The peer's package, imported, or PeerMissing naming the command that installs it."""
    try:
        return importlib.import_module(package)
    except ImportError as error:
        raise PeerMissing(f"{package} is missing ({error}), and the benchmark times it as a peer; install it with: "
                          f"{INSTALL[package.split('.')[0]]}") from error


def require_peers() -> None:
    """Every peer importable, checked before anything is timed."""
    for package in INSTALL:
        require(package)


def frames(batch: int, time_bins: int = T, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    active = torch.rand(time_bins, batch, 2, 34, 34, generator=g) < 0.04
    return active * torch.randint(1, 4, active.shape, generator=g), torch.randint(0, 10, (batch,), generator=g)


def snntorch_net():
    snn, surrogate = require("snntorch"), require("snntorch.surrogate")
    grad = surrogate.fast_sigmoid(slope=25)
    return nn.Sequential(
        nn.Conv2d(2, 12, 5), nn.MaxPool2d(2), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True),
        nn.Conv2d(12, 32, 5), nn.MaxPool2d(2), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True),
        nn.Flatten(), nn.Linear(800, 10), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True, output=True))


def spikingjelly_net():
    require("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate
    lif = lambda: neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_threshold=1.0, v_reset=None,
                                 surrogate_function=surrogate.Sigmoid(), step_mode="m")   # v = beta v + x
    net = nn.Sequential(layer.Conv2d(2, 12, 5), layer.MaxPool2d(2), lif(), layer.Conv2d(12, 32, 5),
                        layer.MaxPool2d(2), lif(), layer.Flatten(), layer.Linear(800, 10), lif())
    functional.set_step_mode(net, "m")
    return net, functional


def step_fn(row: str):
    """(model, forward(x [T, B, 2, 34, 34]) -> spikes [T, B, 10])."""
    import common
    if row in MALLOC_ROWS:     # the same row; its process was started with SNN_STUDY_MALLOC=default
        return step_fn(MALLOC_ROWS[row])
    if row in BF16_ROWS:
        from common.runs.train import forward as at_precision
        model, forward = step_fn(BF16_ROWS[row])
        return model, lambda x: at_precision(forward, x, "bfloat16", "cpu")
    if row.startswith("project"):
        model = common.build_model("scnn", beta=BETA)
        model.time_chunk = FORCED.get(row, "auto")
        return model, model
    if row.startswith("snntorch"):
        model, utils = snntorch_net(), require("snntorch.utils")

        def forward(x):
            utils.reset(model)
            return torch.stack([model(x[t])[0] for t in range(x.shape[0])])
        return model, forward
    if row.startswith("spikingjelly"):
        model, functional = spikingjelly_net()

        def forward(x):
            functional.reset_net(model)
            return model(x)
        return model, forward
    raise ValueError(row)


def training_setup(row: str, batch: int, time_bins: int):
    """(model, a step of training it) for a row: Adam at the spec's lr, spike-count MSE, the benchmark's frames."""
    from common.networks.objectives import spike_count_mse
    torch.manual_seed(0)
    model, forward = step_fn(row)
    model.train()
    objective, optimizer = spike_count_mse(), torch.optim.Adam(model.parameters(), lr=LR)
    x, labels = frames(batch, time_bins)
    x = x.float()
    return model, x, lambda ranges=False: step_costs.train_step(forward, objective, optimizer, x, labels, ranges)


def layout_name(row: str, model, x: torch.Tensor) -> str:
    """The convolution layout a project row ran in ('' for the peers)."""
    from common.networks import layout
    from common.runs.train import precision_scope
    if not row.startswith("project"):
        return ""
    with precision_scope("bfloat16" if row in BF16_ROWS else "float32", "cpu"):   # the choice made for that arithmetic
        chosen = layout.time_chunk(model, x) if model.time_chunk == "auto" else model.time_chunk
    return f"{chosen or 'all'} bin(s) per call"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def convolutions_alone(batch: int, time_bins: int) -> dict:
    """The project's two conv stages alone, in their fastest chunk (measured here)."""
    import common
    from common.networks import layout
    model = common.build_model("scnn", beta=BETA).train()
    timings = layout.ceiling(model, frames(batch, time_bins)[0].float())
    best = min(timings, key=timings.get)
    return {"row": CONVOLUTIONS_ALONE, "samples_per_s": batch / timings[best], "layout": f"{best} bin(s) per call",
            "peak_mb": peak_mb()}


def measure(row: str, batch: int, time_bins: int = T) -> dict:
    if row == CONVOLUTIONS_ALONE:
        return convolutions_alone(batch, time_bins)
    model, x, step = training_setup(row, batch, time_bins)
    for _ in range(WARM_UP):       # the auto layout calibrates on the first step
        step()
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    seconds = time.perf_counter() - start
    return {"row": row, "samples_per_s": batch * STEPS / seconds, "layout": layout_name(row, model, x),
            "peak_mb": peak_mb()}


def breakdown(batch: int, time_bins: int = T, n_steps: int = PROFILED_STEPS) -> dict:
    """Where a training step of the project (auto layout) goes: torch.profiler over ``n_steps`` real steps after
    the warm-up, grouped by step_costs.group_times; ms per step per group and phase, and each group's share."""
    model, x, step = training_setup(AUTO, batch, time_bins)
    for _ in range(WARM_UP):
        step()
    groups = step_costs.group_times(step_costs.profile_steps(lambda: step(ranges=True), n_steps))
    per_step = {g: {k: (v if k == "share" else v / 1000 / n_steps) for k, v in parts.items()}
                for g, parts in groups.items()}
    return {"layout": layout_name(AUTO, model, x), "steps": n_steps, "groups": per_step,
            "step_ms": sum(parts["total"] for parts in per_step.values())}


def flops_per_sample(time_bins: int) -> dict[str, float]:
    """Training FLOPs per sample of each row: the whole network's (Conv2d + Linear), and the convolutions' alone
    for their row, counted densely from the project's model (the peers build the same layers); under
    :data:`FORWARD_MACS`, the forward pass's multiply-accumulates."""
    import common
    model = common.build_model("scnn", beta=BETA)
    x = frames(1, time_bins)[0].float()
    calls = step_costs.layer_calls(model, model, x)
    whole = step_costs.training_flops(calls)
    convolutions = step_costs.training_flops(step_costs.layer_calls(model, model, x, kinds=(nn.Conv2d,)))
    return {FORWARD_MACS: step_costs.dense_macs(calls),
            **{row: convolutions if row == CONVOLUTIONS_ALONE else whole for row in [*ROWS, *BF16_ROWS, *MALLOC_ROWS]}}


def rows_here(cpu: str) -> list[str]:
    """The rows timed on this CPU: every float32 row, the bf16 rows where it has bf16 arithmetic, and the rows
    with glibc's malloc defaults."""
    return ROWS + (list(BF16_ROWS) if step_costs.has_bf16(cpu) else []) + list(MALLOC_ROWS)


def machine_limit_lines(flops: dict[str, float], peaks: tuple[float, float], bf16_peak: float | None) -> list[str]:
    """The step's counted FLOPs and the measured GEMM peaks (float32 before and after the rows), as printed."""
    whole, peak = flops[AUTO], max(peaks)
    return [f"FLOPs per training sample, counted from the model: {flops[FORWARD_MACS] / 1e6:.1f} M dense MACs forward "
            f"(every Conv2d and Linear call, forward hooks), x 2 per MAC for the forward pass, the weights' gradients "
            f"and the inputs' (none for the first layer's input, the data) = {whole / 1e6:.0f} MFLOP; "
            f"the convolutions alone {flops[CONVOLUTIONS_ALONE] / 1e6:.0f} MFLOP",
            f"float32 GEMM peak (torch.matmul 3072 x 3072, best of 5, {torch.get_num_threads()} threads, measured "
            f"before and after the rows: {peaks[0] / 1e9:.0f} and {peaks[1] / 1e9:.0f} GFLOP/s; the higher is the "
            f"peak): {peak / 1e9:.0f} GFLOP/s, so at most {peak / whole:.0f} training samples/s; bf16: "
            + (f"{bf16_peak / 1e9:.0f} GFLOP/s (measured; the rows train in float32, but for the bf16 autocast rows)" if bf16_peak
               else "not measured (the CPU lists neither avx512_bf16 nor amx_bf16)")]


def table_lines(results: dict[str, list[dict]], flops: dict[str, float], peak: float) -> list[str]:
    """The table of rows (samples/s of each run, % of the float32 peak, x best peer, layout, peak MB) and the
    project's ratios to the best peer and to its fastest forced layout."""
    mean = lambda row: sum(r["samples_per_s"] for r in results[row]) / len(results[row])
    best_peer = max(PEERS, key=mean)
    fastest_forced = max(FORCED, key=mean)
    lines = ["| row | training samples/s (each run) | % of float32 peak | x best peer | layout | peak MB |",
             "|---|---|---|---|---|---|"]
    for row, runs in results.items():
        each = " / ".join(f"{r['samples_per_s']:.0f}" for r in runs)
        lines.append(f"| {row} | {each} | {mean(row) * flops[row] / peak:.0%} | {mean(row) / mean(best_peer):.2f} "
                     f"| {runs[0]['layout']} | {max(r['peak_mb'] for r in runs):.0f} |")
    # run r of every row was timed in the same round (round_order): the run-by-run ratios pair measurements close in
    # time, and the rows' own spread between runs says how small a difference this run can resolve
    run_by_run = lambda row, other: ", ".join(f"{a['samples_per_s'] / b['samples_per_s']:.2f}"
                                              for a, b in zip(results[row], results[other]))
    speeds = [[r["samples_per_s"] for r in results[row]] for row in (AUTO, *FORCED)]
    spread = max(max(s) / min(s) - 1 for s in speeds)
    lines.append(f"project (auto) / best peer ({best_peer}): {mean(AUTO) / mean(best_peer):.2f}x "
                 f"(run by run: {run_by_run(AUTO, best_peer)})")
    lines.append(f"project (auto, {results[AUTO][0]['layout']}) / fastest forced layout ({fastest_forced}): "
                 f"{mean(AUTO) / mean(fastest_forced):.2f}x (run by run: {run_by_run(AUTO, fastest_forced)}; the "
                 f"project rows' own runs differ by up to {spread:.0%} in this run)")
    project_bf16, peer_bf16 = BF16_ROWS
    if project_bf16 in results:
        lines.append(f"bf16 autocast, a measured option (rows above it train in float32; its % is of the float32 peak): "
                     f"project (auto) bf16 / float32: {mean(project_bf16) / mean(AUTO):.2f}x; project bf16 / "
                     f"{peer_bf16}: {mean(project_bf16) / mean(peer_bf16):.2f}x")
    if all(row in results for row in MALLOC_ROWS):
        lines.append("freed memory kept (every other row) against glibc's malloc defaults: "
                     + "; ".join(f"{base}: {mean(base) / mean(row):.2f}x" for row, base in MALLOC_ROWS.items()))
    return lines


def breakdown_lines(parts: dict, batch: int, time_bins: int, unprofiled_ms: float) -> list[str]:
    """The profiled breakdown as a table whose last row is the whole step (100%)."""
    ms = lambda v: f"{v:.1f}" if v else "-"
    lines = [f"Where one training step of the project goes (torch.profiler over {parts['steps']} steps, batch {batch}, "
             f"T={time_bins}, {parts['layout']}; self CPU time of every op in the steps = 100%): "
             f"{parts['step_ms']:.0f} ms per profiled step, {unprofiled_ms:.0f} ms unprofiled (the auto row; "
             f"the profiler's own cost is inside the shares)",
             "| part | forward ms | backward ms | ms per step | share |", "|---|---|---|---|---|"]
    for group, g in parts["groups"].items():
        lines.append(f"| {group} | {ms(g['forward'])} | {ms(g['backward'])} | {g['total']:.1f} | {g['share']:.1%} |")
    total = lambda k: sum(g[k] for g in parts["groups"].values())
    lines.append(f"| the whole step | {ms(total('forward'))} | {ms(total('backward'))} | {parts['step_ms']:.1f} "
                 f"| {total('share'):.1%} |")
    return lines


def kernel_bound_line(parts: dict, whole_flops: float, peak: float, batch: int) -> str:
    """How far the step could go at its own convolutions' speed: every FLOP it counts is in the convolutions and the
    linear layer, so their GFLOP/s inside the profiled step bound the whole step's share of the peak."""
    kernel_ms = parts["groups"][step_costs.OP_GROUPS[0][0]]["total"]
    rate = batch * whole_flops / (kernel_ms / 1000)
    return (f"Bound at these kernels' speed: the convolutions and the linear layer hold every counted FLOP and ran "
            f"at {rate / 1e9:.0f} GFLOP/s inside the profiled step ({kernel_ms:.1f} ms per step), {rate / peak:.0%} "
            f"of the float32 peak; were pooling, neurons and everything else free, the step would reach that share "
            f"({1000 * batch / kernel_ms:.0f} training samples/s) and no more")


def in_own_process(row: str, batch: int, time_bins: int, env: dict | None = None) -> dict:
    """One row measured in a fresh process (its peak memory is its own); BenchmarkFailed, with the reason, if not."""
    done = subprocess.run([sys.executable, __file__, "--row", row, "--batch", str(batch), "--time-bins", str(time_bins)],
                          capture_output=True, text=True, cwd=PROJECT,
                          env={**os.environ, "PYTHONPATH": str(PROJECT), **(env or {})})
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        raise BenchmarkFailed(f"row {row!r} failed: {reason}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def round_order(rows: list[str], run: int) -> list[str]:
    """The rows in the order run ``run`` times them: every run visits every row once, so a slow spell of the machine
    (minutes long on a shared host) falls on one run of several rows, not on every run of one row, and run ``r`` of
    two rows can be compared as a pair. Run 0 keeps the table's order; later runs shuffle it (seeded by the run), so
    no row always follows the same one: a rotation would, and on the AMD EPYC the auto row then trailed the forced
    5-bin row, the same layout, in 6 runs of 6 (0.96x), while the two alternated alone read 0.98-1.06x."""
    return list(rows) if run == 0 else random.Random(run).sample(rows, len(rows))


def run_rows(args, rows: list[str], measure_row=None) -> dict[str, list[dict]]:
    """Every row, ``args.runs`` times, each run in its own process, the runs interleaved (:func:`round_order`);
    with ``--recalibrate`` the auto row's first run measures its layout again (the later runs and the breakdown
    then read that fresh choice)."""
    from common.machine import ENV_ALLOCATOR
    from common.networks.layout import ENV_TIME_CHUNK
    measure_row = measure_row or in_own_process
    results = {row: [] for row in rows}
    for run in range(args.runs):
        for row in round_order(rows, run):
            auto = row == AUTO or BF16_ROWS.get(row) == AUTO
            env = {ENV_ALLOCATOR: "default"} if row in MALLOC_ROWS else {}
            if auto and args.recalibrate and not run:
                env = {**env, ENV_TIME_CHUNK: "recalibrate"}
            results[row].append(measure_row(row, args.batch, args.time_bins, env))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-bins", type=int, default=T, help=f"time bins per sample (default {T}, the spec's); "
                        "fewer only to check the benchmark quickly")
    parser.add_argument("--recalibrate", action="store_true",
                        help="the auto layout measures its choice again instead of reading the cache")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.row:
        keep_freed_memory()     # every row alike (SNN_STUDY_MALLOC=default for the MALLOC_ROWS)
        print(json.dumps(breakdown(args.batch, args.time_bins) if args.row == "breakdown"
                         else measure(args.row, args.batch, args.time_bins)))
        return 0
    try:
        require_peers()
        report(args)
    except BenchmarkFailed as failure:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        return 1
    return 0


def report(args) -> None:
    """The machine's limit, the rows' table and the profiled breakdown, printed."""
    from common.machine import cpu_description
    from common.networks.layout import ENV_TIME_CHUNK
    forced = os.environ.get(ENV_TIME_CHUNK)
    print(f"{cpu_description()}; {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"batch {args.batch}, T={args.time_bins}" + (f"; ${ENV_TIME_CHUNK}={forced}" if forced else ""))
    flops = flops_per_sample(args.time_bins)
    # a machine shared with others gives a lower "peak" now and then: measure it on both sides of the rows
    peak_before = step_costs.gemm_peak(torch.float32)
    bf16_peak = step_costs.gemm_peak(torch.bfloat16) if step_costs.has_bf16(cpu_description()) else None
    results = run_rows(args, rows_here(cpu_description()))
    peaks = (peak_before, step_costs.gemm_peak(torch.float32))
    peak = max(peaks)
    print("\n".join(machine_limit_lines(flops, peaks, bf16_peak)))
    print("\n".join(table_lines(results, flops, peak)))
    auto = results[AUTO]
    unprofiled_ms = 1000 * args.batch * len(auto) / sum(r["samples_per_s"] for r in auto)
    parts = in_own_process("breakdown", args.batch, args.time_bins)
    print("\n" + "\n".join(breakdown_lines(parts, args.batch, args.time_bins, unprofiled_ms)))
    print(kernel_bound_line(parts, flops[AUTO], peak, args.batch))
    from benchmarks import readme
    from common.runs.records import git_commit
    path = readme.write_record(cpu_description(), args.batch, results, peaks, bf16_peak,
                               extra={"torch": torch.__version__, "threads": torch.get_num_threads(),
                                      "commit": git_commit(), "time_bins": args.time_bins})
    readme.write()
    print(f"recorded in {path.relative_to(PROJECT)}; benchmarks/README.md regenerated")


if __name__ == "__main__":
    sys.exit(main())
