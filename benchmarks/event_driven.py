"""Inference that follows sparsity: the spiking CNN run event by event, against its dense forward pass.

    python benchmarks/event_driven.py [--samples 100] [--fractions 1 0.5 0.25 0.1]

Issue #27's stretch. Notebook 08 measures the spiking CNN at over 1 ms per sample while most of its layer inputs are
zeros. Here the same trained network (``models/scnn_nmnist_beta0.8-quick.pth``, notebook 03) answers the real N-MNIST
test recordings of the data mirror two ways, one sample at a time, one thread each:

- dense: the model's own forward pass (common.networks.snn.SpikingCNN, eval mode, batch 1; and, for scale, all the
  samples in one batch, the throughput a batch buys);
- event-driven (numba): per time bin, the first convolution adds its kernel's column for every non-zero input pixel
  (the event list), the second for every spike of the first spiking layer, the linear layer for every spike of the
  second; pooling and the membrane updates stay dense (a few thousand neurons).

Both compute the same function; they sum in different orders, so a membrane within rounding of the threshold can
spike in one and not the other: the table gives the fraction of samples whose answer agrees. Density is varied by
thinning each recording's events (each count kept with probability ``fraction``, binomially), so the table shows
where (input density) each path is faster. tests/test_event_driven.py checks that both give the same spikes where
the arithmetic is exact.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
SPEC = "scnn_nmnist_beta0.8"        # notebook 03's network, saved in models/


@numba.njit(cache=True)
def _add_columns(inputs, w, bias, cur):
    """``cur`` ``[h, h, K]`` = the bias, plus ``v * w[c, ky, kx, :]`` at ``(y - ky, x - kx)`` for every non-zero
    ``v = inputs[y, x, c]`` (an input event, or a spike): a 5 x 5 convolution computed from its non-zero inputs."""
    h = cur.shape[0]
    for oy in range(h):
        for ox in range(h):
            cur[oy, ox, :] = bias
    for y in range(inputs.shape[0]):
        for x in range(inputs.shape[1]):
            for c in range(inputs.shape[2]):
                v = inputs[y, x, c]
                if v == 0:
                    continue
                for ky in range(5):
                    oy = y - ky
                    if 0 <= oy < h:
                        for kx in range(5):
                            ox = x - kx
                            if 0 <= ox < h:
                                for k in range(cur.shape[2]):   # a loop, not an array expression: no temporary
                                    cur[oy, ox, k] += v * w[c, ky, kx, k]


@numba.njit(cache=True)
def _pool_and_fire(cur, mem, spk, beta, threshold):
    """2 x 2 max-pooling of ``cur`` ``[h, h, K]`` (an odd last row and column dropped, as MaxPool2d does), then one
    leaky integrate-and-fire step of ``mem`` and ``spk`` ``[h // 2, h // 2, K]``, in place."""
    for py in range(mem.shape[0]):
        for px in range(mem.shape[1]):
            for k in range(mem.shape[2]):
                m = max(max(cur[2 * py, 2 * px, k], cur[2 * py, 2 * px + 1, k]),
                        max(cur[2 * py + 1, 2 * px, k], cur[2 * py + 1, 2 * px + 1, k]))
                mem[py, px, k] = beta * mem[py, px, k] + m - threshold * spk[py, px, k]
                spk[py, px, k] = 1.0 if mem[py, px, k] > threshold else 0.0


@numba.njit(cache=True)
def _event_driven(frames, w1, b1, w2, b2, w3, b3, beta, threshold):
    """Output spikes ``[T, n_out]`` of one sample ``frames`` ``[T, H, W, C]``. ``w1`` ``[C, 5, 5, 12]`` and ``w2``
    ``[12, 5, 5, 32]``: each input position's kernel column, output channels last; ``w3`` ``[800, n_out]``."""
    T, H = frames.shape[0], frames.shape[1]
    c1, c2, n_out = w1.shape[3], w2.shape[3], w3.shape[1]
    h1, h2 = H - 4, (H - 4) // 2 - 4                # conv outputs: 30, 11
    p1, p2 = h1 // 2, h2 // 2                        # pooled: 15, 5
    cur1, cur2 = np.empty((h1, h1, c1), np.float32), np.empty((h2, h2, c2), np.float32)
    mem1, spk1 = np.zeros((p1, p1, c1), np.float32), np.zeros((p1, p1, c1), np.float32)
    mem2, spk2 = np.zeros((p2, p2, c2), np.float32), np.zeros((p2, p2, c2), np.float32)
    mem3, spk3 = np.zeros(n_out, np.float32), np.zeros(n_out, np.float32)
    cur3, out = np.empty(n_out, np.float32), np.zeros((T, n_out), np.float32)
    for t in range(T):
        _add_columns(frames[t], w1, b1, cur1)        # conv1 from the bin's input events
        _pool_and_fire(cur1, mem1, spk1, beta, threshold)
        _add_columns(spk1, w2, b2, cur2)             # conv2 from the first layer's spikes
        _pool_and_fire(cur2, mem2, spk2, beta, threshold)
        cur3[:] = b3                                  # the linear layer: a weight row per spike (flattened [K, h, w])
        for py in range(p2):
            for px in range(p2):
                for k in range(c2):
                    if spk2[py, px, k] != 0:
                        for j in range(n_out):
                            cur3[j] += w3[(k * p2 + py) * p2 + px, j]
        for j in range(n_out):
            mem3[j] = beta * mem3[j] + cur3[j] - threshold * spk3[j]
            spk3[j] = 1.0 if mem3[j] > threshold else 0.0
            out[t, j] = spk3[j]
    return out


class EventDriven:
    """A trained :class:`~common.networks.snn.SpikingCNN` (one fixed beta for its layers) as the event-driven kernel
    takes it; ``__call__(frames [T, C, H, W]) -> output spikes [T, n_out]`` (numpy, the transpose to channels last
    inside the timing)."""

    def __init__(self, model):
        decays = set(model.decays().values())
        if len(decays) != 1:
            raise ValueError(f"the event-driven path takes one beta for every layer, got {model.decays()}")
        as_array = lambda t: np.ascontiguousarray(t.detach().float().numpy())
        self.w1 = as_array(model.conv1.weight.permute(1, 2, 3, 0))
        self.w2 = as_array(model.conv2.weight.permute(1, 2, 3, 0))
        self.w3 = as_array(model.fc.weight.t())
        self.b1, self.b2, self.b3 = (as_array(layer.bias) for layer in (model.conv1, model.conv2, model.fc))
        self.beta, self.threshold = np.float32(decays.pop()), np.float32(model.threshold)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        channels_last = np.ascontiguousarray(frames.transpose(0, 2, 3, 1), dtype=np.float32)   # [T, H, W, C]
        return _event_driven(channels_last, self.w1, self.b1, self.w2, self.b2,
                             self.w3, self.b3, self.beta, self.threshold)


def dense(model, frames: np.ndarray) -> np.ndarray:
    """The model's own forward pass on one sample: output spikes ``[T, n_out]``."""
    with torch.no_grad():
        return model(torch.from_numpy(frames).unsqueeze(1).float())[:, 0].numpy()


def dense_batched(model, samples: list[np.ndarray]) -> float:
    """Milliseconds per sample of the dense forward pass over all the samples in one batch (throughput, not latency)."""
    with torch.no_grad():
        x = torch.from_numpy(np.stack(samples, axis=1))
        model(x)
        start = time.perf_counter()
        model(x)
        return 1000 * (time.perf_counter() - start) / len(samples)


def thinned(frames: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Each event of the count frames kept with probability ``fraction``."""
    return frames if fraction == 1 else rng.binomial(frames.astype(np.int64), fraction).astype(np.float32)


def time_per_sample(run, samples: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    """Median milliseconds per sample over the samples (each run once, after one warm-up run), and the outputs."""
    run(samples[0])
    times, outputs = [], []
    for frames in samples:
        start = time.perf_counter()
        outputs.append(run(frames))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), outputs


def answers(outputs: list[np.ndarray]) -> np.ndarray:
    """Each sample's answer: the class with most output spikes (lowest index on a tie)."""
    return np.array([int(np.argmax(o.sum(0))) for o in outputs])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100, help="real test recordings (the mirror has 100)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.1],
                        help="fractions of each recording's events kept")
    args = parser.parse_args(argv)
    from common.data.errors import DatasetNotFoundError
    from common.machine import cpu_description
    from common.runs.checkpoint import CheckpointError, load_run_model
    from common.runs.runner import load_data
    from common.runs.specs import resolve

    torch.set_num_threads(1)            # one thread each: numba's kernel runs on one
    config = resolve(SPEC, "quick").config
    try:
        model, _ = load_run_model(config, "cpu")
        test = load_data(config).test
    except (DatasetNotFoundError, CheckpointError, FileNotFoundError) as problem:
        print(f"event-driven benchmark: {problem}", file=sys.stderr)
        return 1
    recordings = [frames.float().numpy() for frames in test.frames[: args.samples]]
    labels = test.labels[: args.samples].numpy()
    event_driven, rng = EventDriven(model), np.random.default_rng(0)
    print(f"{cpu_description()}; torch {torch.__version__}, numba {numba.__version__}, 1 thread each; "
          f"{SPEC} (quick), {len(recordings)} real N-MNIST test recordings, T={recordings[0].shape[0]}")
    print("| events kept | input bins non-zero | layer-1 spikes per bin | dense ms/sample | event-driven ms/sample "
          "| dense / event-driven | same answer | accuracy dense / event-driven | dense in one batch ms/sample |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for fraction in args.fractions:
        samples = [thinned(r, fraction, rng) for r in recordings]
        dense_ms, dense_out = time_per_sample(lambda f: dense(model, f), samples)
        events_ms, events_out = time_per_sample(event_driven, samples)
        density = np.mean([np.count_nonzero(s) / s.size for s in samples])
        layer1 = model.spike_counts["lif1"] / samples[0].shape[0]       # of the last dense call, per time bin
        agree = np.mean(answers(dense_out) == answers(events_out))
        accuracy = [np.mean(answers(out) == labels) for out in (dense_out, events_out)]
        print(f"| {fraction:.0%} | {density:.1%} | {layer1:.0f} (last sample) | {dense_ms:.2f} | {events_ms:.2f} | "
              f"{dense_ms / events_ms:.2f}x | {agree:.0%} | {accuracy[0]:.0%} / {accuracy[1]:.0%} | "
              f"{dense_batched(model, samples):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
