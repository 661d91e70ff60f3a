"""The gesture study (notebooks 05-06): the source's spiking CNN against a spiking LSTM, a wider spiking CNN and a
conventional CNN of equal size, on event-camera gestures, over paired training seeds.

It runs on DVS128 Gesture where that training split is at hand, else on DVS_Sign (Chen et al. 2023, the authors'
600 / 150 split; :mod:`common.data.datasets` says what it is and is not), through one resumable grid
(:func:`common.runs.grid.run_seeds`): every (model, seed) is one :func:`common.runs.runner.run` with the same epochs,
optimizer, schedule, batch, learning rate and time bins, one row of ``results/gestures_<dataset>-<profile>.jsonl``.

Its questions are one family, declared here before any run (:data:`FAMILY`): each is the paired difference of test
accuracy after all bins over seeds (same seed: same initialisation seed and sample order), a t-test over seeds,
Holm's adjustment over the family, and Bonferroni-adjusted intervals beside it. With 5 seeds a difference is claimed
only when it survives that; otherwise it reads "inconclusive" with its interval. Per seed, 150 test clips give a
binomial interval of about +-7 points (shown per seed: the recording level, descriptive).

    python -m common.study.gestures --profile quick      # the long run, resumable; rows appended as they finish
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from common.data.datasets import describe
from common.data.errors import DatasetNotFoundError

STUDY = "gestures"
# each dataset's specs by the role they play (common/runs/specs.py); DVS128 Gesture has no equal-size spiking LSTM
ROLES = {
    "dvssign": {"spiking CNN": "scnn_dvssign", "spiking CNN, wide": "scnn_dvssign_wide",
                "CNN, time bins as channels": "cnn_dvssign", "spiking LSTM, equal size": "slstm_dvssign_small",
                "spiking LSTM, source size": "slstm_dvssign"},
    "dvsgesture": {"spiking CNN": "scnn_dvsgesture", "spiking CNN, wide": "scnn_dvsgesture_wide",
                   "CNN, time bins as channels": "cmp_cnn_dvsgesture", "spiking LSTM, source size": "cmp_slstm_dvsgesture"},
}
# The study's questions, declared before its runs: (a, b), b - a reported, after all bins.
FAMILY = [("spiking CNN", "spiking LSTM, equal size"),        # the source's question, at one size and budget
          ("spiking CNN", "spiking LSTM, source size"),       # ... at the source's size
          ("CNN, time bins as channels", "spiking CNN"),      # what spiking buys against a conventional CNN
          ("spiking CNN", "spiking CNN, wide")]               # what width buys
# The numbers the source and the dataset's authors reported, shown beside ours (never compared by a test)
REPORTED = {"source study, DVS128 Gesture, spiking CNN (5 epochs)": 0.6016,
            "source study, DVS128 Gesture, spiking conv-LSTM (13 epochs)": 0.8516,
            "DVS_Sign authors' best SNN (Chen et al. 2023)": 0.77}


def gesture_dataset(data_root=None, mirror=None, **other_locations) -> tuple[str, str]:
    """The dataset the gesture study runs on here and one line saying why: DVS128 Gesture where its training split
    is on disk, else DVS_Sign where it is, else DVS128 Gesture (its loader downloads it or says how to get it)."""
    from common.config import resolve_locations
    from common.data.fetching import find_event_split

    data_root, mirror, _ = resolve_locations(data_root, mirror, None)
    present = {}
    for name in ROLES:
        try:
            find_event_split(name, True, data_root, mirror, download=False)
            present[name] = True
        except DatasetNotFoundError:
            present[name] = False
    if present["dvsgesture"]:
        return "dvsgesture", "DVS128 Gesture's training split is here: the gesture study runs on it."
    if present["dvssign"]:
        return "dvssign", ("No DVS128 Gesture training split here, so the gesture study runs on DVS_Sign "
                           f"({describe('dvssign').caveats}).")
    return "dvsgesture", "Neither DVS128 Gesture's nor DVS_Sign's training split is here."


# which models each notebook trains (notebook 06 adds the spiking LSTMs and reads every model's rows)
NOTEBOOK_05 = ["spiking CNN", "spiking CNN, wide", "CNN, time bins as channels"]


def specs_of(dataset: str, roles=None) -> dict[str, str]:
    roles = roles or list(ROLES[dataset])
    return {role: ROLES[dataset][role] for role in roles if role in ROLES[dataset]}


def seeds(profile: str) -> list[int]:
    from common.runs.specs import profile_settings
    return list(range(profile_settings("dvssign", profile)["seeds"]))


def run_study(profile: str = "quick", roles=None, overrides: dict | None = None, reuse_trained: bool = True,
              workers: int | None = None, dataset: str | None = None, **locations) -> list[dict]:
    """Train (or reuse) every (role, seed) of the gesture study; its rows, each with its ``role``."""
    from common.runs import grid
    from common.runs.specs import profile_settings

    dataset = dataset or gesture_dataset(locations.get("data_root"), locations.get("mirror"))[0]
    names = specs_of(dataset, roles)
    workers = workers or profile_settings("dvssign", profile).get("workers", 1)
    rows = grid.run_seeds(f"{STUDY}_{dataset}", list(names.values()), seeds(profile), profile, overrides,
                          reuse_trained, workers=workers, **locations)
    return with_roles(rows, dataset)


def config_of(dataset: str, role: str, seed: int, profile: str, overrides: dict | None = None, **locations):
    """The run config of ``role``'s run with ``seed`` (its saved model is ``models/<run>-<profile>.pth``)."""
    from common.runs.specs import resolve
    return resolve(ROLES[dataset][role], profile, seed=seed, overrides=overrides, **locations).config


def model_sizes(dataset: str, profile: str, overrides: dict | None = None) -> pd.DataFrame:
    """Each model's parameters and what it is built from, as its spec resolves under ``profile``."""
    import common
    from common.runs.specs import resolve

    lines = []
    for role, name in ROLES[dataset].items():
        config = resolve(name, profile, overrides=overrides).config
        model = common.build_model(config.model, **config.model_kwargs)
        lines.append({"model": role, "spec": name, "network": config.model,
                      "parameters": common.count_parameters(model), "epochs": config.epochs,
                      "time bins": config.data.n_time_bins, "batch": config.batch_size, "lr": config.lr,
                      "objective": config.objective["kind"]})
    return pd.DataFrame(lines).set_index("model")


def answered_clip(rows: list[dict], roles: list[str], seed: int = 0) -> int:
    """The first test clip that every one of ``roles``' runs with ``seed`` answers correctly (0 if none does): the
    clip a video or a side-by-side explanation shows, so it shows a right answer."""
    runs = _by_role(rows)
    right = None
    for role in roles:
        record = runs[role][seed]
        correct = np.asarray(record["test"]["predictions"]) == np.asarray(record["test"]["labels"])
        right = correct if right is None else right & correct
    return int(np.flatnonzero(right)[0]) if right is not None and right.any() else 0


def records(dataset: str, profile: str, output_root=None) -> list[dict]:
    """The committed rows of the study on ``dataset``, each with its ``role``."""
    from common.runs.records import ResultsTable, table_path
    return with_roles(ResultsTable(table_path(f"{STUDY}_{dataset}", profile, output_root)).rows(), dataset)


def records_by_dataset(profile: str, output_root=None) -> dict[str, list[dict]]:
    """The committed rows of every gesture dataset that has any, each with its ``role``: the one walk over
    :data:`ROLES` that the findings, the comparison and the report read."""
    found = {name: records(name, profile, output_root) for name in ROLES}
    return {name: rows for name, rows in found.items() if rows}


def with_roles(rows: list[dict], dataset: str) -> list[dict]:
    role_of = {spec: role for role, spec in ROLES[dataset].items()}
    return [{**r, "role": role_of[r["cell"]["spec"]], "label": role_of[r["cell"]["spec"]]}
            for r in rows if r["cell"]["spec"] in role_of]


# ------------------------------------------------------------------------------------------------ what it shows

def _by_role(rows) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for r in rows:
        out.setdefault(r["role"], {})[int(r["cell"]["seed"])] = r
    return out


def accuracy_table(rows: list[dict]) -> pd.DataFrame:
    """Per model: seeds, parameters, test accuracy mean with its 95% t-interval over seeds, min and max, and the
    typical per-seed binomial (Wilson) 95% half-width on the test clips: the recording level."""
    from statsmodels.stats.proportion import proportion_confint

    from common.runs.stats import t_interval

    lines = []
    for role, runs in _by_role(rows).items():
        accuracy = [r["test"]["accuracy"] for r in runs.values()]
        n = runs[min(runs)]["test"]["n_samples"]
        half = np.median([np.diff(proportion_confint(round(a * n), n, method="wilson"))[0] / 2 for a in accuracy])
        lines.append({"model": role, "parameters": runs[min(runs)]["parameters"], **t_interval(accuracy),
                      "min": min(accuracy), "max": max(accuracy), "test clips": n, "per-seed +-": half,
                      "s/epoch": float(np.median([r["seconds_per_epoch"] for r in runs.values()]))})
    return pd.DataFrame(lines).set_index("model")


def family(rows: list[dict], pairs=None, level: float = 0.95) -> pd.DataFrame:
    """The declared questions: ``b - a`` paired over the seeds both have, t-test over seeds, Holm over the family,
    Bonferroni-adjusted intervals (level 1 - alpha/m); a pair missing a model is listed with no test."""
    from common.runs.stats import holm, t_interval, verdict

    pairs = pairs or FAMILY
    runs = _by_role(rows)
    present = [(a, b) for a, b in pairs if a in runs and b in runs]
    adjusted_level = 1 - (1 - level) / max(1, len(present))
    lines = []
    for a, b in present:
        common_seeds = sorted(set(runs[a]) & set(runs[b]))
        differences = [runs[b][s]["test"]["accuracy"] - runs[a][s]["test"]["accuracy"] for s in common_seeds]
        plain, adjusted = t_interval(differences, level), t_interval(differences, adjusted_level)
        lines.append({"a": a, "b": b, "seeds": len(common_seeds), "b - a": plain["mean"], "p": plain["p_value"],
                      "low (adjusted)": adjusted["low"], "high (adjusted)": adjusted["high"],
                      "b ahead in seeds": int(sum(d > 0 for d in differences))})
    table = pd.DataFrame(lines)
    if len(table):
        table["p (Holm)"] = holm(table["p"].tolist())
        table["verdict"] = [verdict(p) for p in table["p (Holm)"]]   # the interval is in its own columns
    return table


def curves(rows: list[dict]) -> pd.DataFrame:
    """Accuracy after t bins per model: mean and 95% t-interval over seeds, one row per (model, bin)."""
    from common.runs.stats import t_interval

    lines = []
    for role, runs in _by_role(rows).items():
        by_bin = np.array([r["accuracy_by_time_bins"] for r in runs.values()])
        for t, values in enumerate(by_bin.T, start=1):
            lines.append({"model": role, "bins seen": t, **t_interval(values.tolist())})
    return pd.DataFrame(lines)


def plot_curves(rows: list[dict], title: str = ""):
    import matplotlib.pyplot as plt

    table = curves(rows)
    fig, ax = plt.subplots(figsize=(7, 4))
    for role, part in table.groupby("model", sort=False):
        ax.plot(part["bins seen"], part["mean"], label=role)
        ax.fill_between(part["bins seen"], part["low"], part["high"], alpha=0.2)
    ax.set(xlabel="time bins seen", ylabel="test accuracy", ylim=(0, 1),
           title=title or "accuracy after t bins (mean over seeds, 95% CI)")
    ax.legend(fontsize=8)
    return fig


def pooled_predictions(rows: list[dict], role: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, predictions) of every seed of ``role`` stacked: the confusion over seeds."""
    runs = _by_role(rows)[role]
    labels = np.concatenate([np.asarray(r["test"]["labels"]) for r in runs.values()])
    predictions = np.concatenate([np.asarray(r["test"]["predictions"]) for r in runs.values()])
    return labels, predictions


def per_class(rows: list[dict], classes: list[str]) -> pd.DataFrame:
    """Accuracy of each class per model, pooled over seeds."""
    table = {}
    for role in _by_role(rows):
        labels, predictions = pooled_predictions(rows, role)
        table[role] = [float((predictions[labels == c] == c).mean()) if (labels == c).any() else float("nan")
                       for c in range(len(classes))]
    return pd.DataFrame(table, index=classes)


def findings(rows: list[dict], dataset: str) -> list[str]:
    """The gesture answers in words, from the records: each declared question with its number, interval, seeds and
    adjusted test, the data's caveats beside them, and the reported numbers for context."""
    if not rows:
        return []
    described = describe(dataset)
    accuracy, tests = accuracy_table(rows), family(rows)
    n_clips = int(accuracy["test clips"].iloc[0])
    out = [f"**Gestures ({described.title}, notebooks 05-06).** {len(rows)} runs: "
           f"{', '.join(f'{m} {int(a.n)} seeds' for m, a in accuracy.iterrows())}; every model with the same epochs, "
           f"optimizer, schedule and time bins, tested on all {n_clips} test clips. Test accuracy, mean over seeds "
           f"(95% CI): " + "; ".join(f"{m} {a['mean']:.1%} ({a['low']:.1%} .. {a['high']:.1%})"
                                     for m, a in accuracy.iterrows()) + "."]
    for _, line in tests.iterrows():
        words = ("differs" if line["verdict"] == "differs" else "inconclusive")
        out.append(f"- {line['b']} - {line['a']}: {100 * line['b - a']:+.1f} points over {line['seeds']} paired seeds, "
                   f"between {100 * line['low (adjusted)']:+.1f} and {100 * line['high (adjusted)']:+.1f} "
                   f"(Bonferroni-adjusted 95% interval), Holm p {line['p (Holm)']:.3f} over {len(tests)} tests: "
                   f"**{words}**; {line['b']} ahead in {line['b ahead in seeds']} of {line['seeds']} seeds.")
    out.append(f"- Per seed, {n_clips} test clips allow about +-{100 * accuracy['per-seed +-'].median():.0f} points "
               f"(Wilson 95%): a single run cannot rank these models.")
    out.append("- For context only (other data, other budgets): " + "; ".join(f"{k} {v:.2%}" for k, v in REPORTED.items())
               + ".")
    if described.caveats:
        out.append(f"- Caveats: {described.caveats}.")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Train the gesture study's models over seeds (resumable).")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--roles", nargs="*", help=f"of {sorted({r for roles in ROLES.values() for r in roles})}")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    rows = run_study(args.profile, roles=args.roles, workers=args.workers)
    if rows:
        print(accuracy_table(rows).round(4).to_string())
        print(family(rows).round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
