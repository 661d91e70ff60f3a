"""One runner for every run of the study: ``run(spec, data) -> record``.

Seed, build the spec's model, train it with the shared :func:`common.runs.train.fit` (AdamW, one-cycle,
a checkpoint every epoch, resumable), evaluate it on the whole test set, measure what the model
offers (accuracy after every time bin and spikes per layer for a spiking output, learned decays),
and write one record (common/runs/records.py). Notebooks call it once per run; every grid cell (LIF/ALIF
factors, N-MNIST folds, notebook 06's seeds) is one call too.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

import torch

from common.data.errors import DatasetNotFoundError
from common.data.datasets import is_images
from common.data.images import image_data
from common.files import hold_root
from common.networks.lif_alif import SPIKE_TRAIN_MODELS
from common.networks.registry import Recorded, build_model, count_parameters
from common.runs.checkpoint import CheckpointError, load_run_model
from common.runs.preflight import preflight
from common.runs.records import make_record, save_record
from common.config import RunConfig, portable_text, seed_everything
from common.runs.specs import ResolvedSpec, check_parameters, resolve, setup
from common.runs.train import adamw_one_cycle, evaluate, evaluate_over_time, fit


def load_data(config: RunConfig):
    """A run's data as its model takes it, the one way every reader gets it (training, evaluation, NeuroBench,
    Grad-CAM): event frames (cached; a fold of the fold study where ``config.data.fold`` says), images (augmented for
    training where ``config.augmentation`` says) or, for the LIF/ALIF networks, images encoded as spike trains."""
    data = config.data
    if not is_images(config.dataset):
        from common.data.splits import load_event_data
        return load_event_data(config)
    limits = {"train_limit": data.train_limit, "test_limit": data.test_limit}
    if config.model in SPIKE_TRAIN_MODELS:
        from common.data.encodings import spike_data
        return spike_data(config.dataset, data.encoding or "rate", data.n_steps, config.data_root,
                          config.mirror, batch_size=config.batch_size, seed=config.seed, **limits)
    return image_data(config.dataset, config.data_root, config.mirror, batch_size=config.batch_size,
                      seed=config.seed, augment=(config.augmentation or {}).get("random_affine"), **limits)


def prepare(name: str, profile: str = "quick", overrides: dict | None = None, **locations):
    """A notebook's setup in one call: the resolved spec (printed) and its data (summary printed)."""
    spec = setup(name, profile, overrides, **locations)
    data = load_data(spec.config)
    print(portable_text(data.summary()))      # paths relative to the repository: no machine path in a notebook
    return spec, data


def prepare_optional(name: str, profile: str = "quick", overrides: dict | None = None, **locations):
    """:func:`prepare`, or ``(spec, None)`` with the reason printed in one line when the dataset is absent: for a
    notebook that answers its question on other data where this one is missing (notebook 06)."""
    try:
        return prepare(name, profile, overrides, **locations)
    except DatasetNotFoundError as missing:
        print(portable_text(f"{name}: no data here ({str(missing).splitlines()[0]})"))
        return setup(name, profile, overrides, **locations), None


def run(spec: ResolvedSpec, data, reuse_trained: bool = True, required: bool = True, save: bool = True,
        evaluate_every_epoch: bool = True, replace_reference: bool = False) -> dict | None:
    """Train (or resume) ``spec`` on ``data`` and return its record (written to ``results/`` when ``save``).

    A finished run of the same spec (its checkpoint's config matches) is reused and evaluated, unless
    ``reuse_trained=False``; a retrain then never replaces that reference: it is named ``<run>_retrain`` and
    shown beside it, unless ``replace_reference=True`` (:func:`beside_reference`).

    The training loader's shuffling is re-seeded with the run's seed, so runs that share one loader
    differ only by their seed. Without a training split (``data.train_loader`` None) the run's saved
    model is evaluated instead (:func:`evaluate_saved`). The record keeps the test predictions and
    labels as tensors for the notebook (``record["test"]["predictions"]``; lists in the files).

    The machine is checked first (:func:`common.runs.preflight.preflight`), and the run holds its output
    root's lock throughout (common.files.hold_root): a second run into the same root waits for it.
    """
    flags = check_parameters(reuse_trained=reuse_trained, replace_reference=replace_reference)   # "false" is False
    reuse_trained, replace_reference = flags["reuse_trained"], flags["replace_reference"]
    config = spec.config
    preflight(config.output_root, config.device, config.data_root)
    with hold_root(config.output_root):
        return _run(spec, data, reuse_trained, required, save, evaluate_every_epoch, replace_reference)


def _run(spec: ResolvedSpec, data, reuse_trained: bool, required: bool, save: bool,
         evaluate_every_epoch: bool, replace_reference: bool = False) -> dict | None:
    if data.train_loader is None:
        return evaluate_saved(spec, data, required, save)
    saved = claim_name(spec, replace_reference).checkpoint     # the run's identity, checked once
    reference = None
    if not reuse_trained and not replace_reference:
        spec, reference = beside_reference(spec, saved)
        if reference is not None:
            saved = None        # the retrain has a name of its own: fit reads (and checks) that checkpoint, if any
    if saved is not None and "weights_sha256" not in saved:
        saved = None            # read as it is here; fit reads it again and refuses it for its missing checksum
    config, objective = spec.config, spec.build_objective()
    seed_everything(config.seed)
    data.train_loader.generator.manual_seed(config.seed)
    model = build_model(config.model, **config.model_kwargs)
    optimizer, scheduler = adamw_one_cycle(model, config, len(data.train_loader))
    outcome = fit(model, config, data.train_loader, data.test_loader, objective, optimizer, scheduler,
                  reuse_trained=reuse_trained, evaluate_every_epoch=evaluate_every_epoch,
                  epoch_metrics=(lambda m: m.epoch_metrics()) if isinstance(model, Recorded) else None,
                  checkpoint=saved)
    record = make_record(config, outcome, **measurements(model, spec, data, objective, outcome),
                         train_samples=len(data.train_loader.labels), training=spec.training())
    if reference is not None:
        compare_with_reference(record, reference)
    return _saved(record, save, config)


RETRAIN_SUFFIX = "_retrain"
SET_ASIDE = ".set-aside-"


class OtherRunError(CheckpointError):
    """The checkpoint at a run's name is another config's: it is kept, and the run does not train over it."""


class Claim(NamedTuple):
    """What :func:`claim_name` found at a run's name: the run's own checkpoint (read, its config the run's), or
    where another config's checkpoint was set aside; both None when nothing was there."""
    checkpoint: dict | None = None
    set_aside: Path | None = None


def claim_name(spec: ResolvedSpec, replace_reference: bool = False) -> Claim:
    """Make sure no checkpoint of another config sits at ``spec``'s name before it trains there.

    A checkpoint whose recorded config differs from the run's (a file copied there, a spec's default edited
    since it was trained) is never trained over. At a reference's name (a spec without overrides) the run stops,
    naming the file and the knobs that differ, unless ``replace_reference`` asks to replace it: then, as at any
    other run's name, the checkpoint, its card and its record are set aside (renamed ``<file>.set-aside-<digest>``,
    kept) and the move is printed. This is the one identity check of a run: the checkpoint it read goes on to
    :func:`common.runs.train.fit` (:class:`Claim`)."""
    from common.config import identity_differences, shown
    from common.runs.checkpoint import read_checkpoint

    path = spec.config.path("models", ".pth")
    if not path.is_file():
        return Claim()
    saved = read_checkpoint(path, without_checksum=True)     # set aside or not, the file is never changed here
    recorded = saved["meta"].get("config")
    differ = (identity_differences(recorded, spec.config.to_dict()) if recorded
              else {"config": ("none recorded", spec.config.run_name)})
    if not differ:
        return Claim(checkpoint=saved)
    what = "; ".join(f"{k}: checkpoint {a!r}, run {b!r}" for k, (a, b) in differ.items())
    if not spec.overrides and not replace_reference:
        raise OtherRunError(f"{shown(path)} is a checkpoint of another config than run {spec.config.run_name!r} "
                            f"({what}); it is not trained over. Move it away, or pass replace_reference=True "
                            f"(--retrain --replace-reference) to set it aside and train the run as the spec says.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    moved = []
    for kind, suffix in (("models", ".pth"), ("models", ".json"), ("results", ".json")):
        source = spec.config.path(kind, suffix)
        if source.is_file():
            target = source.with_name(f"{source.name}{SET_ASIDE}{digest}")
            os.replace(source, target)
            moved.append(shown(target))
    print(f"Set aside {', '.join(moved)}: the checkpoint at run {spec.config.tag}'s name is another config's "
          f"({what}). Kept; run {spec.config.tag} trains from scratch.")
    return Claim(set_aside=path.with_name(f"{path.name}{SET_ASIDE}{digest}"))


def run_config(spec: ResolvedSpec, record: dict):
    """The config of the run ``record`` is of: ``spec``'s, or its ``<run>_retrain`` twin's (whose model, not the
    reference's, the notebook then explains)."""
    from dataclasses import replace

    if record["run"] == spec.config.tag:
        return spec.config
    return replace(spec.config, run_name=record["config"]["run_name"])


def beside_reference(spec: ResolvedSpec, saved: dict | None) -> tuple[ResolvedSpec, dict | None]:
    """``spec`` unchanged when no finished run of it exists (``saved``: its checkpoint, proven to be this run's by
    :func:`claim_name`, or None); else the same run named ``<run>_retrain`` (its own checkpoint, record and videos)
    and the reference it is retrained beside (its record, or its checkpoint's meta when it has none). The reference
    stays as it is: replacing it takes ``replace_reference=True``."""
    from dataclasses import replace as replaced

    from common.config import shown

    path = spec.config.path("models", ".pth")
    if saved is None:
        return spec, None
    if not (saved.get("training_state") or {}).get("finished", True):
        return spec, None          # an unfinished run resumes where it stopped
    results = spec.config.path("results", ".json")
    reference = json.loads(results.read_text()) if results.is_file() else {"run": spec.config.tag, **saved["meta"]}
    name = spec.config.run_name + RETRAIN_SUFFIX
    print(f"Retraining beside the reference {shown(path)}, as {name}-{spec.config.profile}: the reference stays "
          f"(replace_reference=True overwrites it).")
    return replaced(spec, config=replaced(spec.config, run_name=name)), reference


def compare_with_reference(record: dict, reference: dict) -> None:
    """The retrain's test accuracy beside the reference's, and whether the two models answer alike."""
    test, earlier = record["test"], reference.get("test") or {"accuracy": reference.get("test_accuracy")}
    same = "predictions" in earlier and list(test["predictions"].tolist()) == list(earlier["predictions"])
    print(f"retrain {record['run']}: {test['accuracy']:.2%} | reference {reference['run']}: "
          + (f"{earlier['accuracy']:.2%}" if earlier.get("accuracy") is not None else "no test accuracy recorded")
          + (" (the same prediction on every test sample)" if same else ""))
    record["reference"] = {"run": reference["run"], "test_accuracy": earlier.get("accuracy"), "same_predictions": same}


def evaluate_saved(spec: ResolvedSpec, data, required: bool = True, save: bool = True) -> dict | None:
    """Evaluate the run's saved model (``models/<run>-<profile>.pth``, e.g. trained elsewhere on a
    GPU) on the test split, when there is no training split to train it here.

    With no such checkpoint either: raise :class:`DatasetNotFoundError` (the study then records the
    notebook as skipped) or, with ``required=False``, print why and return None."""
    from common.config import portable_config, shown

    config = spec.config
    path = config.path("models", ".pth")
    if not path.is_file():
        message = (f"No training split of {config.dataset!r} and no saved model to evaluate instead "
                   f"({shown(path)} does not exist). Get the training split as below, or put a checkpoint of run "
                   f"{config.run_name!r} trained elsewhere at {shown(path)}.\n{data.missing_train}")
        if required:
            raise DatasetNotFoundError(message)
        print(f"{config.tag}: not evaluated, no training split and no saved model at {shown(path)}.")
        return None
    model, meta = load_run_model(config)
    objective = spec.build_objective()
    history = meta.get("history") or []
    test = evaluate(model, data.test_loader, objective, config.device, desc="test (saved model)",
                    precision=config.precision)
    outcome = {"history": history, "test": test, "checkpoint": str(path),
               "train_seconds": sum(r["train_seconds"] for r in history)}
    print(f"{config.tag}: evaluated the saved model {path.name} (trained for {len(history)} epochs elsewhere) "
          f"on {test['n_samples']} test samples, no training here.")
    record = make_record(config, outcome, **measurements(model, spec, data, objective, outcome), train_samples=None,
                         training=spec.training(), evaluation_only=True, trained_with=portable_config(meta.get("config") or {}))
    return _saved(record, save, config)


def measurements(model, spec: ResolvedSpec, data, objective, outcome) -> dict:
    """What a record holds beside the test results: size, time per epoch, and what the model offers."""
    found = {"parameters": count_parameters(model), "seconds_per_epoch": epoch_seconds(outcome["history"])}
    if spec.spec.over_time:       # spiking output [T, B, C]: every prefix of the recording is an answer
        found.update(evaluate_over_time(model, data.test_loader, objective, spec.config.device,
                                         spec.config.precision))
    if isinstance(model, Recorded):
        found.update(model.learned_decays())
    return found


def epoch_seconds(history: list[dict]) -> float | None:
    """Median training seconds per epoch (the first epoch includes warm-up, so not the mean)."""
    if not history:
        return None
    return float(torch.tensor([row["train_seconds"] for row in history]).median())


def _saved(record: dict, save: bool, config) -> dict:
    if save:
        record["results_file"] = str(save_record(record, config.output_root))
    return record
