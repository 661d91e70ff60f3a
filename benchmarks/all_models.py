"""Speed of every model in the study: training samples/s in the project's loop, inference latency.

    python benchmarks/all_models.py [--batches 5] [--with-source]

For each model as the notebooks train it (same architecture, objective, T, batch size), times
``--batches`` training steps through the shared core's loop (common.train.train_one_epoch: forward,
loss, backward, AdamW step), then inference in eval mode: milliseconds for one sample alone
(batch 1, what a demo or Grad-CAM pays) and per sample within a batch of 128 (throughput).

Inputs have the real shapes and input statistics (N-MNIST frames at the 3.9% of non-zero bins
measured on the real recordings; MNIST-like rate-coded spikes at 13% for the LIF/ALIF networks),
drawn at random: on a CPU or GPU, dense arithmetic costs the same whatever the values, and DVS
Gesture has no data on this machine. ``--with-source`` then runs the N-MNIST source-vs-project
training comparison on real recordings (benchmarks/nmnist_training_speed.py, 1 epoch), the one
source loop the study copied faithfully.

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
from common.objectives import CROSS_ENTROPY, spike_count_mse  # noqa: E402
from common.train import train_one_epoch  # noqa: E402

BATCH = 128


def images(batch: int) -> torch.Tensor:
    return torch.randn(batch, 1, 28, 28)


def event_frames(batch: int, n_time_bins: int = 25, side: int = 34) -> torch.Tensor:
    return (torch.rand(n_time_bins, batch, 2, side, side) < 0.039).to(torch.uint8)


def spike_trains(batch: int, n_steps: int = 10) -> torch.Tensor:
    return (torch.rand(n_steps, batch, 784) < 0.13).float()


# name -> (registry name, model kwargs, objective, input maker, training batch); as the notebooks use them
MODELS = {
    "cnn (MNIST, nb 01)": ("cnn", {}, CROSS_ENTROPY, images, BATCH),
    "scnn beta 0.5 (N-MNIST T=25, nb 02)": ("scnn", {"beta": 0.5}, spike_count_mse(), event_frames, BATCH),
    "scnn population 10/class (N-MNIST, nb 04)": ("scnn", {"beta": 0.5, "population_size": 10},
                                                  spike_count_mse(population_size=10), event_frames, BATCH),
    "scnn (DVS Gesture 32x32 T=25, nb 05)": ("scnn", {"n_classes": 11, "input_size": 32},
                                            spike_count_mse(n_classes=11), lambda b: event_frames(b, side=32), 32),
    "slstm (DVS Gesture 32x32 T=25, nb 06)": ("slstm", {"n_classes": 11, "input_size": 32},
                                             spike_count_mse(n_classes=11), lambda b: event_frames(b, side=32), 32),
    "rsnn LIF 256 (MNIST T=10, nb 07)": ("rsnn", {"neuron": "lif", "hidden": 256, "learn_beta": True},
                                         CROSS_ENTROPY, spike_trains, BATCH),
    "rsnn ALIF 256 (MNIST T=10, nb 07)": ("rsnn", {"neuron": "alif", "hidden": 256, "learn_beta": True},
                                          CROSS_ENTROPY, spike_trains, BATCH),
    "mlp 256 (MNIST, nb 07)": ("mlp", {"hidden": 256}, CROSS_ENTROPY, lambda b: images(b).flatten(1), BATCH),
}


def n_classes(kwargs: dict) -> int:
    return kwargs.get("n_classes", 10)


def training_speed(registry_name, kwargs, objective, make_input, batch, n_batches, device) -> float:
    """Samples/s over ``n_batches`` steps of the project's training loop (one warm-up step first)."""
    model = common.build_model(registry_name, **kwargs).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = [(make_input(batch), torch.randint(0, n_classes(kwargs), (batch,)))]
    train_one_epoch(model, data, objective, optimizer, device, desc="warm-up")
    start = time.perf_counter()
    train_one_epoch(model, data * n_batches, objective, optimizer, device, desc=registry_name)
    return n_batches * batch / (time.perf_counter() - start)


@torch.no_grad()
def inference_ms(registry_name, kwargs, make_input, batch, device, repeats=5) -> float:
    """Median milliseconds per sample of a forward pass at ``batch`` (eval mode, no gradients)."""
    model = common.build_model(registry_name, **kwargs).to(device).eval()
    x = make_input(batch).to(device)
    model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / batch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=5, help="timed training steps per model")
    parser.add_argument("--with-source", action="store_true", help="also run the N-MNIST source-loop comparison")
    parser.add_argument("--device", default=None, help="default: CUDA, then MPS, then CPU")
    args = parser.parse_args(argv)
    device = torch.device(args.device or common.pick_device())
    common.seed_everything(0)
    rows = []
    for name, (registry_name, kwargs, objective, make_input, batch) in MODELS.items():
        train = training_speed(registry_name, kwargs, objective, make_input, batch, args.batches, device)
        single = inference_ms(registry_name, kwargs, make_input, 1, device)
        batched = inference_ms(registry_name, kwargs, make_input, BATCH, device)
        rows.append(f"| {name} | {batch} | {train:,.0f} | {single:.2f} | {batched:.3f} |")
        print(rows[-1], flush=True)
    print(f"\nEvery model, project loop, {device}, {torch.get_num_threads()} threads, "
          f"{args.batches} timed training batches each")
    print("| model | training batch | training samples/s | inference ms (1 sample) "
          "| inference ms/sample (batch 128) |\n|---|---|---|---|---|")
    print("\n".join(rows))
    if args.with_source:
        import nmnist_training_speed
        print("\nSource loop vs project loop, N-MNIST (real recordings):", flush=True)
        nmnist_training_speed.main(["--epochs", "1"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
