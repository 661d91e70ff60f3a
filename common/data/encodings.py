"""Images to spike trains: ``encode(images) -> spikes [T, B, pixels]``, applied per batch on the fly.

Every code carries the pixel's *graded* intensity ``x`` in [0, 1] (uint8 / 255), and a dark pixel
(``x = 0``) never spikes:

- ``rate``: in every step a pixel spikes with probability ``x`` (Bernoulli, i.e. a discretised
  Poisson process): the spike *count* grows with intensity, the times are random;
- ``latency``: one spike per pixel, at step ``round((1 - x) * (T - 1))``: the brighter, the earlier;
- ``periodic``: a regular spike train whose *period* is ``1 / (x * max_rate)`` steps
  (a phase accumulator: the pixel spikes whenever ``floor(x * max_rate * (t + 1))`` increases),
  so a bright pixel fires often and a dim one rarely, deterministically.

The source study's codes collapsed to a binary threshold at 0.2 (a time constant in seconds used as
a number of steps); tests/test_encodings.py checks that two intensities give different statistics.

Randomness (rate code only): training batches draw from torch's global generator, which
``seed_everything`` seeds and ``common.fit`` saves and restores on resume. The test set is never
augmented, and its encoding is frozen: :class:`SpikeLoader` re-seeds a private generator at the start
of every pass, so each evaluation sees exactly the same spikes.
"""
from __future__ import annotations

import torch

from common.data.loader import TensorLoader

ENCODINGS = ("rate", "latency", "periodic")


def intensity(images: torch.Tensor) -> torch.Tensor:
    """uint8 (or float in [0, 1]) images ``[B, ...]`` -> float intensities ``[B, pixels]`` in [0, 1]."""
    x = images.float().div(255) if images.dtype == torch.uint8 else images.float()
    return x.flatten(1).clamp(0, 1)


def rate_code(x: torch.Tensor, n_steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    uniform = torch.rand((n_steps, *x.shape), generator=generator)   # Bernoulli(x), ~1.5x faster than
    return (uniform < x).float()                                       # torch.bernoulli on CPU


def latency_code(x: torch.Tensor, n_steps: int) -> torch.Tensor:
    times = torch.round((1 - x) * (n_steps - 1)).long()
    steps = torch.arange(n_steps).view(-1, *([1] * x.dim()))
    return ((steps == times) & (x > 0)).float()


def periodic_code(x: torch.Tensor, n_steps: int, max_rate: float = 1.0) -> torch.Tensor:
    rate = (x * max_rate).unsqueeze(0)                                   # spikes per step
    t = torch.arange(n_steps + 1, dtype=x.dtype).view(-1, *([1] * x.dim()))
    phase = torch.floor(rate * t + 1e-6)                                  # spikes emitted by step t
    return (phase[1:] - phase[:-1]).clamp(max=1)


def encode(images: torch.Tensor, encoding: str, n_steps: int, generator: torch.Generator | None = None,
           max_rate: float = 1.0) -> torch.Tensor:
    """``images [B, ...]`` (uint8 or [0, 1]) -> spikes ``[n_steps, B, pixels]`` (float 0/1)."""
    x = intensity(images)
    if encoding == "rate":
        return rate_code(x * max_rate, n_steps, generator)
    if encoding == "latency":
        return latency_code(x, n_steps)
    if encoding == "periodic":
        return periodic_code(x, n_steps, max_rate)
    raise ValueError(f"unknown encoding {encoding!r}; choose one of {ENCODINGS}")


class SpikeEncoder:
    """The model-input transform of a loader: ``encoder(uint8 batch) -> [T, B, pixels]`` spikes.

    ``seed=None`` draws from torch's global generator (training); an integer gives a private
    generator that :meth:`reset` returns to its start (frozen test encoding).
    """

    def __init__(self, encoding: str, n_steps: int, seed: int | None = None, max_rate: float = 1.0):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; choose one of {ENCODINGS}")
        self.encoding, self.n_steps, self.seed, self.max_rate = encoding, n_steps, seed, max_rate
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def reset(self) -> None:
        if self.seed is not None:
            self.generator.manual_seed(self.seed)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return encode(images, self.encoding, self.n_steps, self.generator, self.max_rate)


class SpikeLoader(TensorLoader):
    """A :class:`~common.data.loader.TensorLoader` whose transform is a :class:`SpikeEncoder`, reset every pass."""

    def __iter__(self):
        if isinstance(self.transform, SpikeEncoder):
            self.transform.reset()
        return super().__iter__()


def spike_loaders(name: str, encoding: str, n_steps: int, data_root, mirror=None, *, batch_size: int,
                  seed: int = 0, train_limit: int | None = None, test_limit: int | None = None,
                  max_rate: float = 1.0, download: bool = True):
    """Train and test loaders of spike trains, read through the same dataset reader as ``image_loaders``.

    Images stay uint8 in memory and are encoded batch by batch; the test set is not shuffled, not
    augmented, and its (rate) encoding is the same in every evaluation.
    """
    from common.data.images import load_image_dataset

    train = load_image_dataset(name, True, data_root, mirror, download, train_limit)
    test = load_image_dataset(name, False, data_root, mirror, download, test_limit)
    train_loader = SpikeLoader(train.images, train.labels, batch_size, shuffle=True,
                               transform=SpikeEncoder(encoding, n_steps, None, max_rate), seed=seed)
    test_loader = SpikeLoader(test.images, test.labels, 1000, shuffle=False,
                              transform=SpikeEncoder(encoding, n_steps, 10_000 + seed, max_rate))
    return train_loader, test_loader, train


def spike_data(name: str, encoding: str, n_steps: int, data_root, mirror=None, *, batch_size: int,
               seed: int = 0, **limits):
    """:func:`spike_loaders` as the runner takes them (common.data.images.ImageData)."""
    from common.data.images import ImageData

    train_loader, test_loader, train = spike_loaders(name, encoding, n_steps, data_root, mirror,
                                                     batch_size=batch_size, seed=seed, **limits)
    return ImageData(train, train_loader, test_loader)
