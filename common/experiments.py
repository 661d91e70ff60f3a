"""Experiment steps every spiking notebook shares: train one configured run end to end, derive
variants of a config, and tabulate runs (per seed, per class)."""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .analysis import evaluate_over_time
from .checkpoint import load_model
from .config import RunConfig, seed_everything
from .data import DatasetNotFoundError
from .models import build_model, count_parameters
from .results import save_results
from .train import adamw_one_cycle, evaluate, fit

DVS_FULL_TRAIN = 1077   # clips in DVS128 Gesture's training split (264 in the test split)


def train_spiking(config: RunConfig, data, objective, reuse_trained: bool = False,
                  epoch_metrics=None, required: bool = True) -> tuple[nn.Module | None, dict | None]:
    """Seed, build, train (AdamW, one-cycle, common.fit), measure accuracy over time, save the results.

    The training loader's shuffling is re-seeded with ``config.seed``, so runs that share one
    loader differ only by their seed. Returns ``(model, record)``: the results file's content.
    Without a training split (``data.train_loader`` None) the run's saved model is evaluated
    instead (:func:`evaluate_saved`).
    """
    if data.train_loader is None:
        return evaluate_saved(config, data, objective, required)
    seed_everything(config.seed)
    data.train_loader.generator.manual_seed(config.seed)
    model = build_model(config.model, **config.model_kwargs)
    optimizer, scheduler = adamw_one_cycle(model, config, len(data.train_loader))
    outcome = fit(model, config, data.train_loader, data.test_loader, objective, optimizer, scheduler,
                  reuse_trained=reuse_trained, epoch_metrics=epoch_metrics)
    return model, _measure_and_save(model, config, data, objective, outcome, train_clips=len(data.train.labels))


def evaluate_saved(config: RunConfig, data, objective, required: bool = True) -> tuple[nn.Module | None, dict | None]:
    """Evaluate the run's saved model (``models/<run>-<profile>.pth``, e.g. trained elsewhere on a
    GPU) on the test split, when there is no training split to train it here.

    With no such checkpoint either: raise :class:`DatasetNotFoundError` (the study then records the
    notebook as skipped) or, with ``required=False``, print why and return ``(None, None)``."""
    path = config.path("models", ".pth")
    if not path.is_file():
        message = (f"No training split of {config.dataset!r} and no saved model to evaluate instead "
                   f"({path} does not exist). Get the training split as below, or put a checkpoint of run "
                   f"{config.run_name!r} trained elsewhere at {path}.\n{data.missing_train}")
        if required:
            raise DatasetNotFoundError(message)
        print(f"{config.tag}: not evaluated, no training split and no saved model at {path}.")
        return None, None
    model, meta = load_model(path, config.device)
    history = meta.get("history") or []
    test = evaluate(model, data.test_loader, objective, config.device, desc="test (saved model)")
    outcome = {"history": history, "test": test, "checkpoint": str(path),
               "train_seconds": sum(r["train_seconds"] for r in history)}
    print(f"{config.tag}: evaluated the saved model {path.name} (trained for {len(history)} epochs elsewhere) "
          f"on {test['n_samples']} test recordings, no training here.")
    return model, _measure_and_save(model, config, data, objective, outcome, train_clips=None,
                                    evaluation_only=True, trained_with=meta.get("config"))


def _measure_and_save(model, config, data, objective, outcome, **extra) -> dict:
    """Accuracy over time and spikes, the results file, and the record the notebooks read."""
    over_time = evaluate_over_time(model, data.test_loader, objective, config.device)
    extra = dict(parameters=count_parameters(model), **over_time,
                 **({"learned_beta": model.beta} if getattr(model, "learn_beta", False) else {}),
                 seconds_per_epoch=epoch_seconds(outcome["history"]), **extra)
    path = save_results(config, outcome, **extra)
    return {"run": config.tag, "model": config.model, "seed": config.seed, "results_file": str(path),
            "test": {k: v for k, v in outcome["test"].items() if not torch.is_tensor(v)},
            "history": outcome["history"], "predictions": outcome["test"]["predictions"],
            "labels": outcome["test"]["labels"], **extra}


def mean_curve(records: list[dict]) -> list[float]:
    """Accuracy by time bins seen, averaged over runs (seeds)."""
    return [sum(c) / len(c) for c in zip(*(r["accuracy_by_time_bins"] for r in records))]


def paired_accuracy(runs: dict[str, list[dict]]) -> pd.DataFrame:
    """Test accuracy per seed of two models (``{label: records}``) and their paired difference
    ``"<second> - <first>"`` (seeds pair up: same data order and initialisation seed)."""
    first, second = runs
    table = pd.DataFrame({label: {r["seed"]: r["test"]["accuracy"] for r in records}
                          for label, records in runs.items()}).rename_axis("seed")
    table[f"{second} - {first}"] = table[second] - table[first]
    return table


def epoch_seconds(history: list[dict]) -> float | None:
    """Median training seconds per epoch (the first epoch includes warm-up, so not the mean)."""
    if not history:
        return None
    return float(torch.tensor([row["train_seconds"] for row in history]).median())


def variant(config: RunConfig, suffix: str, **changes) -> RunConfig:
    """A copy of ``config`` named ``<run_name>_<suffix>`` with some fields changed."""
    return RunConfig(**{**config.to_dict(), "run_name": f"{config.run_name}_{suffix}", **changes})


def runs_table(records: list[dict], full_train: int = DVS_FULL_TRAIN) -> pd.DataFrame:
    """One row per run: test accuracy, parameters, measured s/epoch and the estimate for ``full_train`` clips."""
    def per_epoch(r, clips):   # None for a saved model evaluated here (trained elsewhere)
        return round(r["seconds_per_epoch"] * clips / r["train_clips"], 2) if r["train_clips"] else None

    return pd.DataFrame([{
        "run": r["run"], "model": r["model"], "seed": r["seed"], "test accuracy": r["test"]["accuracy"],
        "test clips": r["test"]["n_samples"], "parameters": r["parameters"],
        "s/epoch (measured)": per_epoch(r, r["train_clips"]), "train clips": r["train_clips"],
        f"s/epoch est. {full_train} clips": per_epoch(r, full_train),
    } for r in records]).set_index("run")


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, min and max of test accuracy over seeds, per model."""
    return table.groupby("model")["test accuracy"].agg(["count", "mean", "std", "min", "max"])


def per_class_accuracy(record: dict, class_names: list[str]) -> pd.DataFrame:
    """Per true class: test accuracy, the share of samples with no decision (silent or tied output:
    wrong, not a guess of class 0) and the number of samples, from a record of :func:`train_spiking`."""
    from .objectives import NO_DECISION

    labels, predictions = record["labels"], record["predictions"]
    rate = lambda hit, c: hit[labels == c].float().mean().item() if (labels == c).any() else float("nan")
    return pd.DataFrame({"accuracy": {n: rate(predictions == c, c) for c, n in enumerate(class_names)},
                         "no decision": {n: rate(predictions == NO_DECISION, c) for c, n in enumerate(class_names)},
                         "samples": {n: int((labels == c).sum()) for c, n in enumerate(class_names)}})
