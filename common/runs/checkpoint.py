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

from common.config import identity_differences, identity_of
from common.files import StudyError, atomic_write, write_json
from common.networks.registry import build_model

FORMAT = "snn-study-checkpoint/1"


class CheckpointError(StudyError, ValueError):
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


def located(path: str | Path) -> Path:
    """``path``; a relative one that is not in the working folder read against the repository."""
    from common.config import project_path

    path = Path(path)
    return project_path(path) if not path.is_absolute() and not path.exists() else path


def read_checkpoint(path: str | Path, *, without_checksum: bool = False, card: bool = True) -> dict:
    """The checkpoint at ``path``, proven whole: its format, the fields a rebuild needs, the weights'
    checksum and finite weights; any problem is a :class:`CheckpointError` naming the file. A relative path is
    read from the working folder, else from the repository (a notebook's kernel runs in ``notebooks/``).
    A checkpoint without a checksum cannot prove its weights and is refused, unless ``without_checksum=True``
    says the caller takes it as it is."""
    path = located(path)
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
    if "weights_sha256" not in checkpoint and not without_checksum:
        raise CheckpointError(f"{path} has no weights checksum (weights_sha256), so nothing proves its weights are "
                              f"the ones trained. Retrain the run, or open it anyway with "
                              f"common.load_model({str(path)!r}, without_checksum=True) if you trust the file.")
    if "weights_sha256" in checkpoint and weights_checksum(checkpoint["state_dict"]) != checkpoint["weights_sha256"]:
        raise CheckpointError(f"{path}: the weights do not match the checksum saved with them; the file was "
                              f"damaged or edited after it was written. Retrain the run, or restore the file.")
    bad = [k for k, v in checkpoint["state_dict"].items()
           if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path}: weights {', '.join(bad[:3])} hold NaN or infinite values; the run "
                              f"diverged or the file was damaged. Retrain it (a lower learning rate may help).")
    if card:    # a card that disagrees is named (``card=False``: the caller is about to write it)
        _note_a_stale_card(path, checkpoint)
    return checkpoint


def _note_a_stale_card(path: Path, checkpoint: dict) -> None:
    card = path.with_suffix(".json")
    try:
        stale = json.loads(card.read_text()) != json.loads(json.dumps(card_of(checkpoint), default=str))
    except (OSError, ValueError):
        stale = True
    if stale:   # a read never writes: the checkpoint is what counts, and the card is derived from it
        print(f"{card.name} does not match {path.name} (the checkpoint is what counts); rewrite the card with "
              f"common.runs.checkpoint.write_card({shown_path(path)!r})")


def write_card(path: str | Path) -> Path:
    """Write the JSON card of the checkpoint at ``path`` again, from the checkpoint (proven whole first)."""
    path = located(path)
    card = path.with_suffix(".json")
    write_json(card, card_of(read_checkpoint(path, card=False)))
    return card


def shown_path(path) -> str:
    from common.config import shown
    return shown(path)


def check_identity(path, saved: dict | None, expected: dict) -> None:
    """Raise :class:`CheckpointError` unless the config saved in a checkpoint is ``expected``'s run, naming
    the knobs that differ (both values): a model is never evaluated, explained or measured for a run it is not."""
    if not saved:
        raise CheckpointError(f"{path} records no config, so it cannot prove it is run {expected.get('run_name')!r}. "
                              f"Open it by its path alone, common.load_model({str(path)!r}), if you know it is.")
    differ = identity_differences(saved, expected)
    if differ:
        shown = "; ".join(f"{k}: checkpoint {a!r}, run {b!r}" for k, (a, b) in differ.items())
        raise CheckpointError(f"{path} is not a checkpoint of run {expected.get('run_name')!r} "
                              f"(saved {saved.get('run_name')!r}): {shown}. Train the run, or open the file by its "
                              f"path alone (common.load_model(path)) to use it anyway.")


def standardise_inputs(model: nn.Module, mean: float, std: float) -> nn.Module:
    """Make ``model`` take its dataset's raw images (``ToTensor``'s [0, 1]) by standardising them before its
    forward pass, as the training loader did; refuses inputs outside [0, 1], which are standardised already."""
    def standardise(_module, args):
        x = args[0]
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"this model takes raw images in [0, 1] (as ToTensor gives them) and standardises "
                             f"them itself (mean {mean}, std {std}); got values in [{float(x.min()):.3g}, "
                             f"{float(x.max()):.3g}], already standardised? Pass the raw images, or load it with "
                             f"common.load_model(path, raw_inputs=False).")
        return ((x - mean) / std, *args[1:])

    model.register_forward_pre_hook(standardise)
    model.input_standardisation = {"mean": mean, "std": std}
    return model


def load_weights(model: nn.Module, state_dict: dict, path, model_name: str = "") -> None:
    """``model.load_state_dict(state_dict)``, or a :class:`CheckpointError` naming the file and every tensor that
    does not fit: its shape in the checkpoint and in the model, or that it is missing or unexpected."""
    own = model.state_dict()
    problems = [f"{name}: checkpoint {list(tensor.shape)}, model {list(own[name].shape)}"
                for name, tensor in state_dict.items() if name in own and tuple(tensor.shape) != tuple(own[name].shape)]
    problems += [f"{name}: missing from the checkpoint" for name in own if name not in state_dict]
    problems += [f"{name}: in the checkpoint, not in the model" for name in state_dict if name not in own]
    if problems:
        raise CheckpointError(f"{path}: the weights do not fit model {model_name or type(model).__name__!r} "
                              f"({'; '.join(problems[:5])}{'; ...' if len(problems) > 5 else ''}). The file was "
                              f"edited, or written for another version of the model: retrain the run.")
    model.load_state_dict(state_dict)


def with_record(path: Path, meta: dict) -> dict:
    """``meta`` with the test accuracy and history of the run's record (``results/<run>-<profile>.json`` beside the
    ``models/`` folder, when its config is the checkpoint's), which the checksum does not cover in the .pth;
    ``meta["results_from"]`` says where they come from: that record, or ``"checkpoint"`` (unproven)."""
    from common.files import UnreadableFile, read_json

    record_path = path.parent.parent / "results" / path.with_suffix(".json").name
    try:
        record = read_json(record_path) if path.parent.name == "models" and record_path.is_file() else None
    except (UnreadableFile, OSError):
        record = None
    if (isinstance(record, dict) and isinstance(record.get("test"), dict) and "accuracy" in record["test"]
            and meta.get("config") and not identity_differences(record.get("config") or {}, meta["config"])):
        return {**meta, "test_accuracy": record["test"]["accuracy"], "history": record.get("history", meta.get("history")),
                "results_from": str(record_path)}
    return {**meta, "results_from": "checkpoint"}


def load_model(path: str | Path, device: str | torch.device = "cpu", *, expect: dict | None = None,
               raw_inputs: bool = True, without_checksum: bool = False) -> tuple[nn.Module, dict]:
    """Rebuild a saved model from its .pth alone; returns (model in eval mode, metadata).

    The model takes its dataset's raw inputs: an image model trained on standardised images standardises them
    itself (``meta["input_normalisation"]``, or its dataset's for checkpoints written before it was recorded);
    ``raw_inputs=False`` leaves that to the caller, as the study's loaders do. ``expect``: the config of the
    run the model is loaded for (a RunConfig or its dict); the checkpoint must be that run's
    (:func:`check_identity`). ``meta``'s test accuracy and history are the run's record's where one sits beside it
    (:func:`with_record`; ``meta["results_from"]`` says which). ``without_checksum=True`` opens a checkpoint that
    has no weights checksum (refused otherwise)."""
    path = located(path)
    checkpoint = read_checkpoint(path, without_checksum=without_checksum)
    meta = with_record(path, checkpoint["meta"])
    if expect is not None:
        check_identity(path, meta.get("config"), expect if isinstance(expect, dict) else expect.to_dict())
    try:
        model = build_model(checkpoint["model_name"], **checkpoint["model_kwargs"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: model {checkpoint['model_name']!r} with {checkpoint['model_kwargs']} "
                              f"cannot be built by this version of the project ({type(error).__name__}: "
                              f"{error}).") from None
    load_weights(model, checkpoint["state_dict"], path, checkpoint["model_name"])
    model.expected_time_bins = time_bins(meta.get("config"))
    normalisation = meta.get("input_normalisation") or input_normalisation(meta.get("config"))
    if raw_inputs and normalisation:
        standardise_inputs(model, *normalisation)
    return model.to(device).eval(), meta


def input_normalisation(config: dict | None) -> tuple[float, float] | None:
    """(mean, std) the study's loaders standardise a run's images with, or None (event frames, spike trains)."""
    from common.data.datasets import describe, is_images
    from common.networks.lif_alif import SPIKE_TRAIN_MODELS

    if not config or not is_images(config.get("dataset")) or config.get("model") in SPIKE_TRAIN_MODELS:
        return None
    return tuple(describe(config["dataset"]).mean_std)


def time_bins(config: dict | None) -> int | None:
    """How many time bins the run's inputs have (event frames' or spike trains'), when its config says."""
    data = identity_of(config or {})["data"]
    return data.get("n_time_bins") or data.get("n_steps")


def load_run_model(config, device=None) -> tuple[nn.Module, dict]:
    """The saved model of run ``config`` (``models/<run>-<profile>.pth``), proven to be that run's, taking the
    inputs the study's loaders give (standardised images, event frames)."""
    return load_model(config.path("models", ".pth"), device or config.device, expect=config, raw_inputs=False)
