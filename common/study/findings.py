"""The README's "What this study finds", generated from the committed records (never typed by hand).

Every number, interval, p-value and count below is computed here from ``results/``, and so is every word
that depends on one ("differs", "no difference detected", "ahead in k of n folds"): a claim reads as a
difference only when its Holm-adjusted test (common.runs.stats) is below 0.05, and each claim names its test
and the replicate level it rests on. ``python -m common.study.report`` writes it between the README's
``<!-- findings:start -->`` and ``<!-- findings:end -->`` markers; tests/test_findings.py recomputes it.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from common.runs.stats import holm, paired, verdict


def pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def points(x: float, digits: int = 2) -> str:
    """A difference of accuracies (fractions) in percentage points, signed."""
    return f"{100 * x:+.{digits}f}"


def p_text(p: float) -> str:
    return "n/a" if not math.isfinite(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def machines(rows: list[dict]) -> str:
    """Which CPUs trained these rows, from their records (rows migrated from the first table format have none)."""
    kinds = Counter((r.get("machine") or {}).get("cpu") for r in rows)
    return "; ".join(f"{n} on {kind}" if kind else f"{n} on a machine the record does not name"
                     for kind, n in kinds.most_common())


def std_points(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.2f}"


# ---------------------------------------------------------------- N-MNIST fold study (notebooks 03-04)

def nmnist(rows: list[dict]) -> list[str]:
    from common.runs.records import flat
    from common.study import nmnist_folds as F

    rows = [flat(r) for r in rows]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    accuracy = F.accuracy_over_folds(rows)
    pairs = F.head_to_head(rows)
    early = F.early_decisions(rows).set_index(["variant", "time bins"])
    recordings = len({rec for r in rows for rec in r["recordings"]})
    from common.runs.specs import FOLD_SEEDS

    seeds = int(accuracy["seeds"].max())
    folds = int(accuracy["folds"].max())
    capped = [v for v in accuracy.index if v in FOLD_SEEDS]
    # short: fewer runs than its folds x its seeds (the profile's, or its cap) so far
    short = [v for v in accuracy.index if accuracy.loc[v, "runs"] < folds * FOLD_SEEDS.get(v, seeds)]
    per_fold = lambda n: f"{n} seed{'s' if n > 1 else ''} per fold"
    design = (f"{folds} stratified folds of all {recordings:,} real recordings x {seeds} training seeds"
              + (f"; {' and '.join(capped)}: {per_fold(FOLD_SEEDS[capped[0]])}, for the cost of a cell" if capped else "")
              + (f"; {', '.join(short)} not yet at every seed" if short else ""))
    out = [f"**N-MNIST fold study** (notebooks 03-04; {design}; every variant on the same folds, and the same seeds as far as it has them, each "
           f"recording tested once per run). Accuracy after all {n_bins} bins, mean over folds with its 95% "
           "interval corrected for the folds' overlapping training sets (Nadeau & Bengio), the level a rerun moves:"]
    out += [f"  - {v}: {pct(a['mean'])} ({pct(a['low'])} .. {pct(a['high'])}; {int(a['parameters']):,} parameters; "
            f"std between folds {std_points(a['fold std'])}"
            + (f", between seeds of a fold {std_points(a['seed std'])}" if a["seeds"] > 1 else "") + " points)"
            for v, a in accuracy.iterrows()]
    n_tests = len(pairs)
    bins = sorted(set(pairs["time bins"]))
    out.append(f"  - One family of {n_tests} head-to-heads ({n_tests // max(len(bins), 1)} pairs after "
               f"{', '.join(map(str, bins))} bins, fixed in `common/runs/specs.py` before the runs), Holm-adjusted. "
               "Two levels: over folds (corrected resampled t-test, seeds averaged within a fold) and over "
               "recordings (Cochran-Mantel-Haenszel, stratified by run).")
    for _, line in pairs[pairs["time bins"] == n_bins].iterrows():
        out.append(f"  - {line.b} - {line.a} after all bins: {line['b - a (points)']:+.2f} points "
                   f"(95% CI {line['95% CI low']:+.2f} .. {line['95% CI high']:+.2f}), {line['folds b ahead']} of "
                   f"{line['folds']} folds ahead; over folds "
                   f"p = {p_text(line['p (folds)'])}, Holm {p_text(line['Holm p (folds)'])}: "
                   f"{verdict(line['Holm p (folds)'])}; over recordings Holm {p_text(line['Holm p (CMH)'])} "
                   f"({line['only a right']} recordings only {line.a} got right, {line['only b right']} only {line.b}).")
    out += slstm_answer(pairs, accuracy)
    survivors = pairs[pairs["Holm p (folds)"] < 0.05]
    if len(survivors):
        out.append("  - Differences that survive Holm over folds: " + "; ".join(
            f"{l.b} - {l.a} after {l['time bins']} bins, {l['b - a (points)']:+.1f} points (Holm p {p_text(l['Holm p (folds)'])})"
            for _, l in survivors.iterrows()) + f". None of the other {n_tests - len(survivors)} does.")
    else:
        out.append(f"  - None of the {n_tests} survives Holm over folds: with {int(accuracy['folds'].max())} folds, no "
                   "difference between these variants is shown at the level of a rerun.")
    only_recordings = pairs[(pairs["Holm p (CMH)"] < 0.05) & (pairs["Holm p (folds)"] >= 0.05)]
    if len(only_recordings):
        split = only_recordings[only_recordings["runs agree (Breslow-Day p)"] < 0.05]
        out.append(f"  - {len(only_recordings)} more differ on these recordings only (CMH, Holm < 0.05), a claim about "
                   "this test set and not about a rerun" + (
                       f"; in {len(split)} of them the runs disagree among themselves (Breslow-Day p < 0.05), so "
                       "the pooled answer hides folds that go the other way" if len(split) else "") + ".")
    early_bins = [b for b in bins if b < n_bins][:2]
    for variant in [v for v in ("beta 0.8", "population code", "CNN, summed events") if v in accuracy.index]:
        parts = [f"after {t} bins {pct(early.loc[(variant, t), 'accuracy'], 1)} right, "
                 f"{pct(early.loc[(variant, t), 'no decision'], 1)} undecided, "
                 f"{pct(early.loc[(variant, t), 'decided accuracy'], 1)} of its decisions right"
                 for t in early_bins if (variant, t) in early.index]
        if parts:
            out.append(f"  - Early answers, {variant}: " + "; ".join(parts) + " (means over runs).")
    return out


# The spiking LSTMs of the fold study and how their size is put beside the spiking CNN's.
SPIKING_LSTMS = {"spiking LSTM, equal size": "at about the same size", "spiking LSTM, source size": "at the source's size"}


def slstm_answer(pairs: pd.DataFrame, accuracy: pd.DataFrame, cnn: str = "beta 0.8") -> list[str]:
    """Notebook 06's question on real event data: does the spiking LSTM beat the spiking CNN at one budget? One line
    per size of the spiking LSTM in the table, from the family's lines of that pair, at the level of folds (Holm over
    the whole family)."""
    out = []
    for lstm, size in SPIKING_LSTMS.items():
        lines = pairs[(pairs["a"] == cnn) & (pairs["b"] == lstm)]
        if not len(lines):
            continue
        last = lines.iloc[-1]
        survive = lines[lines["Holm p (folds)"] < 0.05]
        ahead = survive[survive["b - a (points)"] > 0]["time bins"].tolist()
        behind = survive[survive["b - a (points)"] < 0]["time bins"].tolist()
        answer = {(True, False): "yes", (False, True): "no, it is behind", (True, True): "mixed"}.get(
            (bool(ahead), bool(behind)), "not shown")
        where = "; ".join(f"{side} after {', '.join(map(str, bins))} bins"
                          for side, bins in (("ahead", ahead), ("behind", behind)) if bins)
        question = ("**Does the spiking LSTM beat the spiking CNN at one budget, on real event data (notebook 06)?** "
                    if not out else "")
        out.append(f"  - {question}{size.capitalize()}: {answer} ({int(accuracy.loc[lstm, 'parameters']):,} against "
                   f"{int(accuracy.loc[cnn, 'parameters']):,} parameters; same folds, epochs and optimizer, paired by "
                   f"fold): spiking LSTM - spiking CNN (beta 0.8) after all {last['time bins']} bins is "
                   f"{last['b - a (points)']:+.2f} points (95% CI {last['95% CI low']:+.2f} .. "
                   f"{last['95% CI high']:+.2f}, {last['runs']} runs over {last['folds']} folds, Holm p over folds "
                   f"{p_text(last['Holm p (folds)'])})"
                   + (f"; {where} (Holm p < 0.05 over folds)" if where else
                      f"; at none of the family's {len(lines)} time points does a difference survive Holm over folds")
                   + ".")
    return out


# ---------------------------------------------------------------- LIF vs ALIF (notebook 07)

def _paired_by_seed(rows: list[dict], a: dict, b: dict) -> dict:
    """b - a over the seeds both have (:func:`common.runs.stats.paired`), ``a``/``b`` matching cells by factors."""
    pick = lambda want: {r["seed"]: r["test_accuracy"] for r in rows
                         if all(r.get(k) == v for k, v in want.items())}
    return paired(pick(a), pick(b))


def lif_alif(rows: list[dict]) -> list[str]:
    from common.runs.records import flat
    from common.study.lif_alif import effects_table, main_comparison
    from common.runs.specs import profile_settings

    profile = rows[0]["config"]["profile"]
    headline = [flat(r) for r in main_comparison(rows, profile_settings("lif_alif", profile))]
    flat_rows = [flat(r) for r in rows]
    kinds = {"MLP": {"model": "mlp"}, "LIF": {"model": "rsnn", "neuron": "lif"}, "ALIF": {"model": "rsnn", "neuron": "alif"}}
    out = [f"**LIF, ALIF and the MLP** (notebook 07; same hidden size and epochs, full test sets; cells trained: "
           f"{machines(rows)}). Test accuracy, mean +- std over seeds:"]
    tests = []
    for dataset in dict.fromkeys(r["dataset"] for r in headline):
        part = [r for r in headline if r["dataset"] == dataset]
        cells = {}
        for name, want in kinds.items():
            values = [r["test_accuracy"] for r in part if all(r.get(k) == v for k, v in want.items())]
            if values:
                cells[name] = values
        out.append(f"  - {dataset}: " + ", ".join(
            f"{name} {pct(np.mean(v))} +- {pct(np.std(v, ddof=1) if len(v) > 1 else math.nan)} ({len(v)} seeds)"
            for name, v in cells.items()))
        for a, b in (("ALIF", "MLP"), ("LIF", "MLP"), ("LIF", "ALIF")):
            if a in cells and b in cells:
                d = _paired_by_seed(part, {**kinds[a], "dataset": dataset}, {**kinds[b], "dataset": dataset})
                tests.append({"what": f"{b} - {a} on {dataset}", **d})
    effects = effects_table(flat_rows)
    if len(effects):
        for _, e in effects.groupby(["factor", "a", "b"], sort=False).tail(1).iterrows():
            context = "" if e.context == "all" else f" ({_context(e.context)})"   # one dataset, one neuron
            tests.append({"what": f"{e.factor} {e.a} -> {e.b}{context}", **e[["n", "mean", "low", "high", "p_value"]].to_dict()})
    if not tests:
        return out
    frame = pd.DataFrame(tests)
    frame["holm"] = holm(frame["p_value"])
    out.append(f"  - {len(frame)} paired comparisons (paired by seed, and by dataset where a factor was moved on both; "
               "t-test over those pairs), Holm-adjusted together:")
    out += [f"    - {t.what}: {points(t['mean'])} points (95% CI {points(t.low)} .. {points(t.high)}, {int(t.n)} pairs; "
            f"p = {p_text(t.p_value)}, Holm {p_text(t.holm)}): {verdict(t.holm) if t.n > 1 else 'one pair, no test'}"
            for _, t in frame.iterrows()]
    learned = [r for r in flat_rows if r.get("model") == "rsnn" and r.get("learn_beta") and r.get("beta_hidden")]
    if learned:
        from common.networks.neurons import TAU_M_MS, decay
        hidden = [r["beta_hidden"] for r in learned]
        out.append(f"  - Trained membrane decays ended between {min(hidden):.2f} and {max(hidden):.2f} "
                   f"(from {decay(TAU_M_MS):.2f}), over {len(hidden)} cells.")
    return out


def _context(context: str) -> str:
    """Where a factor was moved: its dataset and neuron (the other factors are the base cell's)."""
    import json
    where = json.loads(context)
    return ", ".join(str(where[k]) for k in ("dataset", "neuron") if k in where)


# ---------------------------------------------------------------- single runs and efficiency (notebooks 01, 08)

def single_runs(records: list[dict]) -> list[str]:
    cnn = [r for r in records if r["config"]["run_name"] == "cnn_mnist"]
    out = []
    for r in cnn:
        out.append(f"**The CNN on MNIST** (notebook 01) reaches {pct(r['test']['accuracy'])} on the "
                   f"{r['test']['n_samples']:,} test images: one run, so no interval.")
    return out


def efficiency(frame: pd.DataFrame) -> list[str]:
    """NeuroBench's counts (notebook 08) under both cost models (common/study/energy.py): the table, and for each
    spiking/conventional pair on the same data which side is cheaper under which model, and at what spike rate
    the winner would change."""
    if "energy_memory_nJ" not in frame:       # not yet measured under both cost models: notebook 08 writes them
        return []
    from common.study.compare import energy_pairs, label
    from common.study.energy import ENERGY_PJ

    out = [f"**Energy per inference under two cost models** (notebook 08, `results/efficiency-<profile>.json`; "
           "NeuroBench's effective operations on each model's whole test set, conventional image networks counted on "
           "raw inputs with their normalisation folded into the first layer). *Operations*: MACs x "
           f"{ENERGY_PJ['mac']} pJ + ACs x {ENERGY_PJ['ac']} pJ (Horowitz, 45 nm). *Operations + memory*: each "
           "operation also reads its weight and its input or membrane from SRAM, and a spiking neuron's membrane is "
           "read and written per input spike and per time bin (Lemaire et al. 2022, Yan et al. 2024). CPU time is "
           "from the machine of that run, whose dense arithmetic skips no zeros:", "",
           "  | model | dataset | error | energy, operations (nJ) | energy, operations + memory (nJ) | effective MACs "
           "| effective ACs | activation sparsity | CPU ms |", "  |---|---|---|---|---|---|---|---|---|"]
    from common.study.compare import DATASET_OF
    out += [f"  | {label(run)} | {DATASET_OF(run)} | {pct(1 - row['ClassificationAccuracy'])} | {row['energy_nJ']:,.0f} "
            f"| {row['energy_memory_nJ']:,.0f} | {row['Effective_MACs']:,.0f} | {row['Effective_ACs']:,.0f} "
            f"| {row['ActivationSparsity']:.2f} | {row['inference ms/sample']:.4f} |"
            for run, row in frame.iterrows()]
    pairs = energy_pairs(frame)
    if len(pairs):
        out.append("")
        out.append("  Spiking against conventional, same data (the pairs of `common.study.compare.ENERGY_PAIRS`):")
        for (conventional, spiking), group in pairs.groupby(["conventional", "spiking"], sort=False):
            words = []
            for _, p in group.iterrows():
                rate = p["crossover spike rate"]
                change = ("no spike rate changes the winner" if math.isinf(rate) else
                          "the spiking network would cost more even without a single spike" if rate == 0
                          else f"the winner changes at a spike rate of {rate:.3f}")
                words.append(f"under *{p['cost model']}* the {p.cheaper} network is cheaper "
                             f"({p['spiking / conventional']:.2f}x; measured spike rate {p['spike rate']:.3f}, {change})")
            out.append(f"  - {label(spiking)} against {label(conventional)} ({DATASET_OF(spiking)}): " + "; ".join(words) + ".")
    return out


def section(results_dir: Path, profile: str = "quick") -> str:
    """The findings as Markdown bullets, every number from ``results_dir``."""
    from common.runs.records import ResultsTable, load_results, table_path
    from common.study import nmnist_folds
    from common.study.compare import load_efficiency
    from common.study.lif_alif import STUDY as LIF_ALIF_STUDY

    root = Path(results_dir).parent
    parts = []
    records = load_results(Path(results_dir), profile=profile)
    parts += single_runs(records)
    grid = ResultsTable(table_path(LIF_ALIF_STUDY, profile, root)).rows()
    if grid:
        parts += lif_alif(grid)
    folds = ResultsTable(table_path(nmnist_folds.STUDY, profile, root)).rows()
    if folds:
        parts += nmnist(folds)
    parts += efficiency(load_efficiency(profile, root))
    faithfulness_file = Path(results_dir) / f"faithfulness-{profile}.json"
    if faithfulness_file.exists():
        from common.explanations.faithfulness import findings_lines
        parts += findings_lines(faithfulness_file)
    lines = [line if line.startswith(" ") or not line else f"- {line}" for line in parts]
    return (f"Generated by `python -m common.study.report` from the {profile} profile's records in `results/`.\n\n"
            + "\n".join(lines))
