"""The README's "What this study finds", generated from the committed records (never typed by hand).

Every number, interval, p-value and count below is computed here from ``results/``, and so is every word
that depends on one ("differs", "inconclusive", "ahead in k of n folds"): a claim reads as a difference only when
its Holm-adjusted test (common.runs.stats) is below 0.05 within its family, anything else reads "inconclusive"
with its interval, an interval beside an adjusted verdict is Bonferroni-adjusted (or says it is not), and each claim
names its test and the replicate level it rests on. The findings open with the answers to the primary questions
(:func:`answer_first`). ``python -m common.study.report`` writes it between the README's
``<!-- findings:start -->`` and ``<!-- findings:end -->`` markers; tests/test_findings.py recomputes it.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from common.runs.stats import holm, paired, t_quantile, verdict


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


def dates(rows: list[dict]) -> str:
    """When these rows were trained, from their records: one day, or the first and last."""
    days = sorted({str(r["date"])[:10] for r in rows if r.get("date")})
    return "on a date the records do not give" if not days else f"on {days[0]}" if len(days) == 1 else \
        f"between {days[0]} and {days[-1]}"


def std_points(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.2f}"


# ---------------------------------------------------------------- the answer first (issue #40)

# The LIF/ALIF grid's headline kinds (common.study.lif_alif.HEADLINE_RUNS), as the findings name them.
LIF_ALIF_KINDS = {"MLP": {"model": "mlp"}, "MLP on spikes": {"model": "mlp_spikes"},
                  "LIF": {"model": "rsnn", "neuron": "lif"}, "ALIF": {"model": "rsnn", "neuron": "alif"}}
# Fair inputs (issue #40), EXPLORATORY: declared after the primary family, so never added to it. The neuron's effect
# is read against the MLP on the same rate-coded spike trains (same information, same size); the coding's against
# the MLP on images (same network, images against spikes). b - a, paired by seed, Holm within these pairs.
FAIR_INPUT_PAIRS = [("MLP on spikes", "LIF"), ("MLP on spikes", "ALIF"), ("MLP on spikes", "MLP")]

# The primary questions (common.runs.specs.PRIMARY_FAMILIES), as a reader asks them.
QUESTIONS = {("beta 0.5", "beta 0.8"): "Does the slower membrane decay help (beta 0.8 against 0.5)?",
             ("beta 0.8", "population code"): "Does the population code beat the plain spiking CNN?",
             ("population code, equal size", "population code"): "Is the population code's effect its size "
                                                                   "(against itself at equal size)?",
             ("CNN, time bins as channels", "beta 0.8"): "Spiking against conventional at equal size "
                                                        "(the CNN that sees every time bin)?",
             ("LIF", "ALIF"): "Does the adaptive threshold help (ALIF against LIF)?",
             ("ALIF", "MLP"): "Does the MLP beat ALIF?", ("LIF", "MLP"): "Does the MLP beat LIF?"}


def claim(line: dict, unit: str = "points") -> str:
    """``b - a`` with the family's adjusted interval and Holm p, and the words its test allows."""
    level = line["adjusted level"]
    return (f"{line['b']} - {line['a']} = {line['mean']:+.2f} {unit} (Bonferroni {100 * level:.1f}% interval "
            f"{line['low']:+.2f} .. {line['high']:+.2f}; Holm p {p_text(line['holm'])} over the family's "
            f"{line['family']} tests): {verdict(line['holm'], line['low'], line['high'], unit)}")


def _nmnist_family(table: pd.DataFrame) -> list[dict]:
    return [{"a": l.a, "b": l.b, "mean": l["b - a (points)"], "low": l["adjusted CI low"],
             "high": l["adjusted CI high"], "adjusted level": l["adjusted level"], "holm": l["Holm p (folds)"],
             "family": len(table), "runs": l["runs"], "folds": l["folds"]} for _, l in table.iterrows()]


def lif_alif_primary(rows: list[dict]) -> list[dict]:
    """The LIF/ALIF primary family (:data:`common.runs.specs.PRIMARY_FAMILIES`): each pair on each dataset, b - a in
    points paired by seed (t-test), Holm over the family, Bonferroni-adjusted intervals."""
    from common.runs.specs import PRIMARY_FAMILIES

    family = PRIMARY_FAMILIES["lif_alif"]
    return seed_family(rows, family["pairs"], family["datasets"])


def seed_family(rows: list[dict], pairs: list[tuple[str, str]], datasets: list[str]) -> list[dict]:
    """A family of LIF/ALIF headline comparisons (kinds of :data:`LIF_ALIF_KINDS`), each pair on each dataset that
    has both kinds: b - a in points paired by seed (t-test), Holm over the family, Bonferroni-adjusted intervals."""
    from common.data.datasets import describe
    from common.runs.records import flat
    from common.runs.specs import profile_settings
    from common.runs.stats import adjusted_level
    from common.study.lif_alif import main_comparison

    headline = [flat(r) for r in main_comparison(rows, profile_settings("lif_alif", rows[0]["config"]["profile"]))]
    has = lambda kind, d: any(r["dataset"] == d and all(r.get(k) == v for k, v in LIF_ALIF_KINDS[kind].items())
                              for r in headline)
    tests = [(a, b, d) for d in datasets for a, b in pairs if has(a, d) and has(b, d)]
    level = adjusted_level(len(tests)) if tests else 0.95
    lines = []
    for a, b, name in tests:
        want_a, want_b = {**LIF_ALIF_KINDS[a], "dataset": name}, {**LIF_ALIF_KINDS[b], "dataset": name}
        plain = _paired_by_seed(headline, want_a, want_b)
        wide = _paired_by_seed(headline, want_a, want_b, level)
        title = describe(name).title
        lines.append({"a": f"{a} on {title}", "b": b, "pair": (a, b), "dataset": name, "title": title, "n": plain["n"],
                      "mean": 100 * plain["mean"], "low": 100 * wide["low"], "high": 100 * wide["high"],
                      "adjusted level": level, "p": plain["p_value"], "family": len(tests)})
    for line, adjusted in zip(lines, holm([l["p"] for l in lines])):
        line["holm"] = adjusted
    return lines


def answer_first(explore: list[dict], confirm: list[dict], lif_rows: list[dict],
                 lif_confirm: list[dict] = ()) -> list[str]:
    """The findings' opening: one sentence per primary question, with its number, its interval and the level it rests
    on, then one line on what the N-MNIST subset allows. Each family's answers come from its confirmation (fresh folds
    or seeds) once a training seed is complete there (the exploratory runs suggested the questions, so they cannot
    confirm them)."""
    from common.study import lif_alif as L
    from common.study import nmnist_folds as F

    out = ["**The answer first** (the primary questions, `PRIMARY_FAMILIES` in `common/runs/specs.py`, each after all "
           "time bins; a difference is claimed only when it survives Holm within its family, otherwise the answer is "
           "inconclusive with its interval. The intervals are Bonferroni's for the family, more cautious than Holm's "
           "step-down: a \"differs\" can sit beside an interval that touches zero, never an \"inconclusive\" beside "
           "one that excludes it):"]
    if explore or confirm:
        started, confirm = confirm, F.complete_seeds(confirm)
        rows = confirm or explore
        n_bins = len(rows[0]["predictions_by_time_bins"])
        cells = len(F.confirm_cells(F.fold_settings(rows)))
        source = (f"the confirmation partition ({len(confirm)} of its {cells} cells: new folds, fold seed "
                  f"{F.fold_seed_of(confirm[0])}, and new training seeds)" if confirm else
                  "the exploratory table only, which suggested these questions: not yet confirmed"
                  + (f"; the confirmation partition has {len(started)} of its {cells} cells, not yet one training "
                     "seed on every fold of every variant" if started else ""))
        for line in _nmnist_family(F.primary_lines(rows)):
            out.append(f"  - {QUESTIONS[(line['a'], line['b'])]} N-MNIST after all {n_bins} bins: {claim(line)}; "
                       f"over {line['runs']} runs in {line['folds']} folds of {source}.")
        if confirm and explore:
            pooled = _nmnist_family(F.primary_lines(explore + confirm))
            out.append("  - Both partitions pooled (Bouckaert & Frank's corrected repeated k-fold test over "
                       f"{pooled[0]['folds']} folds of both; Bonferroni intervals, Holm within the family; the "
                       "exploratory half suggested the questions, so this is more precise, not a confirmation): "
                       + "; ".join(
                           f"{l['b']} - {l['a']} {l['mean']:+.2f} ({l['low']:+.2f} .. {l['high']:+.2f}, "
                           f"{verdict(l['holm'])})" for l in pooled) + ".")
    confirmed = L.complete_seeds(lif_confirm)
    if confirmed:
        seeds = sorted({r["cell"]["seed"] for r in confirmed})
        for line in lif_alif_primary(confirmed):
            out.append(f"  - {QUESTIONS[line['pair']]} {line['title']}: {claim(line)}; over {line['n']} fresh seeds "
                       f"({seeds[0]}-{seeds[-1]}, trained after the family was declared; paired by seed, same hidden "
                       "size and epochs).")
    elif lif_rows:
        started = (f"; its confirmation has {len(lif_confirm)} of its {len(L.confirm_cells(L.settings_of(lif_rows)))} cells, "
                   "not yet one whole seed" if lif_confirm else "")
        for line in lif_alif_primary(lif_rows):
            out.append(f"  - {QUESTIONS[line['pair']]} {line['title']}: {claim(line)}; over {line['n']} seeds "
                       "(paired by seed, same hidden size and epochs) that were seen before the family was declared: "
                       f"not yet confirmed on fresh seeds{started}.")
    if explore or confirm:
        out.append("  - " + subset_limits(explore or confirm))
    return out


def gesture_answers(by_dataset: dict[str, list[dict]]) -> list[str]:
    """One sentence per declared gesture question (common.study.gestures.FAMILY), for the answer first."""
    from common.data.datasets import describe
    from common.study import gestures

    out = []
    for dataset_name, rows in by_dataset.items():
        tests = gestures.family(rows)
        title = describe(dataset_name).title
        for _, line in tests.iterrows():
            words = ("differs" if line["verdict"] == "differs" else
                     f"inconclusive (between {100 * line['low (adjusted)']:+.1f} and {100 * line['high (adjusted)']:+.1f} "
                     "points)")
            out.append(f"  - Gestures ({title}), {line['b']} - {line['a']} after all bins: "
                       f"{100 * line['b - a']:+.1f} points over {line['seeds']} paired seeds, Holm p "
                       f"{p_text(line['p (Holm)'])} over the family's {len(tests)} tests: {words}.")
    return out


def summary_lines(results_dir: Path, profile: str = "quick") -> list[str]:
    """The README's summary: the answer first (every primary question, N-MNIST, LIF/ALIF and gestures, with its
    number, interval and level) and the subset's limits, as :func:`section` words them."""
    from common.runs.records import ResultsTable, table_path
    from common.study import gestures, nmnist_folds
    from common.study import lif_alif as lif_alif_study

    root = Path(results_dir).parent
    rows = {study: ResultsTable(table_path(study, profile, root)).rows()
            for study in (nmnist_folds.STUDY, nmnist_folds.CONFIRM, lif_alif_study.STUDY, lif_alif_study.CONFIRM)}
    lines = answer_first(rows[nmnist_folds.STUDY], rows[nmnist_folds.CONFIRM], rows[lif_alif_study.STUDY],
                         rows[lif_alif_study.CONFIRM])[1:]
    lines += gesture_answers(gestures.records_by_dataset(profile, root))
    explained = Path(results_dir) / f"explanations-{profile}.json"
    if explained.exists():
        from common.study.explanations import explanations_answer
        lines.append(explanations_answer(explained))
    return [line.strip().removeprefix("- ") for line in lines]


def subset_limits(rows: list[dict]) -> str:
    """What the N-MNIST subset allows, from the rows: how many recordings, how many train a fold's model."""
    recordings = len({rec for r in rows for rec in r["recordings"]})
    train = int(np.median([r["train_samples"] for r in rows]))
    return (f"Limits: N-MNIST here is {recordings:,} real recordings, {train:,} training each fold's models "
            f"({100 * train / 60000:.1f}% of N-MNIST's 60,000 training recordings). That ranks variants on the same "
            "folds and says how much a rerun moves them. It does not estimate accuracy at N-MNIST's scale, and "
            "differences smaller than the intervals above stay unresolved.")


# ---------------------------------------------------------------- N-MNIST fold study (notebooks 03-04)

def nmnist(rows: list[dict]) -> list[str]:
    from common.runs.records import flat
    from common.runs.specs import ALL_BINS_ONLY
    from common.study import nmnist_folds as F

    raw = rows
    rows = [flat(r) for r in rows]
    n_bins = len(rows[0]["predictions_by_time_bins"])
    accuracy = F.accuracy_over_folds(raw)
    pairs = F.head_to_head(raw)
    early = F.early_decisions(raw).set_index(["variant", "time bins"])
    recordings = len({rec for r in rows for rec in r["recordings"]})

    seeds = int(accuracy["seeds"].max())
    folds = int(accuracy["folds"].max())
    # short: fewer runs than its folds x seeds so far
    short = [v for v in accuracy.index if accuracy.loc[v, "runs"] < folds * seeds]
    design = (f"{folds} stratified folds of all {recordings:,} real recordings x {seeds} training seeds"
              + (f"; {', '.join(short)} not yet at every seed" if short else ""))
    out = [f"**N-MNIST fold study, exploratory** (notebooks 03-04; {design}; every variant on the same folds, and the "
           "same seeds as far as it has them, each recording tested once per run). Accuracy after all "
           f"{n_bins} bins, mean over folds with its 95% interval corrected for the folds' overlapping training sets "
           "(Nadeau & Bengio), the level a rerun moves:"]
    out += [f"  - {v}: {pct(a['mean'])} ({pct(a['low'])} .. {pct(a['high'])}; {int(a['parameters']):,} parameters; "
            f"std between folds {std_points(a['fold std'])}"
            + (f", between seeds of a fold {std_points(a['seed std'])}" if a["seeds"] > 1 else "") + " points)"
            for v, a in accuracy.iterrows()]
    n_tests = len(pairs)
    bins = sorted(set(pairs["time bins"]))
    out.append(f"  - An exploratory family of {n_tests} head-to-heads (the pairs of `FOLD_FAMILY` after "
               f"{', '.join(map(str, bins))} bins), Holm-adjusted together, each with its Bonferroni-adjusted interval "
               f"({100 * pairs['adjusted level'].iloc[0]:.2f}%). The family was widened from 3 to 7 pairs after 56 of its "
               "105 cells existed, and the primary questions were chosen after seeing it: nothing here is a confirmed "
               f"answer. The conventional CNNs ({' and '.join(ALL_BINS_ONLY)}) were trained on their answer after all "
               "bins only (`cross_entropy_over_prefixes` reads the last row of logits), so their lines before the last "
               "bin are not comparable and are left out of the family. Beside each line, descriptive only: a two-way "
               "cluster bootstrap over runs and recordings (95%).")
    for _, line in pairs[pairs["time bins"] == n_bins].iterrows():
        out.append(f"  - {line.b} - {line.a} after all bins: {line['b - a (points)']:+.2f} points (Bonferroni "
                   f"interval {line['adjusted CI low']:+.2f} .. {line['adjusted CI high']:+.2f}; unadjusted 95% "
                   f"{line['95% CI low']:+.2f} .. {line['95% CI high']:+.2f}), {line['folds b ahead']} of "
                   f"{line['folds']} folds ahead; over folds p = {p_text(line['p (folds)'])}, Holm "
                   f"{p_text(line['Holm p (folds)'])}: "
                   f"{verdict(line['Holm p (folds)'], line['adjusted CI low'], line['adjusted CI high'])}; over "
                   f"recordings (bootstrap, descriptive) {line['bootstrap low']:+.2f} .. {line['bootstrap high']:+.2f} "
                   f"({line['only a right']} recordings only {line.a} got right, {line['only b right']} only {line.b}).")
    out += slstm_answer(pairs, accuracy)
    survivors = pairs[pairs["Holm p (folds)"] < 0.05]
    if len(survivors):
        out.append("  - Differences that survive Holm over folds in this exploratory family: " + "; ".join(
            f"{l.b} - {l.a} after {l['time bins']} bins, {l['b - a (points)']:+.1f} points (Holm p {p_text(l['Holm p (folds)'])})"
            for _, l in survivors.iterrows()) + f". The other {n_tests - len(survivors)} are inconclusive.")
    else:
        out.append(f"  - None of the {n_tests} survives Holm over folds: with {int(accuracy['folds'].max())} folds, "
                   "every line of this exploratory family is inconclusive at the level of a rerun.")
    early_bins = [b for b in bins if b < n_bins][:2]
    for variant in [v for v in ("beta 0.8", "population code") if v in accuracy.index]:
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
    """Notebook 06's question on real event data, exploratory here (it moves to DVS Gesture): does the spiking LSTM
    beat the spiking CNN at one budget? One line per size of the spiking LSTM in the table, from the family's lines of
    that pair, at the level of folds (Holm over the whole exploratory family)."""
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
            (bool(ahead), bool(behind)), "inconclusive")
        where = "; ".join(f"{side} after {', '.join(map(str, bins))} bins"
                          for side, bins in (("ahead", ahead), ("behind", behind)) if bins)
        question = ("**Does the spiking LSTM beat the spiking CNN at one budget, on real event data (notebook 06)?** "
                    if not out else "")
        out.append(f"  - {question}{size.capitalize()}: {answer} ({int(accuracy.loc[lstm, 'parameters']):,} against "
                   f"{int(accuracy.loc[cnn, 'parameters']):,} parameters; same folds, epochs and optimizer, paired by "
                   f"fold; exploratory): spiking LSTM - spiking CNN (beta 0.8) after all {last['time bins']} bins is "
                   f"{last['b - a (points)']:+.2f} points (unadjusted 95% CI {last['95% CI low']:+.2f} .. "
                   f"{last['95% CI high']:+.2f}, {last['runs']} runs over {last['folds']} folds, Holm p over folds "
                   f"{p_text(last['Holm p (folds)'])})"
                   + (f"; {where} (Holm p < 0.05 over folds)" if where else
                      f"; at none of the family's {len(lines)} time points does a difference survive Holm over folds")
                   + ".")
    return out


# ---------------------------------------------------------------- LIF vs ALIF (notebook 07)

def _paired_by_seed(rows: list[dict], a: dict, b: dict, level: float = 0.95) -> dict:
    """b - a over the seeds both have (:func:`common.runs.stats.paired`), ``a``/``b`` matching cells by factors."""
    pick = lambda want: {r["seed"]: r["test_accuracy"] for r in rows
                         if all(r.get(k) == v for k, v in want.items())}
    return paired(pick(a), pick(b), level)


def _seed_pair_line(line: dict, b_label: str) -> str:
    """One paired-by-seed comparison of the LIF/ALIF grid, with its Bonferroni interval and Holm verdict."""
    return (f"    - {b_label} - {line['pair'][0]} on {line['title']}: {points(line['mean'] / 100)} points (Bonferroni "
            f"{100 * line['adjusted level']:.1f}% CI {line['low']:+.2f} .. {line['high']:+.2f}, {int(line['n'])} "
            f"pairs; p = {p_text(line['p'])}, Holm {p_text(line['holm'])}): "
            + (verdict(line["holm"], line["low"], line["high"]) if line["n"] > 1 else "one pair, no test"))


def lif_alif(rows: list[dict]) -> list[str]:
    from common.runs.records import flat
    from common.runs.specs import profile_settings
    from common.runs.stats import adjusted_level
    from common.study.lif_alif import effects_table, main_comparison

    profile = rows[0]["config"]["profile"]
    headline = [flat(r) for r in main_comparison(rows, profile_settings("lif_alif", profile))]
    flat_rows = [flat(r) for r in rows]
    kinds = LIF_ALIF_KINDS
    out = [f"**LIF, ALIF and the MLP** (notebook 07; same hidden size and epochs, full test sets; {len(rows)} cells "
           f"trained {dates(rows)}: {machines(rows)}). The MLP on images sees the standardised image, LIF and ALIF a {_rate_code(rows)}; "
           "the MLP on spikes sees the same spike trains, averaged over the steps (the rate code's spike counts). "
           "Test accuracy, mean +- std over seeds:"]
    for name in dict.fromkeys(r["dataset"] for r in headline):
        part = [r for r in headline if r["dataset"] == name]
        cells = {name: [r["test_accuracy"] for r in part if all(r.get(k) == v for k, v in want.items())]
                 for name, want in kinds.items()}
        out.append(f"  - {name}: " + ", ".join(
            f"{name} {pct(np.mean(v))} +- {pct(np.std(v, ddof=1) if len(v) > 1 else math.nan)} ({len(v)} seeds)"
            for name, v in cells.items() if v))
    primary = lif_alif_primary(rows)
    if primary:
        out.append(f"  - The primary family: {len(primary)} paired comparisons (paired by seed, t-test), Holm-adjusted "
                   "together, intervals Bonferroni-adjusted. These seeds were seen before the family was declared, so this is "
                   "exploratory; the answer first reads the family on fresh seeds once a whole one is trained:")
        out += [_seed_pair_line(l, l["b"]) for l in primary]
    fair = seed_family(rows, FAIR_INPUT_PAIRS, sorted({r["dataset"] for r in headline}))
    if fair:
        out.append(f"  - Exploratory, fair inputs: {len(fair)} paired comparisons against the MLP on the same spike "
                   "trains (declared after the primary family, so outside it), Holm-adjusted together, intervals "
                   "Bonferroni-adjusted. LIF or ALIF against it is the neuron's effect at equal input information; the "
                   "MLP on images against it is the coding's effect at an equal network:")
        out += [_seed_pair_line(l, "MLP on images" if l["b"] == "MLP" else l["b"]) for l in fair]
    effects = effects_table(flat_rows)
    if len(effects):
        effects = effects.groupby(["factor", "a", "b"], sort=False).tail(1).reset_index(drop=True)
        effects = effects[effects.factor != "neuron"]     # LIF against ALIF is the primary family's question
        level = adjusted_level(len(effects))
        tests = []
        for _, e in effects.iterrows():
            context = "" if e.context == "all" else f" ({_context(e.context)})"   # one dataset, one neuron
            spread = (e.high - e["mean"]) / max(t_quantile(e.n - 1), 1e-12) if e.n > 1 else math.nan
            half = t_quantile(e.n - 1, level) * spread if e.n > 1 else math.nan
            tests.append({"what": f"{e.factor} {e.a} -> {e.b}{context}", "n": e.n, "mean": e["mean"],
                          "low": e["mean"] - half, "high": e["mean"] + half, "p_value": e.p_value})
        frame = pd.DataFrame(tests)
        frame["holm"] = holm(frame["p_value"])
        out.append(f"  - Exploratory: the other factors, {len(frame)} paired comparisons (paired by seed, and by "
                   "dataset where a factor was moved on both), Holm-adjusted together, intervals Bonferroni-adjusted "
                   f"({100 * level:.1f}%):")
        out += [f"    - {t.what}: {points(t['mean'])} points (CI {points(t.low)} .. {points(t.high)}, {int(t.n)} pairs; "
                f"p = {p_text(t.p_value)}, Holm {p_text(t.holm)}): "
                + (verdict(t.holm, 100 * t.low, 100 * t.high) if t.n > 1 else "one pair, no test")
                for _, t in frame.iterrows()]
    learned = [r for r in flat_rows if r.get("model") == "rsnn" and r.get("learn_beta") and r.get("beta_hidden")]
    if learned:
        from common.networks.neurons import TAU_M_MS, decay
        hidden = [r["beta_hidden"] for r in learned]
        out.append(f"  - Trained membrane decays ended between {min(hidden):.2f} and {max(hidden):.2f} "
                   f"(from {decay(TAU_M_MS):.2f}), over {len(hidden)} cells.")
    return out


def _rate_code(rows: list[dict]) -> str:
    """The headline spiking cells' input, from their records: encoding and steps."""
    from common.config import identity_of
    codes = Counter((r["cell"].get("encoding"), identity_of(r["config"])["data"].get("n_steps")) for r in rows
                    if r["cell"].get("model") == "rsnn" and r["cell"].get("encoding"))
    (encoding, steps), _ = codes.most_common(1)[0]
    return f"{steps}-step {encoding} code of the image (Bernoulli per step)" if encoding == "rate" else \
        f"{steps}-step {encoding} code of the image"


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


def efficiency(frame: pd.DataFrame, table: pd.DataFrame | None = None) -> list[str]:
    """NeuroBench's counts (notebook 08) under both cost models (common/study/energy.py): the table, with each
    model's accuracy from its replicates (``table``: :func:`common.study.compare.accuracy_over_seeds` of the study's
    records; "one run" where there is one), and for each spiking/conventional pair on the same data which side is
    cheaper under which model, at what spike rate the winner would change, and what the pricing of the spiking
    network's event-count inputs as MACs moves."""
    if frame.empty or "energy_memory_nJ" not in frame:   # not yet measured: notebook 08 writes the counts
        return []
    from common.study.compare import AS_ACS, energy_pairs, label, replicated_accuracy
    from common.study.energy import ENERGY_PJ

    accuracy = replicated_accuracy(frame, table if table is not None else pd.DataFrame(
        columns=["run", "twin", "dataset", "seeds", "accuracy_mean", "accuracy_low", "accuracy_high"]))
    out = [f"**Energy per inference under two cost models** (notebook 08, `results/efficiency-<profile>.json`, which "
           "holds NeuroBench's counts; the energies are derived from them here). The counts are NeuroBench's effective "
           "operations of one saved model per row on its whole test set, conventional image networks counted on raw "
           "inputs with their normalisation folded into the first layer; the error beside them is the model's over "
           "its replicates (the fold study's mean and corrected 95% interval for the N-MNIST variants, the mean and "
           "t-interval over seeds for the LIF/ALIF/MLP cells, \"one run\" otherwise). *Operations*: MACs x "
           f"{ENERGY_PJ['mac']} pJ + ACs x {ENERGY_PJ['ac']} pJ (Horowitz, 45 nm). *Operations + memory*: each "
           "operation also reads its weight and its input or membrane from SRAM, and a spiking neuron's membrane is "
           "read and written per input spike and per time bin (Lemaire et al. 2022, Yan et al. 2024). NeuroBench "
           "prices a layer whose inputs are not spikes as MACs: the spiking CNN's first layer, on event counts, over "
           "every time bin (*first layer* below: its share of the operations energy); *event inputs as ACs* prices "
           "those inputs as an event-driven core would, one accumulate per non-zero input and synapse (spiking networks "
           "only: a conventional network runs dense and keeps its MACs). CPU time is "
           "from the machine of that run, whose dense arithmetic skips no zeros:", "",
           "  | model | dataset | error (replicates) | energy, operations (nJ) | ... event inputs as ACs | energy, "
           "operations + memory (nJ) | ... event inputs as ACs | first layer | effective MACs | effective ACs "
           "| activation sparsity | CPU ms |", "  |---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run, row in frame.iterrows():
        a = accuracy.loc[run]
        error = (f"{pct(1 - a['accuracy'])} ({pct(1 - a['high'])} .. {pct(1 - a['low'])}, {int(a['runs'])} runs "
                 f"over {a['replicates']})" if a["runs"] > 1 else f"{pct(1 - a['accuracy'])} (one run)")
        share = "" if pd.isna(row["first_layer_share"]) else f"{row['first_layer_share']:.0%}"
        out.append(f"  | {label(run)} | {row['dataset']} | {error} | {row['energy_nJ']:,.0f} "
                   f"| {row['energy_nJ' + AS_ACS]:,.0f} | {row['energy_memory_nJ']:,.0f} "
                   f"| {row['energy_memory_nJ' + AS_ACS]:,.0f} | {share} | {row['Effective_MACs']:,.0f} "
                   f"| {row['Effective_ACs']:,.0f} | {row['ActivationSparsity']:.2f} | {row['inference ms/sample']:.4f} |")
    pairs = energy_pairs(frame)
    if len(pairs):
        out.append("")
        out.append("  Spiking against conventional, same data (the pairs of `common.study.compare.ENERGY_PAIRS`):")
        for (conventional, spiking), group in pairs.groupby(["conventional", "spiking"], sort=False):
            words = []
            for _, p in group.iterrows():
                words.append(f"under *{p['cost model']}* the {p.cheaper} network is cheaper "
                             f"({p['spiking / conventional']:.2f}x; measured spike rate {p['spike rate']:.3f}, "
                             f"{_change(p['crossover spike rate'])})")
            line = f"  - {label(spiking)} against {label(conventional)} ({frame.loc[spiking, 'dataset']}): " + "; ".join(words) + "."
            share = group["first layer share"].iloc[0]
            if share > 0:     # the spiking network's first layer reads graded inputs, priced as MACs above
                line += (f" These rest on pricing its first layer's event-count inputs as MACs over every time bin "
                         f"({share:.0%} of its operations energy); priced as accumulates instead: " + "; ".join(
                             f"*{p['cost model']}* {p['ratio, event inputs as ACs']:.2f}x, "
                             f"{_change(p['crossover, event inputs as ACs'])}" for _, p in group.iterrows()) + ".")
            out.append(line)
    return out


def _change(rate: float) -> str:
    return ("no spike rate changes the winner" if math.isinf(rate) else
            "the spiking network would cost more even without a single spike" if rate == 0
            else f"the winner changes at a spike rate of {rate:.3f}")


def section(results_dir: Path, profile: str = "quick") -> str:
    """The findings as Markdown bullets, every number from ``results_dir``."""
    from common.runs.records import ResultsTable, load_results, table_path
    from common.study import gestures, nmnist_folds
    from common.study.compare import load_efficiency
    from common.study import lif_alif as lif_alif_study

    root = Path(results_dir).parent
    parts = []
    records = load_results(Path(results_dir), profile=profile)
    parts += single_runs(records)
    grid = ResultsTable(table_path(lif_alif_study.STUDY, profile, root)).rows()
    grid_confirm = ResultsTable(table_path(lif_alif_study.CONFIRM, profile, root)).rows()
    folds = ResultsTable(table_path(nmnist_folds.STUDY, profile, root)).rows()
    confirm = ResultsTable(table_path(nmnist_folds.CONFIRM, profile, root)).rows()
    gesture_rows = gestures.records_by_dataset(profile, root)
    parts = answer_first(folds, confirm, grid, grid_confirm) + gesture_answers(gesture_rows) + parts
    for dataset_name, rows in gesture_rows.items():
        parts += gestures.findings(rows, dataset_name)
    if grid:
        parts += lif_alif(grid)
    if folds:
        parts += nmnist(folds)
    from common.study.compare import accuracy_over_seeds, study_records
    parts += efficiency(load_efficiency(profile, root), accuracy_over_seeds(study_records(profile, root)))
    faithfulness_file = Path(results_dir) / f"faithfulness-{profile}.json"
    if faithfulness_file.exists():
        from common.study.explanations import findings_lines
        parts += findings_lines(faithfulness_file)
    explanations_file = Path(results_dir) / f"explanations-{profile}.json"
    if explanations_file.exists():
        from common.study.explanations import explanations_findings
        parts += explanations_findings(explanations_file)
    lines = [line if line.startswith(" ") or not line else f"- {line}" for line in parts]
    return (f"Generated by `python -m common.study.report` from the {profile} profile's records in `results/`.\n\n"
            + "\n".join(lines))
