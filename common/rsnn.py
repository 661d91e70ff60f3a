"""The LIF-vs-ALIF study's networks, and one training cell of its factor grid.

``rsnn``: 784 input spikes -> one hidden spiking layer (LIF or ALIF from common/neurons.py,
optionally recurrent with the diagonal of the recurrent weights masked: no self-connections) ->
leaky non-spiking readout of 10 units. ``forward(spikes [T, B, 784]) -> logits [B, 10]``: the
readout membrane averaged over time (``readout="mean"``, default). Why the mean and not the
source's max: every time step then receives a gradient (the max passes gradient to one step per
class), and a transient early peak cannot decide the class alone. ``"max"`` and ``"last"`` remain
options. Logits go to cross-entropy (common.objectives.CROSS_ENTROPY), as for the MLP.

``mlp``: the non-spiking baseline with the same hidden size, 784 -> hidden (ReLU) -> 10, on the
intensities themselves (image loaders, no spikes).

Factors of a cell (each one real, each tested): ``neuron`` lif/alif, ``recurrent`` on/off,
``hidden`` size, ``epochs``, ``learn_beta`` (trained membrane decays, stored as logits), and the
input ``encoding`` (common/encodings.py). :func:`train_cell` turns one cell into one results row.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import time

import torch
from torch import nn

from .models import register
from .neurons import NEURONS, LeakyReadout

READOUTS = ("mean", "max", "last")
FACTORS = ("dataset", "model", "neuron", "recurrent", "hidden", "epochs", "learn_beta", "encoding")


@register("rsnn")
class RecurrentSNN(nn.Module):
    """784 -> hidden LIF/ALIF (optional masked recurrence) -> leaky readout; logits ``[B, n_classes]``."""

    def __init__(self, neuron: str = "lif", hidden: int = 128, recurrent: bool = False,
                 learn_beta: bool = False, n_inputs: int = 784, n_classes: int = 10,
                 readout: str = "mean", beta: float | None = None, kappa: float | None = None,
                 neuron_kwargs: dict | None = None):
        super().__init__()
        if neuron not in NEURONS:
            raise ValueError(f"neuron must be one of {sorted(NEURONS)}, got {neuron!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.readout_mode, self.recurrent = readout, recurrent
        self.fc_in = nn.Linear(n_inputs, hidden)
        self.hidden = NEURONS[neuron](beta=beta, learn_beta=learn_beta, **(neuron_kwargs or {}))
        if recurrent:
            self.w_rec = nn.Parameter(torch.empty(hidden, hidden))
            nn.init.orthogonal_(self.w_rec, gain=0.5)
            self.register_buffer("rec_mask", 1.0 - torch.eye(hidden))
        self.fc_out = nn.Linear(hidden, n_classes)
        self.readout = LeakyReadout(kappa=kappa, learn_kappa=learn_beta)
        self.spike_rate = 0.0
        self.spike_counts: dict[str, float] = {}   # hidden spikes per sample, after each forward
        self.neurons_per_sample = hidden + n_classes   # membranes that leak every step (energy estimate)

    def recurrent_weight(self) -> torch.Tensor:
        """The recurrent weights actually used: diagonal zeroed (no neuron drives itself)."""
        return self.w_rec * self.rec_mask

    @property
    def betas(self) -> dict[str, float]:
        """Current decays: hidden membrane ``beta`` and readout ``kappa``."""
        return {"beta_hidden": self.hidden.beta.item(), "beta_readout": self.readout.kappa.item()}

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        if spikes.dim() != 3:
            raise ValueError(f"expected input spikes [T, B, {self.fc_in.in_features}], got {tuple(spikes.shape)}")
        current = self.fc_in(spikes.float())                  # all T steps in one matmul
        recurrent = None
        if self.recurrent:
            weight = self.recurrent_weight()
            recurrent = lambda z: z @ weight.t()
        hidden_spikes = self.hidden(current, recurrent)       # [T, B, hidden]
        membrane = self.readout(self.fc_out(hidden_spikes))   # [T, B, n_classes]
        self.spike_rate = hidden_spikes.detach().mean().item()
        self.spike_counts = {"hidden": hidden_spikes.detach().sum().item() / spikes.shape[1]}   # per sample
        if self.readout_mode == "mean":
            return membrane.mean(0)
        if self.readout_mode == "max":
            return membrane.max(0).values
        return membrane[-1]


@register("mlp")
class MLP(nn.Module):
    """The non-spiking baseline: flatten -> Linear(784, hidden) -> ReLU -> Linear(hidden, 10)."""

    def __init__(self, hidden: int = 128, n_inputs: int = 784, n_classes: int = 10):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(n_inputs, hidden), nn.Linear(hidden, n_classes)
        self.act = nn.ReLU()   # a module, so NeuroBench's hooks see the activations

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x.flatten(1))))


# ---------------------------------------------------------------- one cell of the factor grid

def cell_name(cell: dict) -> str:
    """A short, stable, file-safe run name for a cell (its factors and seed, hashed)."""
    digest = hashlib.sha1(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"lif_alif_{cell.get('dataset', 'x')}_{cell.get('model', 'rsnn')}_{digest}"


def train_cell(cell: dict, context: dict) -> dict:
    """Train and test one cell; return its results row.

    ``cell``: factors (see FACTORS; missing ones take defaults) and ``seed``. ``context``: what is
    the same for every cell: ``profile``, ``settings`` (PROFILE_SETTINGS["lif_alif"][profile]),
    ``data_root``, ``mirror``, ``output_root``, ``device``. Accuracy is on the whole test set
    (``test_limit`` is set only by the smoke profile's fixture data).
    """
    import common  # noqa: F401  (applies patches; keeps a worker process identical to the notebook's)
    from .config import RunConfig, seed_everything
    from .data import image_loaders
    from .encodings import spike_loaders
    from .objectives import CROSS_ENTROPY
    from .train import adamw_one_cycle, fit

    settings = context["settings"]
    cell = {"model": "rsnn", **cell}
    seed, model_name = int(cell["seed"]), cell["model"]
    hidden = int(cell.get("hidden", settings.get("hidden", 128)))
    if model_name == "rsnn":
        kwargs = {"neuron": cell.get("neuron", "lif"), "hidden": hidden,
                  "recurrent": bool(cell.get("recurrent", False)),
                  "learn_beta": bool(cell.get("learn_beta", False)), "readout": settings.get("readout", "mean")}
    else:
        kwargs = {"hidden": hidden}
    epochs = int(cell.get("epochs", settings["epochs"]))
    config = RunConfig(run_name=cell_name(cell), dataset=cell["dataset"], model=model_name,
                       model_kwargs=kwargs, profile=context["profile"], epochs=epochs,
                       batch_size=settings.get("batch_size", 128), lr=settings.get("lr", 2e-3),
                       weight_decay=settings.get("weight_decay", 1e-5), seed=seed,
                       device=context.get("device"), data_root=context.get("data_root"),
                       mirror=context.get("mirror"), output_root=context.get("output_root"),
                       extra={"cell": cell, "n_steps": settings["n_steps"]})
    # One thread per cell by default: these small matrices gain little from a second thread, and on a
    # busy machine two OpenMP threads ran 4-5x slower than one (measured); run cells in parallel instead.
    torch.set_num_threads(int(context.get("threads") or 1))
    seed_everything(seed)
    limits = {"train_limit": settings.get("train_limit"), "test_limit": settings.get("test_limit")}
    if model_name == "rsnn":
        train_loader, test_loader, _ = spike_loaders(
            config.dataset, cell.get("encoding", "rate"), settings["n_steps"], config.data_root,
            config.mirror, config.batch_size, seed, **limits)
    else:
        train_loader, test_loader, _ = image_loaders(config.dataset, config.data_root, config.mirror,
                                                     config.batch_size, seed, **limits)
    model = common.build_model(model_name, **kwargs)
    optimizer, scheduler = adamw_one_cycle(model, config, len(train_loader))
    betas = (lambda m: m.betas) if model_name == "rsnn" else None
    start = time.perf_counter()
    outcome = fit(model, config, train_loader, test_loader, CROSS_ENTROPY, optimizer, scheduler,
                  reuse_trained=True, evaluate_every_epoch=False, epoch_metrics=betas)
    row = {**{f: cell.get(f) for f in FACTORS}, "seed": seed, "hidden": hidden, "epochs": epochs,
           "test_accuracy": outcome["test"]["accuracy"], "test_samples": outcome["test"]["n_samples"],
           "test_loss": outcome["test"]["loss"], "train_seconds": outcome["train_seconds"],
           "wall_seconds": time.perf_counter() - start,
           "seconds_per_epoch": outcome["train_seconds"] / max(1, len(outcome["history"])),
           "parameters": common.count_parameters(model), "n_steps": settings["n_steps"] if model_name == "rsnn" else None,
           "run": config.tag, "checkpoint": os.path.relpath(outcome["checkpoint"], config.output_root),
           "device": config.device, "torch_threads": torch.get_num_threads(),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if model_name == "rsnn":
        row.update(model.betas, spike_rate=model.spike_rate)
    return row


# ---------------------------------------------------------------- the study's grid, from the profile

def study_grid(settings: dict, seed: int = 0, parts: str = "all") -> list[dict]:
    """The profile's grid made explicit: every part gets the datasets, seeds (``seed`` onwards, the
    part's ``n_seeds`` or the profile's), and the default ``hidden`` / ``epochs`` when it does not
    list them (so a cell key says everything).

    ``parts``: ``"main"`` (the headline comparison: LIF vs ALIF beside the MLP, equal budgets),
    ``"factors"`` (the other factors' cells) or ``"all"``.
    """
    chosen = {"main": settings["main"], "factors": settings["grid"],
              "all": settings["main"] + settings["grid"]}[parts]
    grid = []
    for part in chosen:
        part = dict(part)
        n_seeds = part.pop("n_seeds", settings["n_seeds"])
        grid.append({"dataset": list(settings["datasets"]), "hidden": [settings["hidden"]],
                     "epochs": [settings["epochs"]], **part, "seeds": [seed + i for i in range(n_seeds)]})
    return grid


def main_comparison(rows: list[dict], settings: dict) -> list[dict]:
    """The rows of the headline comparison (``settings["main"]``), every seed."""
    from .sweep import KEY, cell_key, expand_grid
    keys = {cell_key(cell) for cell in expand_grid(study_grid(settings, parts="main"))}
    return [row for row in rows if row[KEY] in keys]


def results_table_path(profile: str, output_root=None):
    from pathlib import Path
    from .config import default_output_root
    root = Path(output_root or default_output_root(profile))
    return root / "results" / f"lif_alif-{profile}.jsonl"


def run_study(profile: str = "quick", seed: int = 0, data_root=None, mirror=None, output_root=None,
              device=None, workers: int | None = None, backend: str = "local",
              threads: int | None = None) -> list[dict]:
    """Run (or resume) the profile's LIF-vs-ALIF grid; cells already in the results table are skipped.

    Returns the rows of this grid. ``workers`` > 1 runs cells in parallel processes (give each
    ``threads`` = cores / workers); ``backend="ray"`` uses Ray Tune.
    """
    from .config import profile_settings
    from .sweep import run_grid

    settings = profile_settings("lif_alif", profile)
    workers = workers or settings.get("workers", 1)
    context = {"profile": profile, "settings": settings, "data_root": data_root, "mirror": mirror,
               "output_root": output_root, "device": device, "threads": threads}
    return run_grid(study_grid(settings, seed), train_cell, results_table_path(profile, output_root),
                    context, workers=workers, backend=backend)



# ---------------------------------------------------------------- figures and tables of notebook 07

def _varying(rows: list[dict], factors=FACTORS) -> list[str]:
    return [f for f in factors if f not in ("dataset", "model") and
            len({r.get(f) for r in rows if r.get("model") == "rsnn"}) > 1]


def cell_label(row: dict, varying: list[str]) -> str:
    """Short label in the source study's flag style: ``ALIF REC B rate H128 I3``; ``MLP H128``."""
    if row.get("model") == "mlp":
        return f"MLP H{row['hidden']}" + (f" I{row['epochs']}" if "epochs" in varying else "")
    parts = [row["neuron"].upper()]
    parts += ["REC"] if row.get("recurrent") else []
    parts += (["B"] if row.get("learn_beta") else ["fixed"]) if "learn_beta" in varying else []
    parts += [row["encoding"]] if "encoding" in varying else []
    parts += [f"H{row['hidden']}"] if "hidden" in varying else []
    parts += [f"I{row['epochs']}"] if "epochs" in varying else []
    return " ".join(parts)


def cell_table(rows: list[dict]):
    """One line per (dataset, cell): mean and std of test accuracy over seeds, n, mean learned decays."""
    import pandas as pd

    varying = _varying(rows)
    frame = pd.DataFrame([{**r, "cell": cell_label(r, varying)} for r in rows])
    for column in ("beta_hidden", "beta_readout"):
        if column not in frame:
            frame[column] = float("nan")
    grouped = frame.groupby(["dataset", "cell"], sort=False)
    return pd.DataFrame({"mean": grouped.test_accuracy.mean(), "std": grouped.test_accuracy.std(),
                         "n": grouped.test_accuracy.count(), "test_samples": grouped.test_samples.min(),
                         "beta_hidden": grouped.beta_hidden.mean(), "beta_readout": grouped.beta_readout.mean(),
                         "train_s": grouped.train_seconds.mean()}).reset_index()


def plot_accuracy_bars(rows: list[dict]):
    """The source study's bar charts, one panel per dataset, now with mean +- std over seeds and every seed."""
    import matplotlib.pyplot as plt

    table = cell_table(rows)
    varying = _varying(rows)
    datasets = list(dict.fromkeys(table.dataset))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        part = table[table.dataset == dataset].sort_values("mean")
        ax.barh(part.cell, part["mean"], xerr=part["std"].fillna(0), color="tab:blue", alpha=0.6, capsize=3)
        for i, cell in enumerate(part.cell):
            seeds = [r["test_accuracy"] for r in rows if r["dataset"] == dataset and cell_label(r, varying) == cell]
            ax.plot(seeds, [i] * len(seeds), "k.", ms=4)
        low = max(0.0, part["mean"].min() - 3 * part["std"].fillna(0).max() - 0.02)
        ax.set(xlim=(low, 1.0), xlabel="test accuracy (full test set), mean +- std over seeds", title=dataset)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_learned_betas(rows: list[dict]):
    """Where the trained decays ended (hidden beta, readout kappa), every seed, against their start values."""
    import matplotlib.pyplot as plt
    from .neurons import TAU_M_MS, decay

    learned = [r for r in rows if r.get("model") == "rsnn" and r.get("learn_beta")]
    varying = _varying(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = list(dict.fromkeys(f"{r['dataset']}: {cell_label(r, varying)}" for r in learned))
    for i, label in enumerate(labels):
        mine = [r for r in learned if f"{r['dataset']}: {cell_label(r, varying)}" == label]
        ax.plot([r["beta_hidden"] for r in mine], [i] * len(mine), "o", color="tab:red", label="hidden beta" if i == 0 else None)
        ax.plot([r["beta_readout"] for r in mine], [i] * len(mine), "s", color="tab:green", label="readout kappa" if i == 0 else None)
    ax.axvline(decay(TAU_M_MS), color="tab:red", ls="--", lw=1, label="beta at start")
    ax.axvline(decay(10.0), color="tab:green", ls="--", lw=1, label="kappa at start")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="decay per step (learned; always inside (0, 1))", title="learned membrane decays")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def effects_table(rows: list[dict]):
    """Paired differences (level b minus level a, same dataset / other factors / seed) with 95% t-intervals,
    for every factor that varies among the spiking cells: categories against their first level, sizes
    (hidden, epochs) each against the next smaller."""
    from .sweep import factor_effects

    spiking = [r for r in rows if r.get("model") == "rsnn"]
    comparisons = []
    order = {"neuron": ["lif", "alif"], "recurrent": [False, True], "learn_beta": [False, True],
             "encoding": ["rate", "latency", "periodic"]}
    for factor in _varying(rows):
        levels = [l for l in order.get(factor, sorted({r[factor] for r in spiking})) if l in {r[factor] for r in spiking}]
        if factor in ("hidden", "epochs"):       # sizes: each level against the next smaller one
            comparisons += [(factor, a, b) for a, b in zip(levels, levels[1:])]
        else:                                     # categories: each level against the reference
            comparisons += [(factor, levels[0], level) for level in levels[1:]]
    return factor_effects(spiking, comparisons)


def source_claims(rows: list[dict]) -> list[str]:
    """The source study's reported numbers beside this grid's corresponding cells (mean over seeds)."""
    from .compare import SOURCE_REPORTED

    lines = []
    for name, (reported, how) in SOURCE_REPORTED.items():
        model, _, rest = name.partition("_")
        neuron, dataset = rest.split("_", 1) if model == "rsnn" else (None, rest)
        if model not in ("rsnn", "mlp"):
            continue
        means = cell_means(rows, model, dataset, neuron)
        if means:
            lines.append(f"Source reported {name} {reported:.2%} ({how}); the best cell of that kind here: "
                         f"{max(means):.2%} (mean over seeds).")
    gap = SOURCE_REPORTED["rsnn_alif_fashion-mnist"][0] - SOURCE_REPORTED["rsnn_lif_fashion-mnist"][0]
    effect = effects_table([r for r in rows if r.get("dataset") == "fashion-mnist"])
    effect = effect[effect.factor == "neuron"] if len(effect) else effect
    if len(effect):
        e = effect.iloc[-1]
        holds = "holds" if e.low > 0 else "is not supported"
        lines.append(f"The source's ALIF-over-LIF gain on Fashion-MNIST ({gap:+.2%}, one unseeded run each) {holds} "
                     f"here: {e['mean']:+.2%} (95% CI {e.low:+.2%} .. {e.high:+.2%}, {e.n} paired runs).")
    return lines


def cell_means(rows: list[dict], model: str, dataset: str, neuron: str | None) -> list[float]:
    """Mean test accuracy over seeds of every cell of one model kind on one dataset."""
    from .sweep import summarize
    chosen = [r for r in rows if r.get("model") == model and r.get("dataset") == dataset
              and (neuron is None or r.get("neuron") == neuron)]
    return list(summarize(chosen)["mean"]) if chosen else []


def reading(rows: list[dict]) -> str:
    """A few sentences on the results, every number computed here from the rows."""
    table = cell_table(rows)
    effects = effects_table(rows)
    lines = []
    for dataset in dict.fromkeys(table.dataset):
        part = table[table.dataset == dataset]
        best = part.loc[part["mean"].idxmax()]
        mlp = part[part.cell.str.startswith("MLP")]
        line = (f"{dataset}: the best cell is {best.cell} at {best['mean']:.2%} +- {best['std']:.2%} "
                f"(n={best.n} seeds, {best.test_samples} test images)")
        alif = part[part.cell.str.startswith("ALIF")]
        if len(alif) and not best.cell.startswith("ALIF"):
            top = alif.loc[alif["mean"].idxmax()]
            line += f"; the best ALIF cell is {top.cell} at {top['mean']:.2%} +- {top['std']:.2%} (n={top.n})"
        if len(mlp):
            line += f"; the MLP with the same hidden size reaches {mlp['mean'].max():.2%}"
        lines.append(line + ".")
    if len(effects):
        pooled = effects.groupby(["factor", "a", "b"], sort=False).tail(1)   # the "all" line, or the only one
        for _, e in pooled.iterrows():
            sure = "excludes" if (e.low > 0 or e.high < 0) else "includes"
            lines.append(f"{e.factor} {e.a} -> {e.b}: {e['mean']:+.2%} (95% CI {e.low:+.2%} .. {e.high:+.2%}, "
                         f"{e.n} paired runs); the interval {sure} zero.")
    lines += source_claims(rows)
    learned = [r for r in rows if r.get("model") == "rsnn" and r.get("learn_beta")]
    if learned:
        from .neurons import TAU_M_MS, decay
        hidden = [r["beta_hidden"] for r in learned]
        moved = max(abs(b - decay(TAU_M_MS)) for b in hidden)
        lines.append(f"Trained hidden decays ended between {min(hidden):.4f} and {max(hidden):.4f}, inside (0, 1); "
                     f"the largest move from the start value {decay(TAU_M_MS):.4f} is {moved:.4f}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m common.rsnn --profile quick [--workers 2] [--backend ray]``: run the grid headless."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="parallel cells (default: the profile's)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--backend", default="local", choices=("local", "ray"))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--mirror", default=None)
    parser.add_argument("--output-root", default=None)
    args = parser.parse_args(argv)
    from common import rsnn   # not this __main__ module: pool workers must find common.rsnn.train_cell
    rows = rsnn.run_study(args.profile, args.seed, args.data_root, args.mirror, args.output_root,
                          workers=args.workers, backend=args.backend, threads=args.threads)
    print(f"{len(rows)} rows in {results_table_path(args.profile, args.output_root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
