"""Small, learnable event-camera datasets written in the real on-disk formats tonic reads.

- N-MNIST: the original 40-bit event records in ``NMNIST/Train|Test/<digit>/<id>.bin``;
- DVS128 Gesture: tonic's preprocessed layout ``DVSGesture/ibmGestureTrain|ibmGestureTest/
  userNN_<lighting>/<class>.npy``, a float64 array [N, 4] of columns x, y, p, t with t in fractional
  milliseconds (microsecond steps), as in the real files (tonic multiplies t by 1000), about 1.45 s
  and 10^5 events per clip, so that ~10% of pixel-bins are active at 32 x 32 and 25 bins, like the
  real clips.

Each class is a small patch of active pixels at its own place, drifting in its own direction, so
a small net must learn to tell them apart but can.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

NMNIST_SIZE = 34
DVS_SIZE = 128
MAX_NMNIST_T = 2 ** 23   # 23 timestamp bits, in us


def write_nmnist_bin(path: str | Path, x, y, p, t_us) -> Path:
    """One recording in the N-MNIST format: 5 bytes per event.

    byte0 x, byte1 y, byte2 bit 7 polarity and bits 6..0 = t bits 22..16, byte3 t bits 15..8,
    byte4 t bits 7..0. y = 240 would mark a timestamp-overflow record, so it is refused.
    """
    x, y, p, t = (np.asarray(a, dtype=np.int64) for a in (x, y, p, t_us))
    if not (len(x) == len(y) == len(p) == len(t)):
        raise ValueError("x, y, p and t must have the same length")
    if ((x < 0) | (x > 255) | (y < 0) | (y > 255) | (y == 240)).any():
        raise ValueError("x and y must be in 0..255 and y != 240 (the overflow marker)")
    if ((t < 0) | (t >= MAX_NMNIST_T)).any() or not np.isin(p, (0, 1)).all():
        raise ValueError(f"t must be in 0..{MAX_NMNIST_T - 1} us and p in {{0, 1}}")
    records = np.empty((len(x), 5), dtype=np.uint8)
    records[:, 0] = x
    records[:, 1] = y
    records[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    records[:, 3] = (t >> 8) & 0xFF
    records[:, 4] = t & 0xFF
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records.tobytes())
    return path


def moving_patch(rng, anchor, velocity, size: int, duration: int, step: int, patch: int,
                 n_noise: int) -> tuple[np.ndarray, ...]:
    """Events of a ``patch`` x ``patch`` square moving from ``anchor`` at ``velocity`` px per
    ``duration``: every ``step`` time units, each pixel of the square fires with probability 0.6,
    ON at the leading half, OFF at the trailing half; plus ``n_noise`` scattered events."""
    xs, ys, ps, ts = [], [], [], []
    for t in range(0, duration, step):
        shift = np.asarray(velocity) * t / duration
        x0, y0 = (np.asarray(anchor) + shift).round().astype(int)
        gx, gy = np.meshgrid(np.arange(patch), np.arange(patch), indexing="ij")
        fire = rng.random(gx.shape) < 0.6
        xs.append((x0 + gx)[fire]), ys.append((y0 + gy)[fire])
        ps.append((gx[fire] >= patch // 2).astype(int)), ts.append(np.full(fire.sum(), t))
    x, y, p, t = (np.concatenate(a) for a in (xs, ys, ps, ts))
    noise_t = rng.integers(0, duration, n_noise)
    x = np.concatenate([x, rng.integers(0, size, n_noise)]).clip(0, size - 1)
    y = np.concatenate([y, rng.integers(0, size, n_noise)]).clip(0, size - 1)
    p = np.concatenate([p, rng.integers(0, 2, n_noise)])
    t = np.concatenate([t, noise_t])
    order = np.argsort(t, kind="stable")
    return x[order], y[order], p[order], t[order]


def _nmnist_class_motion(label: int):
    anchor = (2 + 8 * (label % 4), 2 + 11 * (label // 4))          # 4 x 3 grid on 34 x 34
    velocity = [(3, 0), (0, 3), (-3, 0), (0, -3), (3, 3)][label % 5]
    return (anchor[0] + (3 if velocity[0] < 0 else 0), anchor[1] + (3 if velocity[1] < 0 else 0)), velocity


def make_nmnist_tree(root: str | Path, n_per_class: int, n_classes: int = 10,
                     n_test_per_class: int | None = None, seed: int = 0,
                     duration_us: int = 300_000, step_us: int = 5_000) -> Path:
    """``root/NMNIST/Train|Test/<digit>/<id>.bin``; returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = {"Train": n_per_class, "Test": n_per_class if n_test_per_class is None else n_test_per_class}
    file_id = 0
    for split, n in counts.items():
        for label in range(n_classes):
            anchor, velocity = _nmnist_class_motion(label)
            for _ in range(n):
                file_id += 1
                jitter = rng.integers(-1, 2, 2)
                events = moving_patch(rng, np.add(anchor, jitter), velocity, NMNIST_SIZE,
                                      duration_us, step_us, patch=4, n_noise=20)
                write_nmnist_bin(root / "NMNIST" / split / str(label) / f"{file_id:05d}.bin", *events)
    return root


def make_dvsgesture_tree(root: str | Path, users, classes, train: bool = True,
                         lighting: str = "fluorescent", seed: int = 0, duration_ms: int = 1_450) -> Path:
    """``root/DVSGesture/ibmGesture{Train,Test}/userNN_<lighting>/<class>.npy``; returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    split = "ibmGestureTrain" if train else "ibmGestureTest"
    step_ms = 8
    for user in users:
        folder = root / "DVSGesture" / split / f"user{user:02d}_{lighting}"
        folder.mkdir(parents=True, exist_ok=True)
        for label in classes:
            angle = 2 * np.pi * label / 11
            velocity = (60 * np.cos(angle), 60 * np.sin(angle))
            anchor = (64 - velocity[0] / 2 - 20, 64 - velocity[1] / 2 - 20)
            x, y, p, t = moving_patch(rng, anchor, velocity, DVS_SIZE, duration_ms, step_ms, patch=40,
                                      n_noise=2000)
            # real clips have microsecond timestamps written in milliseconds (0.028, 1449.996, ...)
            t_ms = (t + np.round(rng.random(len(t)) * step_ms, 3)).clip(0, duration_ms - 0.001)
            order = np.argsort(t_ms, kind="stable")
            events = np.stack([x, y, p, t_ms], axis=1).astype(np.float64)[order]
            np.save(folder / f"{label}.npy", events)
    return root
