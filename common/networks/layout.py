"""How the spiking CNN runs its convolutions over time, chosen by measurement on the machine at hand.

Convolution and pooling carry no state, so the spiking CNN may apply them to several time bins in one
call (``[chunk * B, C, H, W]``). All 25 bins at once makes tensors of ~140 MB per layer at batch 128,
which leave the cache; one bin per call keeps them in it but pays a call per bin. Which wins depends on
the CPU (AVX2 or AVX-512), on CUDA and on the batch size, so it is not assumed: the first training step
of a shape times the whole model's forward and backward for chunks of 1, 5 and all bins.

A measurement can be fooled (the candidate timed first pays the warm-up; a busy machine slows one
candidate's turn), so :func:`calibrate` warms every candidate up first, then times them interleaved over
several rounds, each round in another order, and :func:`choose` keeps the fastest median only when its
spread is clear of the runner-up's. When the spreads overlap it refuses to decide and takes
:func:`default_chunk` (5 bins, or 1 above a batch of 64). The choice is cached per machine, shape, torch release
and calibration version in ``~/.cache/snn-study/time_chunk.json`` (an entry of another version is measured again);
``SNN_TIME_CHUNK=1|5|all`` forces one (and skips calibration), ``SNN_TIME_CHUNK=recalibrate`` measures again
and replaces the cached entry. A cached choice is also measured again, once per process, when training's own
steps run far slower than the calibration said (:func:`_steps_too_slow`: the cache came from a busy spell, or the
machine changed under the same name). Every chunk gives the same spikes and loss to float tolerance (tests/test_snn.py).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import torch

from common.machine import cpu_description

ENV_TIME_CHUNK = "SNN_TIME_CHUNK"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "snn-study" / "time_chunk.json"
CANDIDATES = (1, 5, None)   # None: every time bin in one call
# When the measurement cannot tell the candidates apart, the layout of highest geometric mean over the benchmarks
# since the step's fixes on both machine kinds at hand (2-core AMD EPYC and Intel Xeon, both AVX-512; each layout
# relative to the three's mean, benchmarks/peers.py, benchmarks/LATEST.md 2026-12-03/04): 1 bin per call at batch
# 128 (1.026, against 0.993 for 5 bins and 0.981 for all; 11 benchmarks), 5 bins at batch 32 (1.022, against 0.990
# for 1 and 0.988 for all; 7). Neither lead is significant over benchmarks (paired t-test of the 1- against the
# 5-bin log ratio, p = 0.18 and 0.21): the layouts are within a few % of each other, and the default only takes
# the likelier one. Before the fixes 5 bins led by 1.7x (issue #27).
DEFAULT_CHUNK = 5               # batches up to 64
DEFAULT_CHUNK_LARGE_BATCH = 1   # batches above 64
# bump when calibrate/choose change, or what the layouts cost (3: chunks by split, freed memory kept; 4: the default
# depends on the batch): older cached choices are measured again
CALIBRATION_VERSION = 4
ROUNDS = 5                  # timed rounds per candidate, interleaved
# A training step (data, forward, backward, optimizer) costs ~1.1x the calibrated forward + backward of its chunk
# (2-core EPYC, batch 128: 920 ms a step against 863-998 ms calibrated); a median step this many times the
# calibrated one, over STEPS_WATCHED steps, says the cached figure no longer describes the machine.
SLOWER_THAN_CALIBRATED = 2.5
STEPS_WATCHED = 20
_memory: dict[str, int | None] = {}
_calibrated_seconds: dict[str, float] = {}   # per shape key: the chosen chunk's calibrated forward + backward
_step_starts: dict[str, list[float]] = {}    # per shape key: when each training forward of this process began
_rechecked: set[str] = set()
_clock = time.perf_counter                     # the step watch's clock (a test gives its own)


def _asked() -> str:
    """What $SNN_TIME_CHUNK asks for: "" (choose), "recalibrate", "all" or a chunk."""
    return os.environ.get(ENV_TIME_CHUNK, "").strip().lower()


def forced() -> tuple[bool, int | None]:
    """(True, chunk) when $SNN_TIME_CHUNK sets the chunk, else (False, None)."""
    value = _asked()
    if not value or value == "recalibrate":
        return False, None
    if value == "all":
        return True, None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${ENV_TIME_CHUNK} must be a positive integer or 'all', got {value!r}")
    return True, int(value)


def machine_key(device: torch.device) -> str:
    """The CPU (or the CUDA device), the threads torch uses, and the torch release."""
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{cpu_description()} threads={torch.get_num_threads()}")
    return f"{device.type}|{name}|torch {torch.__version__}"


def _median_seconds(step, repeats: int = 3) -> float:
    """Median seconds of ``step()`` over ``repeats`` calls after one warm-up call."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[repeats // 2]


def _stages_time(model, x: torch.Tensor, chunk: int | None) -> float:
    """Seconds of forward + backward of the model's two convolution stages with ``chunk``."""
    from torch.nn.functional import relu

    def step():
        first = model.conv_over_time(model.conv1, x, chunk)
        model.conv_over_time(model.conv2, relu(first - 1.0), chunk).sum().backward()   # spike-like sparse input
    try:
        return _median_seconds(step)
    finally:
        model.zero_grad(set_to_none=True)


def interleaved_seconds(step_for, candidates=CANDIDATES, rounds: int = ROUNDS, clock=time.perf_counter) -> dict:
    """Seconds of ``step_for(chunk)()`` per candidate: every candidate warmed up once (untimed), then ``rounds``
    timed rounds, each visiting every candidate once, each round in another (rotated) order, so neither the
    warm-up nor a slow spell of the machine falls on one candidate alone. ``{name: [seconds per round]}``."""
    steps = {str(c or "all"): step_for(c) for c in candidates}
    for step in steps.values():
        step()
    names, times = list(steps), {name: [] for name in steps}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = clock()
            steps[name]()
            times[name].append(clock() - start)
    return times


def default_chunk(batch: int) -> int:
    """The chunk taken when the calibration cannot tell the candidates apart: :data:`DEFAULT_CHUNK_LARGE_BATCH` above
    a batch of 64, else :data:`DEFAULT_CHUNK` (measured at batches 128 and 32, see above)."""
    return DEFAULT_CHUNK_LARGE_BATCH if batch > 64 else DEFAULT_CHUNK


def choose(times: dict[str, list[float]], default: int = DEFAULT_CHUNK) -> tuple[str, bool]:
    """(chunk name, decided): the candidate of least median time when its spread (the middle half of its rounds)
    lies wholly below the runner-up's; otherwise (``default``, False), since the measurement cannot tell."""
    import numpy as np

    quartiles = {name: np.percentile(t, [25, 50, 75]) for name, t in times.items()}
    ranked = sorted(quartiles, key=lambda name: quartiles[name][1])
    best, runner_up = ranked[0], ranked[1]
    if quartiles[best][2] < quartiles[runner_up][0]:
        return best, True
    return str(default), False


def calibrate(model, x: torch.Tensor, rounds: int = ROUNDS) -> dict[str, list[float]]:
    """Seconds per forward + backward of the whole model for every candidate chunk, per round
    (:func:`interleaved_seconds`); the model is left as it was."""
    saved = model.time_chunk

    def step_for(chunk):
        def step():
            model.time_chunk = chunk
            model(x).sum().backward()
        return step
    try:
        return interleaved_seconds(step_for, rounds=rounds)
    finally:
        model.time_chunk = saved
        model.zero_grad(set_to_none=True)


def ceiling(model, x: torch.Tensor) -> dict:
    """Seconds per forward + backward of the two convolution stages alone, for every candidate chunk."""
    return {str(c or "all"): _stages_time(model, x, c) for c in CANDIDATES}


def shape_key(x: torch.Tensor) -> str:
    """T, C, H, W and the batch size rounded up to a power of two (an epoch's last, smaller batch
    takes its full batches' choice instead of being measured again)."""
    T, B, *rest = x.shape
    # under bf16 autocast the convolutions cost another amount, so that choice is measured and kept apart
    autocast = (f" autocast {torch.get_autocast_dtype(x.device.type)}"
                if torch.is_autocast_enabled(x.device.type) else "")
    return f"T={T} B<={1 << max(0, (B - 1).bit_length())} {tuple(rest)}{autocast}"


def _valid_entry(entry) -> bool:
    return isinstance(entry, dict) and str(entry.get("chunk")) in {str(c or "all") for c in CANDIDATES}


def _current(entry: dict) -> bool:
    """A cached choice made by this calibration (older ones were made by a scheme that could be fooled)."""
    return entry.get("version") == CALIBRATION_VERSION


def read_cache() -> dict:
    """The machine's saved choices; a damaged file (cut, edited, from another version) is set aside with a
    notice and rebuilt by measuring again, instead of failing every training step."""
    if not CACHE.is_file():
        return {}
    try:
        saved = json.loads(CACHE.read_text())
        problem = None if isinstance(saved, dict) else f"a {type(saved).__name__}, not a table of choices"
        if problem is None and not all(_valid_entry(e) for e in saved.values()):
            problem = f"entries whose chunk is not one of {[str(c or 'all') for c in CANDIDATES]}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = f"not readable JSON ({type(error).__name__}: {error})"
    if problem is None:
        return saved
    print(f"notice: the time-chunk cache {CACHE} holds {problem}; rebuilding it (the first training step of each "
          f"shape measures its chunk again)", file=sys.stderr)
    return {}


def time_chunk(model, x: torch.Tensor) -> int | None:
    """The chunk of time bins the model's convolutions run in for input ``x`` ``[T, B, C, H, W]``."""
    is_forced, chunk = forced()
    if is_forced:
        return chunk
    key = f"{machine_key(x.device)}|{shape_key(x)}"
    if not (model.training and torch.is_grad_enabled()):
        return _memory.get(key)   # inference: the choice training made for this shape, or all bins at once
    if key in _memory and not _steps_too_slow(key):
        return _memory[key]
    saved = read_cache()
    if _asked() == "recalibrate" or key in _rechecked or key not in saved or not _current(saved[key]):
        with torch.enable_grad():
            times = calibrate(model, x.detach())
        best, decided = choose(times, default_chunk(x.shape[1]))
        saved[key] = {"chunk": best, "decided": decided, "version": CALIBRATION_VERSION,
                      "median_seconds": {name: sorted(t)[len(t) // 2] for name, t in times.items()}}
        try:
            from common.files import write_json
            write_json(CACHE, saved)
        except OSError:   # a read-only home: keep the choice for this process only
            pass
    choice = saved[key]["chunk"]
    _memory[key] = None if choice == "all" else int(choice)
    _calibrated_seconds[key] = saved[key].get("median_seconds", {}).get(choice, math.inf)
    _step_starts[key] = []
    return _memory[key]


def _steps_too_slow(key: str) -> bool:
    """Whether this process's training steps of shape ``key`` run far slower than the cached calibration said:
    the median time between consecutive training forwards (one whole step each; a pause for evaluation is one
    outlier among them) over the last :data:`STEPS_WATCHED` steps is :data:`SLOWER_THAN_CALIBRATED` times the
    chosen chunk's calibrated forward + backward. True once per key and process (then ``key`` is measured again;
    a second slow spell keeps the new choice, so a loaded machine cannot make training calibrate over and over)."""
    starts = _step_starts.setdefault(key, [])
    starts.append(_clock())
    del starts[:-(STEPS_WATCHED + 1)]
    if key in _rechecked or len(starts) <= STEPS_WATCHED:
        return False
    steps = sorted(b - a for a, b in zip(starts, starts[1:]))
    if steps[len(steps) // 2] < SLOWER_THAN_CALIBRATED * _calibrated_seconds.get(key, math.inf):
        return False
    print(f"notice: training steps take {steps[len(steps) // 2]:.2f} s, {SLOWER_THAN_CALIBRATED}x more than the "
          f"cached layout calibration's {_calibrated_seconds[key]:.2f} s; measuring the layout again", file=sys.stderr)
    _rechecked.add(key)
    return True
