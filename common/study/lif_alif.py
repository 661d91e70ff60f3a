"""The LIF-vs-ALIF study (notebook 07): its factor grid, one run per cell, and the grid's reading.

Factors of a cell (each one real, each tested): ``neuron`` lif/alif, ``recurrent`` on/off, ``hidden``
size, ``epochs``, ``learn_beta`` (trained membrane decays, stored as logits), and the input
``encoding`` (common/data/encodings.py); ``model`` is ``rsnn`` (common/networks/lif_alif.py), the ``mlp``
baseline on images or ``mlp_spikes``, the same MLP on the spiking cells' spike trains (the neuron's control). A
cell is the spec ``lif_alif`` (common/runs/specs.py) with its factors set, run by
:func:`common.runs.runner.run`; its record is one line of ``results/lif_alif-<profile>.jsonl``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace


from common.runs.cells import Cell, GridContext
from common.runs.records import flat, table_path

FACTORS = ("dataset", "model", "neuron", "recurrent", "hidden", "epochs", "learn_beta", "encoding")


# The headline cells' names in the study's tables (notebook 08, the README): one name per (model, neuron,
# dataset), written here once and looked up, never parsed back.
HEADLINE_RUNS = {f"{model}_{neuron}_{dataset_name}" if neuron else f"{model}_{dataset_name}":
                 {"model": model, "neuron": neuron, "dataset": dataset_name}
                 for model, neuron in (("rsnn", "lif"), ("rsnn", "alif"), ("mlp", None), ("mlp_spikes", None))
                 for dataset_name in ("mnist", "fashion-mnist")}


def headline_name(cell: dict) -> str:
    """The name of a headline cell's kind (``rsnn_alif_mnist``, ``mlp_fashion-mnist``): :data:`HEADLINE_RUNS`."""
    kind = {"model": cell["model"], "neuron": cell.get("neuron") if cell["model"] == "rsnn" else None,
            "dataset": cell["dataset"]}
    return next(name for name, k in HEADLINE_RUNS.items() if k == kind)


# ---------------------------------------------------------------- one cell of the factor grid

def cell_name(cell: dict) -> str:
    """A short, stable, file-safe run name for a cell (its factors and seed, hashed)."""
    digest = hashlib.sha1(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"lif_alif_{cell.get('dataset', 'x')}_{cell.get('model', 'rsnn')}_{digest}"


def lif_alif_cell(factors: dict) -> Cell:
    """The run of one cell: the spec ``lif_alif`` with the cell's model, dataset and factors (missing ones: the
    spec's and the profile's defaults; the profile's ``hidden`` and ``epochs`` are resolved by the grid, so a cell
    key says everything), its images encoded as the cell says. Accuracy is on the whole test set."""
    from common.runs.specs import SPECS

    cell = {"model": "rsnn", **factors}
    base = SPECS["lif_alif"]
    if cell["model"] == "rsnn":
        kwargs = {**base.model_kwargs, **{k: bool(cell[k]) if k != "neuron" else cell[k]
                                          for k in ("neuron", "recurrent", "learn_beta") if k in cell}}
        encoding = cell.get("encoding", "rate")
    else:   # the MLP: on images, or on the spike trains its cell's encoding makes (mlp_spikes)
        kwargs, encoding = {}, (cell.get("encoding", "rate") if cell["model"] == "mlp_spikes" else None)
    if "hidden" in cell:
        kwargs["hidden"] = int(cell["hidden"])
    spec = replace(base, dataset=cell["dataset"], model=cell["model"], model_kwargs=kwargs)
    named = {**{f: cell.get(f) for f in FACTORS}, "seed": int(cell["seed"])}
    return Cell(factors, spec, int(cell["seed"]), run_name=cell_name(cell), named=named,
                knobs={"epochs": int(cell["epochs"])} if "epochs" in cell else {}, data={"encoding": encoding})


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


def headline_cells(settings: dict, dataset: str = "mnist", seed: int = 0) -> dict[str, dict]:
    """The headline comparison's cells on one dataset and seed, by kind: ``lif``, ``alif``, ``mlp``."""
    from common.runs.grid import expand_grid
    return {cell.get("neuron", cell["model"]): cell for cell in expand_grid(study_grid(settings, parts="main"))
            if cell["dataset"] == dataset and cell["seed"] == seed}


def main_comparison(rows: list[dict], settings: dict) -> list[dict]:
    """The records of the headline comparison (``settings["main"]``), whatever their seed (the confirmation's too)."""
    import json

    from common.runs.grid import KEY, SEED, cell_key, expand_grid
    unseeded = lambda cell: cell_key({k: v for k, v in cell.items() if k != SEED})
    keys = {unseeded(cell) for cell in expand_grid(study_grid(settings, parts="main"))}
    return [row for row in rows if unseeded(json.loads(row[KEY])) in keys]


STUDY = "lif_alif"   # its table: results/lif_alif-<profile>.jsonl (common.runs.records.table_path)
CONFIRM = "lif_alif_confirm"   # the primary family's fresh seeds (common.runs.specs.LIF_ALIF_CONFIRM)


def run_study(profile: str = "quick", seed: int = 0, data_root=None, mirror=None, output_root=None,
              device=None, workers: int | None = None, backend: str = "local",
              threads: int | None = None, partition: str = "grid") -> list[dict]:
    """Run (or resume) the profile's LIF-vs-ALIF grid (``partition="grid"``) or the primary family's confirmation on
    fresh seeds (``"confirm"``, its own table); cells already in the results table are skipped.

    Returns the records of this grid. ``workers`` > 1 runs cells in parallel processes (give each
    ``threads`` = cores / workers); ``backend="ray"`` uses Ray Tune.
    """
    from common.runs.grid import run_grid
    from common.runs.specs import profile_settings

    settings = profile_settings("lif_alif", profile)
    workers = workers or settings.get("workers", 1)
    context = GridContext(profile, data_root, mirror, output_root, device, threads=threads or 1)
    cells, study = (confirm_cells(settings), CONFIRM) if partition == "confirm" else (study_cells(settings, seed), STUDY)
    return run_grid(cells, table_path(study, profile, output_root), context, workers=workers, backend=backend)


def study_cells(settings: dict, seed: int = 0, parts: str = "all") -> list[Cell]:
    """Every cell of the profile's grid (:func:`study_grid`), typed."""
    from common.runs.grid import expand_grid
    return [lif_alif_cell(factors) for factors in expand_grid(study_grid(settings, seed, parts))]


def confirm_cells(settings: dict) -> list[Cell]:
    """The confirmation's cells (:data:`common.runs.specs.LIF_ALIF_CONFIRM`): the primary family's kinds on every
    dataset, on seeds the grid never used, seed by seed (a confirmation cut short leaves whole seeds behind it)."""
    from common.runs.specs import LIF_ALIF_CONFIRM
    cells = study_cells({**settings, "main": LIF_ALIF_CONFIRM["parts"]}, LIF_ALIF_CONFIRM["first_seed"], parts="main")
    return sorted(cells, key=lambda cell: cell.seed)


def settings_of(rows: list[dict]) -> dict:
    """The grid's settings in the profile the rows were trained in."""
    from common.runs.specs import profile_settings
    return profile_settings("lif_alif", rows[0]["config"]["profile"])


def complete_seeds(rows: list[dict]) -> list[dict]:
    """The confirmation's rows of the seeds that hold every one of a seed's cells (the family's kinds on every
    dataset): a confirmation still running answers only from whole seeds."""
    if not rows:
        return []
    cells = confirm_cells(settings_of(rows))
    per_seed = len(cells) // len({cell.seed for cell in cells})
    count: dict[int, int] = {}
    for r in rows:
        count[r["cell"]["seed"]] = count.get(r["cell"]["seed"], 0) + 1
    return [r for r in rows if count[r["cell"]["seed"]] == per_seed]


def confirmation(profile: str, output_root=None) -> list[dict]:
    """The confirmation's rows (``run_study(partition="confirm")``) of its whole seeds; none where it has not run."""
    from common.runs.records import ResultsTable
    return complete_seeds(ResultsTable(table_path(CONFIRM, profile, output_root)).rows())


# ---------------------------------------------------------------- figures and tables of notebook 07

def _varying(rows: list[dict], factors=FACTORS) -> list[str]:
    return [f for f in factors if f not in ("dataset", "model") and
            len({r.get(f) for r in rows if r.get("model") == "rsnn"}) > 1]


def cell_label(row: dict, varying: list[str]) -> str:
    """Short label in the source study's flag style: ``ALIF REC B rate H128 I3``; ``MLP H128``."""
    if row.get("model") in ("mlp", "mlp_spikes"):
        spikes = f" on {row.get('encoding') or 'rate'} spikes" if row["model"] == "mlp_spikes" else ""
        return f"MLP{spikes} H{row['hidden']}" + (f" I{row['epochs']}" if "epochs" in varying else "")
    parts = [row["neuron"].upper()]
    parts += ["REC"] if row.get("recurrent") else []
    parts += (["B"] if row.get("learn_beta") else ["fixed"]) if "learn_beta" in varying else []
    parts += [row["encoding"]] if "encoding" in varying else []
    parts += [f"H{row['hidden']}"] if "hidden" in varying else []
    parts += [f"I{row['epochs']}"] if "epochs" in varying else []
    return " ".join(parts)


def cell_table(rows: list[dict]):
    """One line per (dataset, cell): mean and std of test accuracy over seeds, n, mean learned decays."""
    rows = [flat(r) for r in rows]
    import pandas as pd

    from common.runs.stats import seed_summary

    varying = _varying(rows)
    frame = pd.DataFrame([{**r, "cell": cell_label(r, varying)} for r in rows])
    for column in ("beta_hidden", "beta_readout"):
        if column not in frame:
            frame[column] = float("nan")
    grouped = frame.groupby(["dataset", "cell"], sort=False)
    table = seed_summary(frame, ["dataset", "cell"])
    for column, values in (("test_samples", grouped.test_samples.min()), ("beta_hidden", grouped.beta_hidden.mean()),
                           ("beta_readout", grouped.beta_readout.mean()), ("train_s", grouped.train_seconds.mean())):
        table[column] = list(values)
    return table


def plot_accuracy_bars(rows: list[dict]):
    """The source study's bar charts, one panel per dataset, now with mean +- std over seeds and every seed."""
    rows = [flat(r) for r in rows]
    import matplotlib.pyplot as plt

    table = cell_table(rows)
    varying = _varying(rows)
    datasets = list(dict.fromkeys(table.dataset))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        part = table[table["dataset"] == name].sort_values("mean")
        ax.barh(part.cell, part["mean"], xerr=part["std"].fillna(0), color="tab:blue", alpha=0.6, capsize=3)
        for i, cell in enumerate(part.cell):
            seeds = [r["test_accuracy"] for r in rows if r["dataset"] == name and cell_label(r, varying) == cell]
            ax.plot(seeds, [i] * len(seeds), "k.", ms=4)
        low = max(0.0, part["mean"].min() - 3 * part["std"].fillna(0).max() - 0.02)
        ax.set(xlim=(low, 1.0), xlabel="test accuracy (full test set), mean +- std over seeds", title=name)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_learned_betas(rows: list[dict]):
    """Where the trained decays ended (hidden beta, readout kappa), every seed, against their start values."""
    rows = [flat(r) for r in rows]
    import matplotlib.pyplot as plt

    from common.networks.neurons import TAU_M_MS, decay

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
    rows = [flat(r) for r in rows]
    from common.runs.stats import factor_effects

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
    rows = [flat(r) for r in rows]
    from common.runs.specs import SOURCE_REPORTED

    lines = []
    for name, kind in HEADLINE_RUNS.items():
        if name not in SOURCE_REPORTED:
            continue
        reported, how = SOURCE_REPORTED[name]
        means = cell_means(rows, kind["model"], kind["dataset"], kind["neuron"])
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
    rows = [flat(r) for r in rows]
    from common.runs.stats import summarize
    chosen = [r for r in rows if r.get("model") == model and r.get("dataset") == dataset
              and (neuron is None or r.get("neuron") == neuron)]
    return list(summarize(chosen)["mean"]) if chosen else []


def reading(rows: list[dict]) -> str:
    """A few sentences on the results, every number computed here from the rows."""
    rows = [flat(r) for r in rows]
    table = cell_table(rows)
    effects = effects_table(rows)
    lines = []
    for name in dict.fromkeys(table.dataset):
        part = table[table["dataset"] == name]
        best = part.loc[part["mean"].idxmax()]
        mlp = part[part.cell.str.startswith("MLP") & ~part.cell.str.contains(" spikes")]
        on_spikes = part[part.cell.str.contains("MLP on .* spikes")]
        line = (f"{name}: the best cell is {best.cell} at {best['mean']:.2%} +- {best['std']:.2%} "
                f"(n={best.n} seeds, {best.test_samples} test images)")
        alif = part[part.cell.str.startswith("ALIF")]
        if len(alif) and not best.cell.startswith("ALIF"):
            top = alif.loc[alif["mean"].idxmax()]
            line += f"; the best ALIF cell is {top.cell} at {top['mean']:.2%} +- {top['std']:.2%} (n={top.n})"
        if len(mlp):
            line += f"; the MLP with the same hidden size reaches {mlp['mean'].max():.2%} on images"
        if len(on_spikes):
            line += f" and {on_spikes['mean'].max():.2%} on the spiking cells' spike trains"
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
        from common.networks.neurons import TAU_M_MS, decay
        hidden = [r["beta_hidden"] for r in learned]
        moved = max(abs(b - decay(TAU_M_MS)) for b in hidden)
        lines.append(f"Trained hidden decays ended between {min(hidden):.4f} and {max(hidden):.4f}, inside (0, 1); "
                     f"the largest move from the start value {decay(TAU_M_MS):.4f} is {moved:.4f}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m common.study.lif_alif --profile quick [--workers 2] [--backend ray]``: run the grid headless."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--partition", default="grid", choices=("grid", "confirm"),
                        help="the grid, or the primary family's confirmation on fresh seeds (its own table)")
    parser.add_argument("--workers", type=int, default=None, help="parallel cells (default: the profile's)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--backend", default="local", choices=("local", "ray"))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--mirror", default=None)
    parser.add_argument("--output-root", default=None)
    args = parser.parse_args(argv)
    from common.study import (
        lif_alif,  # not this __main__ module: pool workers must find common.study.lif_alif's cells
    )
    rows = lif_alif.run_study(args.profile, args.seed, args.data_root, args.mirror, args.output_root,
                              workers=args.workers, backend=args.backend, threads=args.threads,
                              partition=args.partition)
    study = CONFIRM if args.partition == "confirm" else STUDY
    print(f"{len(rows)} rows in {table_path(study, args.profile, args.output_root)}")
    return 0


if __name__ == "__main__":
    from common.runs.preflight import command_line
    raise SystemExit(command_line(main))    # the study's own errors: one sentence, exit code 2 (--debug: traceback)
