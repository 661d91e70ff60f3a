"""The N-MNIST fold study's pieces: folds that test every recording once, stratified; statistics at both
levels from rows as the grid writes them."""
import numpy as np
import pytest

from common.config import DataSettings
from common.data.splits import fold_split, stratified_folds
from common.runs.cells import GridContext, run_cell
from common.study import nmnist_folds as F


def test_stratified_folds_test_every_recording_exactly_once():
    labels = np.repeat(np.arange(10), [110, 95, 100, 120, 90, 100, 105, 100, 80, 100])
    folds = stratified_folds(labels, 5, seed=0)
    everything = np.concatenate(folds)
    assert sorted(everything.tolist()) == list(range(len(labels)))           # each once
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1                                        # even folds
    for fold in folds:                                                         # stratified by digit
        counts = np.bincount(labels[fold], minlength=10)
        assert (np.abs(counts - np.bincount(labels) / 5) <= 1).all()
    assert [f.tolist() for f in stratified_folds(labels, 5, seed=0)] == [f.tolist() for f in folds]
    assert [f.tolist() for f in stratified_folds(labels, 5, seed=1)] != [f.tolist() for f in folds]


def row(variant, fold, correct_per_bin, seed=0):
    """A record of the fold study (as fold_cell writes it) of 4 recordings over 3 time bins;
    correct_per_bin[t][i] says if recording i is right."""
    labels = [1, 2, 3, 4]
    predictions = [[y if ok else -1 for y, ok in zip(labels, bin_)] for bin_ in correct_per_bin]
    return {"run": f"nmnist_folds_{variant}_fold{fold}_seed{seed}-quick",
            "config": {"run_name": "x", "dataset": "nmnist", "model": "scnn", "profile": "quick", "seed": seed},
            "test": {"accuracy": float(np.mean(correct_per_bin[-1])), "n_samples": 4,
                     "no_decision": 4 - sum(correct_per_bin[-1])},
            "cell": {"variant": variant, "fold": fold, "seed": seed}, "seed": seed, "labels": labels,
            "recordings": [f"f{fold}/r{i}" for i in range(4)], "predictions_by_time_bins": predictions,
            "accuracy_by_time_bins": [float(np.mean(b)) for b in correct_per_bin], "folds": 2,
            "train_samples": 4, "parameters": 1, "train_seconds": 1.0, "device": "cpu", "checkpoint": "x",
            "spikes_per_sample": {}}


ROWS = [row("beta 0.5", 0, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]]),
        row("beta 0.5", 1, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]),
        row("beta 0.5", 1, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]], seed=1),
        row("beta 0.8", 0, [[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]),
        row("beta 0.8", 1, [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]),
        row("beta 0.8", 1, [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]], seed=1)]


def test_head_to_head_averages_seeds_within_a_fold_and_corrects_for_overlap():
    from scipy import stats

    table = F.head_to_head(ROWS, [("beta 0.5", "beta 0.8")], bins=[1, 3])
    line = table[table["time bins"] == 3].iloc[0]
    # per fold, seeds averaged: fold 0: 1.0 - 0.5; fold 1: mean(0.75 - 0.25, 1.0 - 0.5) = 0.5
    assert line["runs"] == 3 and line["folds"] == 2 and line["folds b ahead"] == 2
    assert line["b - a (points)"] == pytest.approx(50.0)
    assert line["95% CI low"] == pytest.approx(50.0) and line["p (folds)"] == 0.0   # no spread between folds
    early = table[table["time bins"] == 1].iloc[0]
    assert early["b - a (points)"] == pytest.approx(25.0) and early["only b right"] == 3
    # recording level: one 2x2 table per run, the CMH test of statsmodels against the formula
    a_right, b_right = [2, 1, 2], [4, 3, 4]
    expected = sum(b - (a + b) / 2 for a, b in zip(a_right, b_right))
    variance = sum(4 * 4 * (a + b) * (8 - a - b) / (8 * 8 * 7) for a, b in zip(a_right, b_right))
    chi2 = (abs(expected) - 0.5) ** 2 / variance
    assert line["p (CMH by run)"] == pytest.approx(stats.chi2.sf(chi2, 1))
    # Holm over the table's two lines (its family), by hand: the smaller p doubled, the larger kept (never below it)
    low, high = sorted(table["p (folds)"])
    assert sorted(table["Holm p (folds)"]) == pytest.approx([min(1, 2 * low), max(min(1, 2 * low), high)])
    # the interval beside the adjusted verdict: Bonferroni's level for 2 tests, and so wider than the plain 95%
    assert list(table["adjusted level"]) == pytest.approx([0.975, 0.975])
    # recording level, descriptive: the two-way cluster bootstrap over runs and recordings, around the cells' mean
    assert line["recordings"] == 8 and "Holm p (CMH)" not in table
    assert line["bootstrap low"] <= 100 * np.mean([0.5, 0.5, 0.5]) <= line["bootstrap high"]


def test_no_conventional_network_is_compared_before_the_last_bin():
    cnn = [{**r, "cell": {**r["cell"], "variant": "CNN, time bins as channels"}} for r in ROWS if r["cell"]["variant"] == "beta 0.5"]
    rows = [{**r, "variant": r["cell"]["variant"]} for r in cnn] + ROWS[3:]
    table = F.head_to_head(rows, [("CNN, time bins as channels", "beta 0.8")], bins=[1, 2, 3])
    assert list(table["time bins"]) == [3]          # trained on all bins only: judged after all bins only
    full = F.head_to_head(ROWS, [("beta 0.5", "beta 0.8")], bins=[1, 2, 3])
    assert list(full["time bins"]) == [1, 2, 3]


def test_two_partitions_pool_as_the_corrected_repeated_k_fold_test():
    """Bouckaert & Frank (2004): the folds of r partitions, seeds averaged within each, var (1/(k r) + n2/n1) s^2,
    df k r - 1; by hand on two partitions of 2 folds."""
    from scipy import stats

    second = [{**r, "cell": {**r["cell"], "fold_seed": 1, "seed": r["cell"]["seed"] + 3}} for r in ROWS]
    for r in second:                                     # partition 1 is worse for beta 0.8 in fold 0
        if r["cell"]["variant"] == "beta 0.8" and r["cell"]["fold"] == 0:
            r["predictions_by_time_bins"] = [[1, 2, -1, -1]] * 3
    table = F.head_to_head(ROWS + second, [("beta 0.5", "beta 0.8")], bins=[2, 3])
    line = table.iloc[1]
    means = np.array([0.5, 0.5, 0.0, 0.5])              # (fold seed, fold) means of b - a
    se = np.sqrt((1 / 4 + 4 / 4) * means.var(ddof=1))
    assert line["folds"] == 4 and line["runs"] == 6
    assert line["b - a (points)"] == pytest.approx(100 * means.mean())
    assert line["95% CI high"] == pytest.approx(100 * (means.mean() + stats.t.ppf(0.975, 3) * se))
    assert line["p (folds)"] == pytest.approx(2 * stats.t.sf(means.mean() / se, 3))
    # beside the Holm verdict over the 2 lines: the Bonferroni interval, level 1 - 0.05 / 2
    assert line["adjusted CI high"] == pytest.approx(100 * (means.mean() + stats.t.ppf(1 - 0.0125, 3) * se))


def test_accuracy_over_folds_and_early_decisions_from_the_rows():
    accuracy = F.accuracy_over_folds(ROWS)
    assert accuracy.loc["beta 0.8", "test_predictions"] == 12 and accuracy.loc["beta 0.5", "no_decision"] == 7
    assert accuracy.loc["beta 0.8", "mean"] == pytest.approx(np.mean([1.0, np.mean([0.75, 1.0])]))
    assert accuracy.loc["beta 0.8", "seeds"] == 2 and accuracy.loc["beta 0.8", "folds"] == 2
    early = F.early_decisions(ROWS, bins=[1]).set_index("variant")
    assert early.loc["beta 0.8", "no decision"] == pytest.approx(0.75)          # 1 of 4 decided
    assert early.loc["beta 0.8", "decided accuracy"] == pytest.approx(1.0)      # and that one right
    records = F.as_records(ROWS, "quick")
    from common.study.compare import accuracy_over_seeds
    pooled = accuracy_over_seeds(records).set_index("run")
    assert pooled.loc["scnn_nmnist_beta0.8_folds", "seeds"] == 3
    assert pooled.loc["scnn_nmnist_beta0.8_folds", "twin"] == "scnn_nmnist_beta0.8"


def test_the_folds_figure_draws_the_tables_numbers():
    import matplotlib
    matplotlib.use("Agg")
    figure = F.plot_curves(ROWS)
    left, right = figure.axes[:2]
    drawn = {line.get_label(): list(line.get_ydata()) for line in left.lines}
    for variant, curve in F.curves(ROWS).items():
        assert drawn[variant] == pytest.approx(curve["mean"])
    table = F.head_to_head(ROWS, [("beta 0.5", "beta 0.8")], bins=[1, 2, 3])
    assert list(right.lines[0].get_ydata()) == pytest.approx(list(table["b - a (points)"]))
    assert "(3 runs each: folds x seeds;" in figure.texts[0].get_text()
    fewer = F.plot_curves(ROWS + [row("spiking LSTM, source size", 0, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]])])
    assert "(3 runs each: folds x seeds; spiking LSTM, source size: 1;" in fewer.texts[0].get_text()


def test_the_full_profile_keeps_the_official_split_with_seeds_as_replicates(tmp_path, no_env):
    from event_fixtures import make_nmnist_tree

    from common.runs.specs import profile_settings

    full = profile_settings("scnn_nmnist", "full")
    assert full["folds"] is None and full["n_seeds"] >= 3
    assert [c.factors for c in F.study_cells(full)] == [{"variant": v, "fold": None, "seed": s} for s in (0, 1, 2)
                                                        for v in F.VARIANTS]
    root = make_nmnist_tree(tmp_path / "data", n_per_class=3, n_test_per_class=2)
    settings = profile_settings("scnn_nmnist", "smoke")
    train, test = fold_split("nmnist", DataSettings.of(settings), root, None)
    assert len(train.labels) == 30 and len(test.labels) == 20
    assert all(r.startswith("Test/") for r in test.recordings) and all(r.startswith("Train/") for r in train.recordings)
    row = run_cell(F.fold_cell({"variant": "beta 0.8", "fold": None, "seed": 0}),
                   GridContext("smoke", data_root=str(root), output_root=str(tmp_path / "out")))
    assert row["cell"]["fold"] is None and row["test"]["n_samples"] == 20
    assert row["config"]["model_kwargs"]["beta"] == 0.8
    assert row["config"]["data"]["fold"] is None and row["config"]["data"]["folds"] is None   # no fold design
    assert len(row["predictions_by_time_bins"]) == settings["n_time_bins"]


# ---------------------------------------------------------------- the confirmation partition (issue #40)

def test_the_confirmation_runs_the_primary_variants_seed_by_seed_on_new_seeds():
    from common.runs.specs import FOLD_CONFIRM, PRIMARY_FAMILIES, profile_settings

    quick = profile_settings("scnn_nmnist", "quick")
    cells = F.confirm_cells(quick)
    variants = F.primary_variants()
    assert set(variants) == {v for pair in PRIMARY_FAMILIES["nmnist_folds"]["pairs"] for v in pair}
    assert not {"spiking LSTM, equal size", "spiking LSTM, source size"} & set(variants)   # they moved to gestures
    assert F.confirm_seeds(quick) == [3, 4, 5]
    block = quick["folds"] * len(variants)       # one seed: every primary variant on every fold
    assert len(cells) == 3 * block
    for n, seed in enumerate(F.confirm_seeds(quick)):   # a seed's k folds of every variant before the next seed
        part = [c.factors for c in cells[n * block:(n + 1) * block]]
        assert {c["seed"] for c in part} == {seed}
        assert {(c["variant"], c["fold"]) for c in part} == {(v, f) for v in variants for f in range(quick["folds"])}
    # within a seed, fold by fold: a partial seed still pairs every variant on the folds it finished
    assert [c.factors["fold"] for c in cells[:len(variants)]] == [0] * len(variants)
    assert all(c.factors["fold_seed"] == FOLD_CONFIRM["fold_seed"] == c.data["fold_seed"] for c in cells)
    assert len({c.run_name for c in cells}) == len(cells)
    assert not {c.run_name for c in cells} & {c.run_name for c in F.study_cells(quick)}   # no checkpoint shared
    with pytest.raises(ValueError, match="official split"):
        F.confirm_cells(profile_settings("scnn_nmnist", "full"))


def test_the_confirmation_seeds_and_folds_never_occur_in_the_exploratory_table():
    from common.config import PROJECT_ROOT
    from common.runs.records import ResultsTable, flat, table_path
    from common.runs.specs import FOLD_CONFIRM, profile_settings

    rows = ResultsTable(table_path(F.STUDY, "quick", PROJECT_ROOT)).rows()
    assert rows, "the committed exploratory table results/nmnist_folds-quick.jsonl is missing"
    assert not {flat(r)["seed"] for r in rows} & set(F.confirm_seeds(profile_settings("scnn_nmnist", "quick")))
    assert {r["cell"]["seed"] for r in rows} == {0, 1, 2}
    fold_seeds = {(r["config"].get("data") or {}).get("fold_seed", r.get("fold_seed")) for r in rows}
    assert fold_seeds == {0} and FOLD_CONFIRM["fold_seed"] not in fold_seeds


def test_the_confirmation_folds_keep_every_recording_on_one_side(tmp_path, no_env):
    from event_fixtures import make_nmnist_tree

    from common.runs.specs import profile_settings

    root = make_nmnist_tree(tmp_path / "data", n_per_class=3, n_test_per_class=2)
    smoke = profile_settings("scnn_nmnist", "smoke")
    context = GridContext("smoke", data_root=str(root), output_root=str(tmp_path / "out"))
    tested, seen = [], {}
    for cell in [c for c in F.confirm_cells(smoke) if c.factors["variant"] == "beta 0.8"]:
        data = cell.resolve(context).config.data
        assert data.fold_seed == 1 and data.folds == smoke["folds"]
        train, test = fold_split("nmnist", data, str(root), None)
        assert not set(train.recordings) & set(test.recordings)       # no recording on both sides of its fold
        tested += test.recordings
        seen[cell.factors["fold"]] = set(test.recordings)
    everything = set(train.recordings) | set(test.recordings)
    assert sorted(tested) == sorted(everything)                       # every recording tested exactly once
    exploratory = fold_split("nmnist", DataSettings.of({**smoke, "fold": 0}), str(root), None)[1]
    assert set(exploratory.recordings) not in seen.values()            # other folds than the exploratory ones


def test_the_confirmation_runs_in_the_smoke_profile_and_resumes(tmp_path, no_env, capsys):
    from event_fixtures import make_nmnist_tree

    from common.runs.records import ResultsTable, table_path
    from common.runs.specs import profile_settings

    root = make_nmnist_tree(tmp_path / "data", n_per_class=2, n_test_per_class=1)
    out = tmp_path / "out"
    rows = F.run_confirmation("smoke", data_root=str(root), output_root=str(out), workers=1, progress=False)
    cells = F.confirm_cells(profile_settings("scnn_nmnist", "smoke"))
    table = ResultsTable(table_path(F.CONFIRM, "smoke", out))
    assert table.path.name == "nmnist_folds_confirm-smoke.jsonl" and len(table.rows()) == len(cells) == len(rows)
    assert {(r["cell"]["variant"], r["cell"]["fold"], r["cell"]["seed"]) for r in rows} == \
        {(c.factors["variant"], c.factors["fold"], c.factors["seed"]) for c in cells}
    assert all(r["config"]["data"]["fold_seed"] == 1 and r["cell"]["fold_seed"] == 1 for r in rows)
    assert "expected cost: unknown" in capsys.readouterr().out     # no exploratory smoke table to measure from
    again = F.run_confirmation("smoke", data_root=str(root), output_root=str(out), workers=1, progress=False)
    assert f"{len(cells)} already in nmnist_folds_confirm-smoke.jsonl, 0 to run" in capsys.readouterr().out
    assert [r["cell_key"] for r in again] == [r["cell_key"] for r in rows]


def test_the_expected_cost_is_the_median_train_seconds_per_variant():
    from common.runs.specs import profile_settings

    cells = F.confirm_cells(profile_settings("scnn_nmnist", "quick"))[:2]      # beta 0.5 and beta 0.8, fold 0
    reference = [{"cell": {"variant": v}, "train_seconds": s} for v, s in
                 (("beta 0.5", 100.0), ("beta 0.5", 300.0), ("beta 0.5", 120.0), ("beta 0.8", 50.0))]
    cost = F.expected_cost(cells, reference, workers=2)
    assert cost["cell_seconds"] == 120.0 + 50.0 and cost["wall_seconds"] == 85.0
    assert F.expected_cost(F.confirm_cells(profile_settings("scnn_nmnist", "quick")), reference, 2)["wall_seconds"] is None
