"""The grid runner: expansion, atomic results table, resume without recomputation, kill safety,
process pool and Ray Tune giving the local runner's table, and the statistics."""
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.runs.cells import Cell, GridContext
from common.runs.grid import KEY, TIMING, cell_key, expand_grid, run_grid
from common.runs.records import ResultsTable
from common.runs.stats import paired_differences, summarize, t_interval, t_quantile

PROJECT = Path(__file__).resolve().parent.parent


def toy_cell(cell, context):
    """A fast, deterministic 'training' in place of common.runs.cells.run_cell: accuracy depends on the factors and
    the seed; ``log`` and ``sleep`` come in the context's overrides."""
    log, cell = context.overrides.get("log"), cell.factors
    if log:
        with open(log, "a") as handle:
            handle.write(cell_key(cell) + "\n")
    time.sleep(context.overrides.get("sleep", 0))
    bonus = {"lif": 0.0, "alif": 0.02}[cell["neuron"]] + 0.01 * cell.get("recurrent", False)
    return {"neuron": cell["neuron"], "recurrent": cell.get("recurrent", False),
            "test_accuracy": 0.9 + bonus + 0.001 * cell["seed"], "train_seconds": 0.1}


GRID = {"neuron": ["lif", "alif"], "recurrent": [False, True]}


def toy_grid(grid, table, seeds, workers=1, verbose=True, **options):
    """``grid``'s cells (typed, as every study makes them) run by :func:`toy_cell`."""
    cells = [Cell(factors, None, factors["seed"]) for factors in expand_grid(grid, seeds)]
    return run_grid(cells, table, GridContext("smoke", overrides=options), workers=workers, verbose=verbose,
                    run=toy_cell)


def test_expand_grid_product_union_and_seeds():
    cells = expand_grid(GRID, seeds=[0, 1, 2])
    assert len(cells) == 12 and len({cell_key(c) for c in cells}) == 12
    union = expand_grid([{**GRID, "seeds": [0, 1]}, {"neuron": ["alif"], "recurrent": [True], "seeds": [0, 5]}])
    assert len(union) == 8 + 1                                   # (alif, True, 0) is not repeated
    assert cell_key({"b": 1, "a": 2, "seed": 0}) == cell_key({"seed": 0, "a": 2, "b": 1})
    with pytest.raises(ValueError):
        expand_grid(GRID)                                        # no seeds anywhere


def test_rerun_recomputes_nothing_and_grid_growth_runs_only_new_cells(tmp_path):
    table, log = tmp_path / "results" / "t.jsonl", tmp_path / "calls.log"
    rows = toy_grid(GRID, table, [0, 1], log=str(log))
    assert len(rows) == 8 and len(log.read_text().splitlines()) == 8
    assert all(r[KEY] == cell_key({k: r[k] for k in ("neuron", "recurrent", "seed")}) for r in rows)
    again = toy_grid(GRID, table, [0, 1], log=str(log))
    assert len(log.read_text().splitlines()) == 8                 # nothing recomputed
    assert again == rows
    more = toy_grid(GRID, table, [0, 1, 2], log=str(log))
    assert len(more) == 12 and len(log.read_text().splitlines()) == 12   # only the 4 new seed-2 cells
    assert len(ResultsTable(table).rows()) == 12


def test_failed_write_leaves_the_table_intact(tmp_path, monkeypatch):
    table = ResultsTable(tmp_path / "t.jsonl")
    table.append({KEY: "a", "x": 1})
    before = table.path.read_bytes()
    import common.files as checkpoint

    def crashing_write(path, write):
        class Half:
            def write(self, data):
                raise KeyboardInterrupt("killed mid-write")
        write(Half())
    monkeypatch.setattr("common.runs.records.atomic_write", lambda p, w: checkpoint.atomic_write(p, lambda h: (h.write(b"{\"broken"), crashing_write(p, w))))
    with pytest.raises(KeyboardInterrupt):
        table.append({KEY: "b", "x": 2})
    assert table.path.read_bytes() == before and [r[KEY] for r in table.rows()] == ["a"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]   # temporary file removed


KILL_SCRIPT = """
import sys
sys.path[:0] = [{project!r}, {tests!r}]
from test_grid import toy_grid, GRID
toy_grid(GRID, {table!r}, [0, 1, 2], verbose=False, log={log!r}, sleep=0.4)
"""


@pytest.mark.slow
def test_killed_grid_loses_no_rows_and_resumes(tmp_path):
    table, log = tmp_path / "t.jsonl", tmp_path / "calls.log"
    script = KILL_SCRIPT.format(project=str(PROJECT), tests=str(PROJECT / "tests"), table=str(table), log=str(log))
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while time.time() < deadline and len(ResultsTable(table).rows()) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    rows = ResultsTable(table).rows()                              # parses: no half-written line
    started = log.read_text().splitlines()
    assert 3 <= len(rows) < 12
    assert len(started) - len(rows) <= 1                          # only the cell running at the kill is lost
    assert {r[KEY] for r in rows} <= set(started)
    log.write_text("")
    final = toy_grid(GRID, table, [0, 1, 2], verbose=False, log=str(log))
    rerun = log.read_text().splitlines()
    assert len(final) == 12 and len({r[KEY] for r in final}) == 12
    assert len(rerun) == 12 - len(rows) and not set(rerun) & {r[KEY] for r in rows}


@pytest.mark.slow
def test_process_pool_gives_the_sequential_table(tmp_path):
    sequential = toy_grid(GRID, tmp_path / "a.jsonl", [0, 1], verbose=False)
    pooled = toy_grid(GRID, tmp_path / "b.jsonl", [0, 1], workers=2, verbose=False)
    key = lambda r: r[KEY]
    assert sorted(sequential, key=key) == sorted(pooled, key=key)


def test_t_interval_matches_hand_computation():
    stats = t_interval([0.01, 0.03, 0.02])
    # mean 0.02, sd 0.01, t_{0.975,2} = 4.3027 -> half width 4.3027 * 0.01 / sqrt(3)
    assert stats["mean"] == pytest.approx(0.02) and stats["std"] == pytest.approx(0.01)
    assert stats["high"] - stats["mean"] == pytest.approx(4.3027 * 0.01 / math.sqrt(3), rel=1e-3)
    assert t_quantile(2) == pytest.approx(4.303, abs=1e-3) and t_quantile(1000) == pytest.approx(1.962, abs=1e-3)
    assert math.isnan(t_interval([0.5])["low"])


def test_summary_and_paired_differences(tmp_path):
    rows = toy_grid(GRID, tmp_path / "t.jsonl", [0, 1, 2], verbose=False)
    summary = summarize(rows)
    assert len(summary) == 4 and set(summary["n"]) == {3}
    lif = summary[(summary.neuron == "lif") & (summary.recurrent == "False")].iloc[0]
    assert lif["mean"] == pytest.approx(0.901) and lif["std"] == pytest.approx(0.001)
    table = paired_differences(rows, "neuron", "lif", "alif")
    assert list(table.context) == ['{"recurrent": false}', '{"recurrent": true}', "all"]
    assert table["mean"].tolist() == pytest.approx([0.02, 0.02, 0.02])
    assert (table.n.tolist() == [3, 3, 6]) and table["std"].abs().max() < 1e-9   # seeds pair exactly


def ray_available():
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not ray_available(), reason="Ray Tune is not installed (pip install '.[ray]')")
def test_ray_tune_gives_the_local_runners_table(tmp_path, no_env):
    """Two real smoke cells (fixture MNIST) on a local Ray instance: same rows as the local runner."""
    import ray
    from idx_fixtures import write_image_dataset

    from common.study.lif_alif import lif_alif_cell

    data = write_image_dataset(tmp_path / "data", "MNIST", n_train=200, n_test=100)
    grid = {"dataset": ["mnist"], "model": ["rsnn"], "neuron": ["lif", "alif"], "recurrent": [False],
            "learn_beta": [True], "encoding": ["rate"], "hidden": [16], "epochs": [1]}

    def context(name):
        return GridContext("smoke", data_root=str(data), device="cpu", output_root=str(tmp_path / name))

    cells = [lif_alif_cell(factors) for factors in expand_grid(grid, seeds=[0])]
    local = run_grid(cells, tmp_path / "local" / "results" / "t.jsonl", context("local"))
    try:
        remote = run_grid(cells, tmp_path / "ray" / "results" / "t.jsonl", context("ray"), workers=2, backend="ray")
    finally:
        ray.shutdown()
    from common.config import identity_of
    strip = lambda rows: sorted(({**{k: v for k, v in r.items() if k not in (*TIMING, "run")},
                                  "config": identity_of(r["config"]),
                                  "test": {k: v for k, v in r["test"].items() if k != "seconds"}} for r in rows),
                                key=lambda r: r[KEY])
    assert len(remote) == 2 and strip(remote) == strip(local)
    assert all(r["test"]["n_samples"] == 100 for r in remote)
