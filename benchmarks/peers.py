"""Training throughput of the project's spiking CNN against the peers a user would pick instead.

    python benchmarks/peers.py [--batch 128] [--runs 3]

Same model everywhere, the spec ``scnn_nmnist_beta0.5`` of notebook 02 (common/runs/specs.py, quick profile):
12C5-MP2-32C5-MP2-800FC10, beta 0.5, fast-sigmoid surrogate of slope 25, threshold 1, reset by subtraction,
T = 25; random frames at N-MNIST density (~4% of pixel-bins active, counts 1-3), Adam at the spec's learning
rate, snntorch's spike-count MSE; ``--batch`` (default 128, where the peers were first compared; the spec
trains at 32); 2 warm-up steps then 6 timed steps, ``--runs`` times, each row in
its own process so its peak memory is its own:

- project: ``common.build_model("scnn")`` with the layout it chooses itself (common/networks/layout.py), and with
  each layout forced (chunks of 1, 5 and all time bins per convolution call);
- snntorch: ``Leaky`` layers in an ``nn.Sequential`` stepped over frames already in memory;
- spikingjelly 2.0 multi-step: ``layer.*`` and ``neuron.LIFNode`` with ``step_mode="m"`` (torch backend;
  ``pip install --no-deps spikingjelly==2.0.0 loguru``: it declares torchaudio too);
- ceiling: the model's two convolution stages alone (conv + pool, forward and backward), in their fastest
  layout: what no rewriting of the rest removes.

Prints samples/s per row, each row's ratio to the project (auto) and the project's ratio to the best peer
and to the ceiling, the chosen layout and the CPU's vector extensions; then where one training step of the
project goes (convolutions, pooling, neurons and the rest, loss, optimizer).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from common.runs.specs import resolve  # noqa: E402

SPEC = resolve("scnn_nmnist_beta0.5", "quick")      # the network, T and lr of notebook 02
T, BETA, LR = SPEC.settings["n_time_bins"], SPEC.config.model_kwargs["beta"], SPEC.config.lr
ROWS = ["project (auto layout)", "project, 1 bin per call", "project, 5 bins per call", "project, all bins per call",
        "snntorch Leaky stepped over frames in memory", "spikingjelly 2.0 multi-step (torch backend)",
        "ceiling: the two conv stages alone, fastest layout"]


def frames(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    active = torch.rand(T, batch, 2, 34, 34, generator=g) < 0.04
    return active * torch.randint(1, 4, active.shape, generator=g), torch.randint(0, 10, (batch,), generator=g)


def snntorch_net():
    import snntorch as snn
    from snntorch import surrogate
    grad = surrogate.fast_sigmoid(slope=25)
    return nn.Sequential(
        nn.Conv2d(2, 12, 5), nn.MaxPool2d(2), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True),
        nn.Conv2d(12, 32, 5), nn.MaxPool2d(2), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True),
        nn.Flatten(), nn.Linear(800, 10), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True, output=True))


def spikingjelly_net():
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
    if row.startswith("project"):
        model = common.build_model("scnn", beta=BETA)
        model.time_chunk = {"project, 1 bin per call": 1, "project, 5 bins per call": 5,
                            "project, all bins per call": None}.get(row, "auto")
        return model, model
    if row.startswith("snntorch"):
        from snntorch import utils
        model = snntorch_net()

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


def ceiling_step(batch: int):
    """The project's two conv stages alone, in their fastest chunk (measured here)."""
    import common
    from common.networks import layout
    model = common.build_model("scnn", beta=BETA).train()
    x, _ = frames(batch)
    timings = layout.ceiling(model, x.float())
    best = min(timings, key=timings.get)
    return batch / timings[best], best


def breakdown(batch: int) -> dict:
    """Where one training step of the project (auto layout) goes, in seconds: convolutions, pooling (both
    forward and backward, from the conv stages timed alone at the chosen chunk), neurons and the rest of
    forward and backward, loss, optimizer. Medians over 6 steps after 2 warm-up steps."""
    from common.networks import layout
    from common.networks.objectives import spike_count_mse

    torch.manual_seed(0)
    model, _ = step_fn("project (auto layout)")
    model.train()
    objective, optimizer = spike_count_mse(), torch.optim.Adam(model.parameters(), lr=LR)
    x, labels = frames(batch)
    x = x.float()
    phases = {"forward": [], "loss": [], "backward": [], "optimizer": []}
    for i in range(8):
        marks = [time.perf_counter()]
        output = model(x)
        marks.append(time.perf_counter())
        loss = objective.loss(output, labels)
        marks.append(time.perf_counter())
        optimizer.zero_grad()
        loss.backward()
        marks.append(time.perf_counter())
        optimizer.step()
        marks.append(time.perf_counter())
        if i >= 2:
            for (name, times), a, b in zip(phases.items(), marks, marks[1:]):
                times.append(b - a)
    median = {name: sorted(times)[len(times) // 2] for name, times in phases.items()}
    chunk = layout.time_chunk(model, x)
    stages = layout._stages_time(model, x, chunk)          # conv + pool of both stages, forward and backward
    T, B = x.shape[:2]
    rows = (chunk or T) * B                                # samples per pooling call, as conv_over_time makes them
    chunks = [torch.rand(min(rows, T * B - start), *shape).contiguous(memory_format=torch.channels_last).requires_grad_()
              for shape in ((12, 30, 30), (32, 11, 11)) for start in range(0, T * B, rows)]   # the convs' outputs

    def pool_step():                                       # the pooling alone, forward and backward, on those shapes
        for y in chunks:
            model.pool(y).sum().backward()
    pooling = layout._median_seconds(pool_step)
    return {"convolutions": stages - pooling, "pooling": pooling,
            "neurons and the rest of forward + backward": median["forward"] + median["backward"] - stages,
            "loss": median["loss"], "optimizer (Adam)": median["optimizer"],
            "step": sum(median.values()), "layout": f"{chunk or 'all'} bin(s) per call"}


def measure(row: str, batch: int) -> dict:
    torch.manual_seed(0)
    if row.startswith("ceiling"):
        samples_per_s, best = ceiling_step(batch)
        return {"row": row, "samples_per_s": samples_per_s, "layout": best,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    from common.networks.objectives import spike_count_mse
    model, forward = step_fn(row)
    model.train()
    objective = spike_count_mse()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    x, labels = frames(batch)
    x = x.float()
    times = []
    for i in range(8):
        start = time.perf_counter()
        loss = objective.loss(forward(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    from common.networks import layout
    chosen = getattr(model, "time_chunk", None)
    if chosen == "auto":
        chosen = layout.time_chunk(model, x)
    return {"row": row, "samples_per_s": batch * len(times) / sum(times),
            "layout": (f"{chosen or 'all'} bin(s) per call" if row.startswith("project") else ""),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.row:
        print(json.dumps(breakdown(args.batch) if args.row == "breakdown" else measure(args.row, args.batch)))
        return 0
    from common.machine import cpu_description
    print(f"{cpu_description()}; {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"batch {args.batch}, T={T}")
    results = {}
    for row in ROWS:
        runs = []
        for _ in range(args.runs):
            run = in_own_process(row, args.batch)
            if run is None:
                runs = None
                break
            runs.append(run)
        if runs:
            results[row] = runs
    project = results["project (auto layout)"]
    mean = lambda row: sum(r["samples_per_s"] for r in results[row]) / len(results[row])
    ceiling = mean(ROWS[-1]) if ROWS[-1] in results else float("nan")
    print("| row | training samples/s (each run) | x project (auto) | x ceiling | layout | peak MB |\n"
          "|---|---|---|---|---|---|")
    for row, runs in results.items():
        each = " / ".join(f"{r['samples_per_s']:.0f}" for r in runs)
        print(f"| {row} | {each} | {mean(row) / mean(ROWS[0]):.2f} | {mean(row) / ceiling:.2f} "
              f"| {runs[0]['layout']} | {max(r['peak_mb'] for r in runs):.0f} |")
    peers = [row for row in results if row.startswith(("snntorch", "spikingjelly"))]
    best = max(peers, key=mean) if peers else None
    if best:
        print(f"project (auto) / best peer ({best}): {mean(ROWS[0]) / mean(best):.2f}x")
    if ROWS[-1] in results:
        print(f"project (auto) / ceiling: {mean(ROWS[0]) / mean(ROWS[-1]):.0%}; chosen layout: {project[0]['layout']}")
    parts = in_own_process("breakdown", args.batch)
    if parts:
        step = parts.pop("step")
        print(f"\nWhere one training step of the project goes (batch {args.batch}, {parts.pop('layout')}; "
              f"{1000 * step:.0f} ms per step):\n| part | ms per step | share |\n|---|---|---|")
        for part, seconds in parts.items():
            print(f"| {part} | {1000 * seconds:.0f} | {seconds / step:.0%} |")
    return 0


def in_own_process(row: str, batch: int) -> dict | None:
    """One row measured in a fresh process (its peak memory is its own); None, with the reason, if it failed."""
    done = subprocess.run([sys.executable, __file__, "--row", row, "--batch", str(batch)],
                          capture_output=True, text=True, cwd=PROJECT, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    if done.returncode != 0:
        print(f"{row}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no output'})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
