"""Every event recording checked as it is on disk, and again as tonic decodes it; a file that fails is named
with its field, never skipped.

On disk, before tonic converts it (tonic casts DVS polarity to bool and DVS times to integer microseconds, so a
polarity of 2 or a time in the wrong unit would pass): N-MNIST x, y inside 34 x 34, times (23-bit unsigned
microseconds plus overflow records, so finite and non-negative by the format) in order over a plausible span;
DVS Gesture x, y whole numbers inside 128 x 128, polarity 0/1, times finite, non-negative, in order, in
milliseconds over a plausible span; DVS_Sign the same in seconds, "in order" within :data:`SIGN_TIME_TOLERANCE_S`.
The spans are each dataset's (:mod:`common.data.datasets`). Decoded (:func:`check_recording`): on the sensor, polarity 0/1, times
finite, in order and spanning a whole recording.
"""
from __future__ import annotations

import numpy as np

from common.data.datasets import NMNIST_EVENT_BYTES
from common.data.errors import DatasetCorruptError

NMNIST_SENSOR, DVS_SENSOR = 34, 128
# DVS_Sign writes equal time stamps with different float rounding: consecutive times step back by up to 1e-16 s
# in 710 of its 750 files. A step back within this tolerance is rounding; a larger one is a real reordering.
SIGN_TIME_TOLERANCE_S = 1e-9
FIX = "Delete the file and download it again, or re-copy the mirror."


def refuse_if(problems: list[str], dataset: str, path) -> None:
    if problems:
        raise DatasetCorruptError(f"Dataset {dataset!r}: {path} is not a valid recording: {'; '.join(problems)}. {FIX}")


def _span(name: str, per_us: float) -> tuple[float, float]:
    """The dataset's whole-recording span (common.data.datasets), in the unit of its raw times."""
    from common.data.datasets import describe
    low, high = describe(name).span_us
    return low * per_us, high * per_us


def _span_problem(times: np.ndarray, field: str, unit: str, low: float, high: float, tolerance: float = 0) -> list[str]:
    steps_back = np.diff(times) < -tolerance
    if steps_back.any():
        return [f"field {field}: times out of order ({int(steps_back.sum())} steps back"
                + (f" by more than {tolerance:g} {unit}" if tolerance else "") + ")"]
    span = float(times[-1] - times[0])
    if span < low:
        return [f"field {field}: events over only {span:g} {unit}, where a whole recording spans at least "
                f"{low:g} {unit}: the file is truncated, or its times are not in {unit}"]
    if span > high:
        return [f"field {field}: events over {span:g} {unit}, more than the {high:g} {unit} a whole recording "
                f"spans, so its times are likely in another unit"]
    return []


def raw_nmnist_problems(raw: np.ndarray) -> list[str]:
    """What is wrong with an N-MNIST file's bytes (``uint8``, 5 per event), decoded as tonic decodes them:
    x, y bytes; polarity bit 7 of byte 2; 23-bit microseconds, plus 2^13 after every overflow record (y = 240)."""
    if len(raw) == 0 or len(raw) % NMNIST_EVENT_BYTES:
        return [f"{len(raw)} bytes, not a whole number of {NMNIST_EVENT_BYTES}-byte events" if len(raw)
                else "it holds no events"]
    from common.data.datasets import decode_nmnist
    x, y, _, t = decode_nmnist(raw)
    if len(t) == 0:
        return ["it holds no events (only time-overflow records)"]
    problems = [f"field {name}: values up to {int(v.max())} in {int((v >= NMNIST_SENSOR).sum())} events, outside the "
                f"{NMNIST_SENSOR} x {NMNIST_SENSOR} sensor (0..{NMNIST_SENSOR - 1})"
                for name, v in (("x", x), ("y", y)) if v.max() >= NMNIST_SENSOR]
    return problems + _span_problem(t, "t", "us", *_span("nmnist", 1))


def _xypt_problems(x, y, p, t, unit: str, per_us: float, tolerance: float, dataset: str) -> list[str]:
    """The checks every 128 x 128 event file shares: finite numbers, whole pixels on the sensor, polarity 0/1,
    non-negative times in order (within ``tolerance``) over the dataset's span."""
    columns = {"x": x, "y": y, "p": p, "t": t}
    bad = [name for name, c in columns.items() if not np.isfinite(c).all()]
    if bad:
        return [f"{int(sum((~np.isfinite(columns[n])).sum() for n in bad))} values that are NaN or infinite "
                f"(fields {', '.join(bad)})"]
    problems = []
    for name, column in (("x", x), ("y", y)):
        if (column != np.round(column)).any() or column.min() < 0 or column.max() >= DVS_SENSOR:
            problems.append(f"field {name}: values {column.min():g}..{column.max():g}, not whole pixels or outside "
                            f"the {DVS_SENSOR} x {DVS_SENSOR} sensor (0..{DVS_SENSOR - 1})")
    if not np.isin(p, (0, 1)).all():
        problems.append(f"field p: polarities other than 0/1 ({sorted(set(np.unique(p).tolist()) - {0, 1})[:5]})")
    if t.min() < 0:
        problems.append(f"field t: {int((t < 0).sum())} negative times (down to {t.min():g} {unit})")
    return problems + _span_problem(t, "t", unit, *_span(dataset, per_us), tolerance=tolerance)


def raw_dvs_problems(raw: np.ndarray) -> list[str]:
    """What is wrong with a DVS Gesture clip as tonic's archive stores it: an (N, 4) numeric array of
    x, y, p, t, t in milliseconds."""
    if raw.ndim != 2 or raw.shape[1] != 4 or raw.dtype.kind not in "fiu":
        return [f"an array of shape {raw.shape} and dtype {raw.dtype}, not (N, 4) numbers: columns x, y, p, t"]
    if len(raw) == 0:
        return ["it holds no events"]
    return _xypt_problems(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3], "ms", 1e-3, 0, "dvsgesture")


def raw_sign_problems(raw: np.ndarray) -> list[str]:
    """What is wrong with a DVS_Sign clip as its authors' CSV holds it: (N, 4) numbers t (s), x, y, polarity."""
    if raw.ndim != 2 or raw.shape[1] != 4:
        return [f"a table of shape {raw.shape}, not 4 columns: t (s), x, y, polarity"]
    if len(raw) == 0:
        return ["it holds no events"]
    return _xypt_problems(raw[:, 1], raw[:, 2], raw[:, 3], raw[:, 0], "s", 1e-6, SIGN_TIME_TOLERANCE_S, "dvssign")


def check_recording(events: np.ndarray, dataset: str, sensor_size, path) -> None:
    """Raise :class:`DatasetCorruptError` naming ``path`` unless every event is on the sensor, every
    polarity is 0/1 and the times are finite, non-decreasing and span a whole recording."""
    width, height, _ = sensor_size
    problems = []
    if len(events) == 0:
        problems.append("it holds no events")
    else:
        x, y, p, t = (events[name] for name in "xypt")
        if x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height:
            problems.append(f"coordinates outside the {width} x {height} sensor (x {x.min()}..{x.max()}, "
                            f"y {y.min()}..{y.max()})")
        if not np.isin(p, (0, 1)).all():
            problems.append(f"polarities other than 0/1 ({sorted(set(np.unique(p).tolist()))[:5]})")
        times = t.astype(np.float64)
        if not np.isfinite(times).all():
            problems.append("times that are not finite")
        elif (np.diff(times) < 0).any():
            problems.append(f"times out of order ({int((np.diff(times) < 0).sum())} steps back)")
        elif times[-1] - times[0] < _span(dataset, 1)[0]:
            problems.append(f"events over {(times[-1] - times[0]) / 1000:.1f} ms only, where a whole "
                            f"{dataset} recording spans at least {_span(dataset, 1)[0] / 1000:.0f} ms: "
                            f"the file is truncated")
    if problems:
        raise DatasetCorruptError(f"Dataset {dataset!r}: {path} is not a valid recording: "
                                  f"{'; '.join(problems)}. {FIX}")
