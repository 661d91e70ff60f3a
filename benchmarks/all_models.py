"""Speed of every run of the study: training samples/s in the project's loop, the memory a training step
keeps for its backward pass, inference latency.

    python benchmarks/all_models.py [--profile quick] [--batches 5] [--only NAME ...] [--with-source]

Each row is a spec of common/runs/specs.py under ``--profile`` (the notebooks' runs, and the LIF/ALIF grid's
headline cells), so the benchmark trains exactly what the notebooks train: the same model and arguments,
objective, time bins and batch size. It times ``--batches`` training steps through the shared core's loop
(common.runs.train.train_one_epoch: forward, loss, backward, AdamW step), then inference in eval mode:
milliseconds for one sample alone (batch 1, what a demo or Grad-CAM pays) and per sample within a batch
of 128 (throughput).

Inputs have the real shapes and input statistics (N-MNIST frames at the 3.9% of non-zero bins measured
on the real recordings, DVS Gesture frames at the 10.9% of the mirror's real clips at 32 x 32, MNIST-like
rate-coded spikes at 13% for the LIF/ALIF networks), drawn at random: on a CPU or GPU, dense arithmetic
costs the same whatever the values. ``--with-source`` then runs the N-MNIST source-vs-project training
comparison on real recordings (benchmarks/nmnist_training_speed.py, 1 epoch), the one source loop the
study copied faithfully.

Timings depend on machine load: run on an idle machine; the table states threads and device.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
from common.data.datasets import frame_side, is_images  # noqa: E402
from common.networks.lif_alif import SPIKE_TRAIN_MODELS  # noqa: E402
from common.runs.specs import SPECS, resolve  # noqa: E402
from common.runs.train import train_one_epoch  # noqa: E402

INFERENCE_BATCH = 128                         # throughput column: samples per forward pass
DENSITY = {"nmnist": 0.039, "dvsgesture": 0.109, "dvssign": 0.109, "spikes": 0.13}


def study_runs(profile: str) -> dict:
    """Every spec of the study under ``profile`` (one seed), and the LIF/ALIF grid's headline cells."""
    from common.runs.specs import profile_settings
    from common.runs.cells import GridContext
    from common.study.lif_alif import headline_cells, lif_alif_cell

    runs = {f"{name} (nb {spec.notebook})": resolve(name, profile) for name, spec in SPECS.items() if name != "lif_alif"}
    for kind, cell in headline_cells(profile_settings("lif_alif", profile)).items():
        runs[f"lif_alif {kind} (nb 07)"] = lif_alif_cell(cell).resolve(GridContext(profile))
    return runs


def make_input(spec, batch: int) -> torch.Tensor:
    """Random inputs with the shape and density the spec's model sees."""
    config = spec.config
    if config.model in SPIKE_TRAIN_MODELS:
        return (torch.rand(config.data.n_steps, batch, 784) < DENSITY["spikes"]).float()
    if not is_images(config.dataset):
        side = frame_side(config.dataset, config.data.target_size)
        return (torch.rand(config.data.n_time_bins, batch, 2, side, side) < DENSITY[config.dataset]).to(torch.uint8)
    return torch.randn(batch, 1, 28, 28)


def build(spec, device):
    return common.build_model(spec.config.model, **spec.config.model_kwargs).to(device)


def saved_for_backward_mb(model, objective, inputs, targets) -> float:
    """Megabytes of tensors one training step keeps for its backward pass (autograd's saved tensors, each
    storage counted once): the memory a training batch holds at its peak beside the fixed weights and optimizer
    state, the same measure on CPU and GPU (a CPU has no peak-allocation counter)."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = objective.loss(model(inputs), targets)
    loss.backward()
    return sum(storages.values()) / 2 ** 20


def training_speed(spec, n_batches: int, device) -> tuple[float, float]:
    """Samples/s over ``n_batches`` steps of the project's training loop at the spec's batch size, optimizer
    and learning rate (one warm-up step first), and :func:`saved_for_backward_mb` of one step."""
    model, batch = build(spec, device), spec.config.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.config.lr, weight_decay=spec.config.weight_decay)
    data = [(make_input(spec, batch), torch.randint(0, spec.config.model_kwargs.get("n_classes", 10), (batch,)))]
    objective = spec.build_objective()
    train_one_epoch(model, data, objective, optimizer, device, desc="warm-up")
    start = time.perf_counter()
    train_one_epoch(model, data * n_batches, objective, optimizer, device, desc=spec.config.run_name)
    speed = n_batches * batch / (time.perf_counter() - start)
    inputs, targets = data[0]
    return speed, saved_for_backward_mb(model.train(), objective, inputs.to(device), targets.to(device))


@torch.no_grad()
def inference_ms(spec, batch: int, device, repeats=5) -> float:
    """Median milliseconds per sample of a forward pass at ``batch`` (eval mode, no gradients)."""
    model = build(spec, device).eval()
    x = make_input(spec, batch).to(device)
    model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / batch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help="the profile whose specs are timed")
    parser.add_argument("--batches", type=int, default=5, help="timed training steps per model")
    parser.add_argument("--with-source", action="store_true", help="also run the N-MNIST source-loop comparison")
    parser.add_argument("--device", default=None, help="default: CUDA, then MPS, then CPU")
    parser.add_argument("--only", nargs="*", default=None, help="time only the specs whose name starts with these")
    args = parser.parse_args(argv)
    device = torch.device(args.device or common.pick_device())
    common.seed_everything(0)
    rows = []
    for name, spec in study_runs(args.profile).items():
        if args.only and not name.startswith(tuple(args.only)):
            continue
        steps = spec.config.data.n_time_bins or (spec.config.data.n_steps if spec.config.model == "rsnn" else "-")
        train, memory = training_speed(spec, args.batches, device)
        single = inference_ms(spec, 1, device)
        batched = inference_ms(spec, INFERENCE_BATCH, device)
        parameters = common.count_parameters(build(spec, "cpu"))
        rows.append(f"| {name} | {parameters:,} | {spec.config.batch_size} | {steps} | {train:,.0f} | {memory:,.0f} "
                    f"| {single:.2f} | {batched:.3f} |")
        print(rows[-1], flush=True)
    from common.machine import cpu_description
    print(f"\nEvery run of profile {args.profile}, project loop, {device} ({cpu_description()}), "
          f"{torch.get_num_threads()} threads, {args.batches} timed training batches each")
    print(f"| spec (notebook) | parameters | training batch | T | training samples/s | MB saved for backward "
          f"| inference ms (1 sample) | inference ms/sample (batch {INFERENCE_BATCH}) |\n|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if args.with_source:
        import nmnist_training_speed
        print("\nSource loop vs project loop, N-MNIST (real recordings):", flush=True)
        nmnist_training_speed.main(["--epochs", "1"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
