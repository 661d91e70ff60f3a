"""Checkpoints that survive a kill and open safely in a fresh process.

A checkpoint is a plain dict (tensors, numbers, strings) so ``torch.load(weights_only=True)`` can
read it: no pickled classes, no code runs on load. It records the model's registered name and
constructor arguments, so :func:`load_model` rebuilds the network from the .pth alone.
A JSON "card" with the same metadata is written beside it for people and tools that do not
want to load torch.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch
from torch import nn

from common.files import atomic_write, write_json
from common.networks.registry import build_model

FORMAT = "snn-study-checkpoint/1"


class CheckpointError(ValueError):
    """The file is not a checkpoint of this study, or does not fit the model it names."""


def weights_checksum(state_dict: dict) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def card_of(checkpoint: dict) -> dict:
    """The JSON card: derived from the checkpoint alone, so it can always be rewritten to agree."""
    return {k: checkpoint[k] for k in ("format", "model_name", "model_kwargs", "weights_sha256", "meta")
            if k in checkpoint}


def save_checkpoint(path: str | Path, model: nn.Module, model_name: str, model_kwargs: dict,
                    meta: dict, training_state: dict | None = None) -> None:
    """``training_state`` (optimizer, scheduler, epoch, history) makes the run resumable. The
    weights' checksum is stored with them and checked on every load."""
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoint = {
        "format": FORMAT,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs),
        "state_dict": state_dict,
        "weights_sha256": weights_checksum(state_dict),
        "meta": meta,
    }
    if training_state is not None:
        checkpoint["training_state"] = training_state
    atomic_write(path, lambda f: torch.save(checkpoint, f))
    write_json(Path(path).with_suffix(".json"), card_of(checkpoint))


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint at ``path``, proven whole: its format, the fields a rebuild needs, the weights'
    checksum and finite weights; any problem is a :class:`CheckpointError` naming the file."""
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
    missing = [k for k in ("model_name", "model_kwargs", "state_dict", "meta") if k not in checkpoint]
    if missing or not isinstance(checkpoint["state_dict"], dict):
        raise CheckpointError(f"{path} lacks {', '.join(missing) or 'a state_dict'}: it was not written by "
                              f"common.save_checkpoint, or was edited. Retrain the run that wrote it.")
    if "weights_sha256" in checkpoint and weights_checksum(checkpoint["state_dict"]) != checkpoint["weights_sha256"]:
        raise CheckpointError(f"{path}: the weights do not match the checksum saved with them; the file was "
                              f"damaged or edited after it was written. Retrain the run, or restore the file.")
    bad = [k for k, v in checkpoint["state_dict"].items()
           if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path}: weights {', '.join(bad[:3])} hold NaN or infinite values; the run "
                              f"diverged or the file was damaged. Retrain it (a lower learning rate may help).")
    card = path.with_suffix(".json")
    try:
        stale = json.loads(card.read_text()) != json.loads(json.dumps(card_of(checkpoint), default=str))
    except (OSError, ValueError):
        stale = True
    if stale:   # the card is derived from the checkpoint: make it agree again
        try:
            write_json(card, card_of(checkpoint))
            print(f"{card.name} did not match {path.name}; rewritten from the checkpoint")
        except OSError as error:   # a read-only folder: the checkpoint is still good, only the card is stale
            print(f"{card.name} does not match {path.name} and could not be rewritten ({error.strerror})")
    return checkpoint


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild a saved model from its .pth alone; returns (model in eval mode, metadata)."""
    checkpoint = read_checkpoint(path)
    try:
        model = build_model(checkpoint["model_name"], **checkpoint["model_kwargs"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: model {checkpoint['model_name']!r} with {checkpoint['model_kwargs']} "
                              f"cannot be built by this version of the project ({type(error).__name__}: "
                              f"{error}).") from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: the weights do not fit model {checkpoint['model_name']!r} "
                              f"with {checkpoint['model_kwargs']} ({str(error).splitlines()[0]}).") from None
    return model.to(device).eval(), checkpoint["meta"]
