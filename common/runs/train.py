"""One training/evaluation core for every model of the study (ANN and SNN alike).

:func:`evaluate` gives loss, accuracy and predictions on a whole test set; for a spiking output
``[T, B, C]`` :func:`evaluate_over_time` gives the answer after every prefix of the recording too (the
network is causal, so the spikes of bins 1..t are what it would answer after seeing only those t bins).

What differs between models is only the :class:`~common.networks.objectives.Objective`: how the model's output becomes a
loss and a predicted class. The loop itself never branches on the kind of model.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn
from tqdm.auto import tqdm

from common.config import RunConfig, identity_differences, portable_config
from common.machine import keep_freed_memory
from common.networks.objectives import NO_DECISION, Objective
from common.runs.checkpoint import input_normalisation, load_weights, read_checkpoint, save_checkpoint


def to_device(batch, device):
    return batch.to(device, non_blocking=True) if torch.is_tensor(batch) else batch


@contextmanager
def precision_scope(precision: str, device) -> Iterator[None]:
    """Where a run's forward passes happen: as they are for "float32"; for "bfloat16", under torch's autocast on
    the device (convolutions and matrix products in bf16, the rest as autocast decides, weights kept float32).
    :func:`forward` casts the output back, so losses, predictions and records are float32 either way."""
    if precision == "float32":
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        yield


def forward(model: nn.Module, inputs, precision: str, device):
    """The model's output for ``inputs`` at the run's precision, as float32. Every training and evaluation pass
    comes through here, so this is where the process keeps its freed memory (common.machine.keep_freed_memory)."""
    keep_freed_memory()
    with precision_scope(precision, device):
        output = model(inputs)
    return output.float() if torch.is_tensor(output) and output.is_floating_point() else output


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, objective: Objective, device="cpu",
             desc: str = "evaluate", precision: str = "float32") -> dict:
    """Loss and accuracy over every sample of ``loader``, plus the predictions themselves."""
    model.eval()
    total_loss, predictions, labels = 0.0, [], []
    start = time.perf_counter()
    for inputs, targets in tqdm(loader, desc=desc, leave=False):
        inputs, targets = to_device(inputs, device), to_device(targets, device)
        output = forward(model, inputs, precision, device)
        total_loss += objective.loss(output, targets).item() * len(targets)
        predictions.append(objective.predict(output).cpu())
        labels.append(targets.cpu())
    predictions, labels = torch.cat(predictions), torch.cat(labels)
    n = len(labels)
    return {"loss": total_loss / n, "accuracy": (predictions == labels).float().mean().item(),
            "no_decision": int((predictions == NO_DECISION).sum()),   # silent or tied: counted as wrong
            "n_samples": n, "seconds": time.perf_counter() - start,
            "predictions": predictions, "labels": labels}


@torch.no_grad()
def evaluate_over_time(model: nn.Module, loader, objective: Objective, device="cpu",
                       precision: str = "float32") -> dict:
    """``accuracy_by_time_bins[t-1]``: accuracy from the first t bins (a sample still silent, or tied,
    after t bins counts as wrong); ``no_decision_by_time_bins[t-1]``: the fraction of such samples;
    ``spikes_per_sample``: per layer; ``predictions_by_time_bins``: ``[T, N]``, every sample's answer
    after every t (a tensor, which records on disk leave out unless a study keeps it)."""
    model.eval()
    correct, undecided, spikes, n, answers = None, None, {}, 0, []
    for inputs, labels in tqdm(loader, desc="accuracy over time", leave=False):
        inputs, labels = to_device(inputs, device), to_device(labels, device)
        output = forward(model, inputs, precision, device)     # [T, B, outputs]
        predictions = [objective.predict(output[:t]) for t in range(1, output.shape[0] + 1)]
        answers.append(torch.stack(predictions).cpu())
        hits = torch.stack([(p == labels).sum() for p in predictions]).cpu()
        silent = torch.stack([(p == NO_DECISION).sum() for p in predictions]).cpu()
        correct = hits if correct is None else correct + hits
        undecided = silent if undecided is None else undecided + silent
        for layer, count in getattr(model, "spike_counts", {}).items():
            spikes[layer] = spikes.get(layer, 0.0) + count * len(labels)
        n += len(labels)
    return {"accuracy_by_time_bins": (correct.double() / n).tolist(),
            "no_decision_by_time_bins": (undecided.double() / n).tolist(),
            "spikes_per_sample": {layer: total / n for layer, total in spikes.items()}, "n_samples": n,
            "predictions_by_time_bins": torch.cat(answers, dim=1)}


def train_one_epoch(model, loader, objective, optimizer, device, scheduler=None, desc="train",
                    precision: str = "float32") -> dict:
    """Mean loss and accuracy over the whole epoch (sample-weighted), not the last batch."""
    model.train()
    total_loss, correct, n = 0.0, 0, 0
    bar = tqdm(loader, desc=desc, leave=False)
    for inputs, targets in bar:
        inputs, targets = to_device(inputs, device), to_device(targets, device)
        output = forward(model, inputs, precision, device)
        loss = objective.loss(output, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.item() * len(targets)
        correct += (objective.predict(output.detach() if torch.is_tensor(output) else output)
                    == targets).sum().item()
        n += len(targets)
        bar.set_postfix(loss=f"{total_loss / n:.4f}", acc=f"{correct / n:.4f}")
    return {"loss": total_loss / n, "accuracy": correct / n, "n_samples": n}


def fit(model: nn.Module, config: RunConfig, train_loader, test_loader, objective: Objective,
        optimizer: torch.optim.Optimizer, scheduler=None, reuse_trained: bool = False,
        evaluate_every_epoch: bool = True, epoch_metrics=None, checkpoint: dict | None = None) -> dict:
    """Train for ``config.epochs``, checkpointing atomically after every epoch.

    An unfinished checkpoint of the same config is resumed (a killed run loses at most one
    epoch). A finished one is reused only with ``reuse_trained=True``; otherwise training starts
    over. ``scheduler`` is stepped once per batch. ``epoch_metrics(model) -> dict`` adds
    model-specific values to each epoch's history row (e.g. a learned beta). Returns the per-epoch history and the final
    evaluation on the full test set: the last epoch's, when this call trained it (the model has not changed since),
    else one evaluation of the model as loaded, so the test set is evaluated once at the end of a run.

    ``checkpoint``: the checkpoint at the run's name, already read and proven to be this run's by the caller (the
    runner checks a run's identity once, :func:`common.runs.runner.claim_name`); without it, ``fit`` reads and
    checks the file itself.
    """
    device = torch.device(config.device)
    model.to(device)
    path = config.path("models", ".pth")
    history, start_epoch, final = [], 0, None
    if checkpoint is not None or path.exists():
        saved = checkpoint if checkpoint is not None else read_checkpoint(path)
        state = saved.get("training_state")
        same = state is not None and (checkpoint is not None
                                      or not identity_differences(saved["meta"].get("config") or {}, config.to_dict()))
        if same and (not state["finished"] or reuse_trained):
            load_weights(model, saved["state_dict"], path, config.model)   # a tensor that does not fit is named
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler"):
                scheduler.load_state_dict(state["scheduler"])
            history, start_epoch = list(state["history"]), state["epoch"]
            train_loader.generator.set_state(state["loader_rng"])
            torch.set_rng_state(state["torch_rng"])
            if state["finished"]:
                print(f"{path.name}: reusing the finished run ({start_epoch} epoch{'s' if start_epoch != 1 else ''})")
            else:
                print(f"Resuming {path.name} at epoch {start_epoch}/{config.epochs}")

    for epoch in range(start_epoch, config.epochs):
        start = time.perf_counter()
        train = train_one_epoch(model, train_loader, objective, optimizer, device, scheduler,
                                desc=f"epoch {epoch + 1}/{config.epochs}", precision=config.precision)
        seconds = time.perf_counter() - start
        row = {"epoch": epoch + 1, "train_loss": train["loss"], "train_accuracy": train["accuracy"],
               "train_seconds": seconds, "train_samples_per_s": train["n_samples"] / seconds,
               "lr": optimizer.param_groups[0]["lr"]}
        if evaluate_every_epoch or epoch + 1 == config.epochs:
            test = evaluate(model, test_loader, objective, device, desc="test", precision=config.precision)
            row.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
            final = test if epoch + 1 == config.epochs else None
        if epoch_metrics is not None:
            row.update(epoch_metrics(model))
        history.append(row)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        finished = epoch + 1 == config.epochs
        save_checkpoint(path, model, config.model, config.model_kwargs,
                        meta={"config": portable_config(config.to_dict()), "history": history,
                              "test_accuracy": row.get("test_accuracy"),
                              "input_normalisation": input_normalisation(config.to_dict())},
                        training_state={"epoch": epoch + 1, "finished": finished, "history": history,
                                        "optimizer": optimizer.state_dict(),
                                        "scheduler": scheduler.state_dict() if scheduler else None,
                                        "loader_rng": train_loader.generator.get_state(),
                                        "torch_rng": torch.get_rng_state()})

    if final is None:     # nothing trained here (a reused run): the model as loaded, evaluated once
        final = evaluate(model, test_loader, objective, device, desc="final test", precision=config.precision)
    return {"history": history, "test": final, "checkpoint": str(path),
            "train_seconds": sum(r["train_seconds"] for r in history)}


def adamw_one_cycle(model: nn.Module, config: RunConfig, steps_per_epoch: int):
    """AdamW with a one-cycle learning-rate schedule peaking at ``config.lr``, stepped per batch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * steps_per_epoch)
    return optimizer, scheduler
