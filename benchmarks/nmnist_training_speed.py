"""Training speed on N-MNIST: the source study's loop against the project's, same model and data.

    python benchmarks/nmnist_training_speed.py [--epochs 3] [--limit 1000]

Both train the source study's spiking CNN (12C5-MP2-32C5-MP2-800FC10, beta 0.5, fast-sigmoid
slope 25, mse_count_loss(0.8, 0.2)) with T = 25 time bins, batch 128 and Adam(lr 2e-3) for the
same number of epochs on the same recordings, then are tested on the same test recordings.

- source: a faithful copy of the source notebook's loop: tonic Denoise + ToFrame applied on the
  fly in a DataLoader (PadTensors, batch_first=False), an nn.Sequential of snntorch
  Leaky(init_hidden=True) layers stepped over time in Python, reset per batch;
- project: frames binned once and cached as uint8 (common.data.events), the time-batched spiking CNN
  (common.networks.snn) and the shared training core (common.runs.train.fit).

Prints samples/s of each (training epochs only, and the project's including its one-time framing),
the ratio, test accuracies and the process's peak resident memory; and a ceiling: samples/s if a
training step cost nothing but the model's two convolutions (forward and backward, at the project's
memory layout), which no rewriting of the loop removes.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import snntorch as snn
import snntorch.functional as SF
import tonic
import torch
from snntorch import surrogate, utils
from torch import nn
from torch.utils.data import DataLoader, Subset

import common
from common.data.events import event_frames, event_loaders
from common.data.readers import balanced_subset, open_event_dataset
from common.networks.objectives import spike_count_mse

T, BATCH, LR, BETA = 25, 128, 2e-3, 0.5


def source_net() -> nn.Module:
    grad = surrogate.fast_sigmoid(slope=25)
    return nn.Sequential(
        nn.Conv2d(2, 12, 5), nn.MaxPool2d(2), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True),
        nn.Conv2d(12, 32, 5), nn.MaxPool2d(2), snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 10),
        snn.Leaky(beta=BETA, spike_grad=grad, init_hidden=True, output=True))


def source_forward(net, data):
    spikes = []
    utils.reset(net)
    for step in range(data.size(0)):
        spk, _ = net(data[step])
        spikes.append(spk)
    return torch.stack(spikes)


def source_loader(train: bool, indices, data_root, mirror, shuffle: bool):
    transform = tonic.transforms.Compose([
        tonic.transforms.Denoise(filter_time=10000),
        tonic.transforms.ToFrame(sensor_size=tonic.datasets.NMNIST.sensor_size, n_time_bins=T),
        lambda frames: torch.from_numpy(frames).float()])
    dataset = open_event_dataset("nmnist", train, data_root, mirror, transform=transform)
    return DataLoader(Subset(dataset, indices), batch_size=BATCH, shuffle=shuffle,
                      collate_fn=tonic.collation.PadTensors(batch_first=False))


def run_source(epochs, train_idx, test_idx, data_root, mirror) -> dict:
    common.seed_everything(0)
    net = source_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))
    loss_fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    loader = source_loader(True, train_idx, data_root, mirror, shuffle=True)
    start, n = time.perf_counter(), 0
    for epoch in range(epochs):
        net.train()
        for data, targets in loader:
            loss = loss_fn(source_forward(net, data), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n += len(targets)
        print(f"  source epoch {epoch + 1}: {n / (time.perf_counter() - start):.1f} samples/s", flush=True)
    seconds = time.perf_counter() - start
    correct = total = 0
    net.eval()
    with torch.no_grad():
        for data, targets in source_loader(False, test_idx, data_root, mirror, shuffle=False):
            correct += (source_forward(net, data).sum(0).argmax(1) == targets).sum().item()
            total += len(targets)
    return {"samples_per_s": n / seconds, "seconds": seconds, "test_accuracy": correct / total}


def run_project(epochs, limit, data_root, mirror) -> dict:
    start = time.perf_counter()
    train = event_frames("nmnist", True, T, data_root, mirror, limit=limit)
    test = event_frames("nmnist", False, T, data_root, mirror)
    framing = time.perf_counter() - start
    common.seed_everything(0)
    config = common.RunConfig("bench_scnn", "nmnist", "scnn", {"beta": BETA}, profile="quick",
                              epochs=epochs, batch_size=BATCH, lr=LR, device="cpu",
                              output_root=str(Path(data_root) / "out"))
    train_loader, test_loader = event_loaders(train, test, batch_size=BATCH, seed=0)
    model = common.build_model("scnn", beta=BETA)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999))
    outcome = common.fit(model, config, train_loader, test_loader, spike_count_mse(), optimizer,
                         evaluate_every_epoch=False)
    n = sum(r["train_samples_per_s"] * r["train_seconds"] for r in outcome["history"])
    return {"samples_per_s": n / outcome["train_seconds"], "seconds": outcome["train_seconds"],
            "framing_seconds": framing, "samples_per_s_with_framing": n / (outcome["train_seconds"] + framing),
            "test_accuracy": outcome["test"]["accuracy"], "n_train": len(train.labels), "n_test": len(test.labels)}


def convolution_ceiling(repeats: int = 3) -> float:
    """Samples/s of the two convolutions alone (forward + backward of one batch, median of ``repeats``)."""
    model = common.build_model("scnn", beta=BETA)
    frames = torch.rand(T * BATCH, 2, 34, 34).lt(0.04).float().contiguous(memory_format=torch.channels_last)
    spikes = torch.rand(T * BATCH, 12, 15, 15).lt(0.15).float().contiguous(memory_format=torch.channels_last)
    spikes.requires_grad_()                    # conv2's input gradient is needed to train conv1
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for conv, x in ((model.conv1, frames), (model.conv2, spikes)):
            out = conv(x)
            out.backward(torch.ones_like(out))
        times.append(time.perf_counter() - start)
    return BATCH / sorted(times[1:])[len(times[1:]) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=1000, help="training recordings")
    parser.add_argument("--mirror", default=None, help="dataset mirror (default $SNN_DATA_MIRROR)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as data_root:
        mirror = common.config.resolve_locations(mirror=args.mirror)[1]
        print(f"project loop ({args.epochs} epochs, T={T}, batch {BATCH}) ...", flush=True)
        project = run_project(args.epochs, args.limit, data_root, mirror)
        # The source loop trains on the very recordings the project loop framed (same subset).
        train_ds = open_event_dataset("nmnist", True, data_root, mirror)
        chosen = balanced_subset(train_ds.targets, args.limit)
        test_idx = list(range(len(open_event_dataset("nmnist", False, data_root, mirror).targets)))
        print(f"source loop ({args.epochs} epochs) ...", flush=True)
        source = run_source(args.epochs, chosen, test_idx, data_root, mirror)
    ceiling = convolution_ceiling()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nN-MNIST, {project['n_train']} training / {project['n_test']} test recordings, "
          f"{args.epochs} epochs, {torch.get_num_threads()} threads")
    print(f"| loop | training samples/s | train time | test accuracy |\n|---|---|---|---|")
    print(f"| source (on-the-fly framing, stepped nn.Sequential) | {source['samples_per_s']:.1f} "
          f"| {source['seconds']:.1f} s | {source['test_accuracy']:.2%} |")
    print(f"| project (cached uint8 frames, time-batched SCNN) | {project['samples_per_s']:.1f} "
          f"| {project['seconds']:.1f} s | {project['test_accuracy']:.2%} |")
    print(f"speed-up: {project['samples_per_s'] / source['samples_per_s']:.1f}x "
          f"({project['samples_per_s_with_framing'] / source['samples_per_s']:.1f}x counting the "
          f"project's one-time framing of {project['framing_seconds']:.1f} s)")
    print(f"ceiling: the two convolutions alone (forward + backward, no pooling, neurons, loss or optimizer) "
          f"run at {ceiling:.1f} samples/s = {ceiling / source['samples_per_s']:.1f}x the source loop")
    print(f"peak resident memory of this process: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
