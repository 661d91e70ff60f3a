"""Experiment steps every spiking notebook shares: train one configured run end to end, derive
variants of a config, and tabulate runs (per seed, per class)."""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .analysis import evaluate_over_time
from .config import RunConfig, seed_everything
from .models import build_model, count_parameters
from .results import save_results
from .train import adamw_one_cycle, fit

DVS_FULL_TRAIN = 1077   # clips in DVS128 Gesture's training split (264 in the test split)


def train_spiking(config: RunConfig, data, objective, reuse_trained: bool = False,
                  epoch_metrics=None) -> tuple[nn.Module, dict]:
    """Seed, build, train (AdamW, one-cycle, common.fit), measure accuracy over time, save the results.

    The training loader's shuffling is re-seeded with ``config.seed``, so runs that share one
    loader differ only by their seed. Returns ``(model, record)``: the results file's content.
    """
    seed_everything(config.seed)
    data.train_loader.generator.manual_seed(config.seed)
    model = build_model(config.model, **config.model_kwargs)
    optimizer, scheduler = adamw_one_cycle(model, config, len(data.train_loader))
    outcome = fit(model, config, data.train_loader, data.test_loader, objective, optimizer, scheduler,
                  reuse_trained=reuse_trained, epoch_metrics=epoch_metrics)
    over_time = evaluate_over_time(model, data.test_loader, objective, config.device)
    extra = dict(parameters=count_parameters(model), **over_time,
                 **({"learned_beta": model.beta} if getattr(model, "learn_beta", False) else {}),
                 seconds_per_epoch=epoch_seconds(outcome["history"]), train_clips=len(data.train.labels))
    path = save_results(config, outcome, **extra)
    record = {"run": config.tag, "model": config.model, "seed": config.seed, "results_file": str(path),
              "test": {k: v for k, v in outcome["test"].items() if not torch.is_tensor(v)},
              "history": outcome["history"], "predictions": outcome["test"]["predictions"],
              "labels": outcome["test"]["labels"], **extra}
    return model, record


def train_seeds(config: RunConfig, seeds: list[int], data, objective) -> list[dict]:
    """Records of ``config`` trained once per seed, reusing finished runs of the same config: the run
    keeps its name for its own seed and becomes ``<run_name>_seed<s>`` for the others."""
    return [train_spiking(config if s == config.seed else variant(config, f"seed{s}", seed=s),
                          data, objective, reuse_trained=True)[1] for s in seeds]


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


def epoch_seconds(history: list[dict]) -> float:
    """Median training seconds per epoch (the first epoch includes warm-up, so not the mean)."""
    return float(torch.tensor([row["train_seconds"] for row in history]).median())


def variant(config: RunConfig, suffix: str, **changes) -> RunConfig:
    """A copy of ``config`` named ``<run_name>_<suffix>`` with some fields changed."""
    return RunConfig(**{**config.to_dict(), "run_name": f"{config.run_name}_{suffix}", **changes})


def runs_table(records: list[dict], full_train: int = DVS_FULL_TRAIN) -> pd.DataFrame:
    """One row per run: test accuracy, parameters, measured s/epoch and the estimate for ``full_train`` clips."""
    return pd.DataFrame([{
        "run": r["run"], "model": r["model"], "seed": r["seed"], "test accuracy": r["test"]["accuracy"],
        "test clips": r["test"]["n_samples"], "parameters": r["parameters"],
        "s/epoch (measured)": round(r["seconds_per_epoch"], 2), "train clips": r["train_clips"],
        f"s/epoch est. {full_train} clips": round(r["seconds_per_epoch"] * full_train / r["train_clips"], 1),
    } for r in records]).set_index("run")


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, min and max of test accuracy over seeds, per model."""
    return table.groupby("model")["test accuracy"].agg(["count", "mean", "std", "min", "max"])


def per_class_accuracy(record: dict, class_names: list[str]) -> pd.Series:
    """Test accuracy of each true class, from a record of :func:`train_spiking`."""
    labels, predictions = record["labels"], record["predictions"]
    return pd.Series({name: (predictions[labels == c] == c).float().mean().item() if (labels == c).any()
                      else float("nan") for c, name in enumerate(class_names)}, name="accuracy")
