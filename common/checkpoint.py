"""Checkpoints that survive a kill and open safely in a fresh process.

A checkpoint is a plain dict (tensors, numbers, strings) so ``torch.load(weights_only=True)`` can
read it: no pickled classes, no code runs on load. It records the model's registered name and
constructor arguments, so :func:`load_model` rebuilds the network from the .pth alone.
A JSON "card" with the same metadata is written beside it for people and tools that do not
want to load torch.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import torch
from torch import nn

from .models import build_model

FORMAT = "snn-study-checkpoint/1"


class CheckpointError(ValueError):
    """The file is not a checkpoint of this study, or does not fit the model it names."""


def atomic_write(path: str | Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``.

    The rename is atomic, so a kill mid-write leaves the previous file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; the result should read like any new file
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, data: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))


def save_checkpoint(path: str | Path, model: nn.Module, model_name: str, model_kwargs: dict,
                    meta: dict, training_state: dict | None = None) -> None:
    """``training_state`` (optimizer, scheduler, epoch, history) makes the run resumable."""
    checkpoint = {
        "format": FORMAT,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
    }
    if training_state is not None:
        checkpoint["training_state"] = training_state
    atomic_write(path, lambda f: torch.save(checkpoint, f))
    card = {k: checkpoint[k] for k in ("format", "model_name", "model_kwargs", "meta")}
    write_json(Path(path).with_suffix(".json"), card)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}. Run the notebook that trains it, "
                              f"or check the file name in models/.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        reason = (str(error).splitlines() or [""])[0]
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(error).__name__}: "
                              f"{reason}). It may be truncated, or not a .pth written by this study.") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a checkpoint of this study "
                              f"(expected format {FORMAT!r}).")
    return checkpoint


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild a saved model from its .pth alone; returns (model in eval mode, metadata)."""
    checkpoint = read_checkpoint(path)
    model = build_model(checkpoint["model_name"], **checkpoint["model_kwargs"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: the weights do not fit model {checkpoint['model_name']!r} "
                              f"with {checkpoint['model_kwargs']} ({str(error).splitlines()[0]}).") from None
    return model.to(device).eval(), checkpoint["meta"]
