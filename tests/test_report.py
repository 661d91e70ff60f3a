import json

import pytest

from common.config import PROJECT_ROOT
from common.study.report import (END, FINDINGS_END, FINDINGS_START, REPORT, START, key_table, report_text, results_table,
                                 run_records, section, summary, update_readme)
from common.study.status import read_status


@pytest.mark.slow
def test_readme_and_report_agree_with_the_results_files():
    """The README's key table and summary, and results/REPORT.md in full, are exactly what the committed results
    files generate."""
    results = PROJECT_ROOT / "results"
    readme = (PROJECT_ROOT / "README.md").read_text()
    records = run_records(results)
    assert readme.split(START, 1)[1].split(END, 1)[0].strip() == key_table(records, results)
    assert readme.split(FINDINGS_START, 1)[1].split(FINDINGS_END, 1)[0].strip() == summary(results)
    assert (results / REPORT).read_text() == report_text(records, results, read_status("quick"), "quick")


def test_update_rewrites_only_the_marked_section(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    record = {"run": "toy-quick", "config": {"run_name": "toy", "dataset": "mnist", "model": "cnn",
                                             "profile": "quick", "seed": 0},
              "test": {"accuracy": 0.987654, "n_samples": 10000}, "parameters": 1234,
              "train_seconds": 12.3, "device": "cpu", "machine": {"torch_threads": 2},
              "date": "2026-11-23T12:00:00+00:00"}
    (results / "toy-quick.json").write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nstale\n{END}\noutro\n")
    assert update_readme(readme, results) is True
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale" not in text
    assert "| toy | MNIST | conventional | 98.77% | one run | 1 | 1,234 |" in text      # the key table only
    report = (results / REPORT).read_text()
    assert "| toy-quick | mnist | cnn | quick | 98.77% | 10,000 | 1,234 | 12 s | cpu (2) | 2026-11-23 |" in report
    assert "![test error rate of every model" in report and (results / "figures" / "accuracy.png").stat().st_size > 1000
    assert "](figures/accuracy.png)" in report                # linked from beside the figures
    assert "nmnist_folds.png" not in report and "tradeoff" not in report   # not run: no such figure, no broken link
    assert update_readme(readme, results) is False          # idempotent
    assert results_table([record]).count("\n") == 2


def test_the_key_table_leaves_out_a_single_run_of_a_model_it_replicates(tmp_path):
    """The notebooks' single N-MNIST runs beside the fold study's replicates of the same models read as two results
    for one model: only the replicated row is shown, and the line under the table counts what was left out."""
    def record(run, seed, accuracy, parameters=1234):
        return {"run": f"{run}-quick", "config": {"run_name": run, "dataset": "nmnist", "model": "scnn",
                                                  "profile": "quick", "seed": seed},
                "test": {"accuracy": accuracy, "n_samples": 100}, "parameters": parameters, "train_seconds": 1.0,
                "device": "cpu", "machine": {"torch_threads": 2}, "date": "2026-11-23T12:00:00+00:00"}

    records = [record("folds", 0, 0.95), record("folds", 1, 0.96), record("single", 0, 0.99),
               record("other", 0, 0.90, parameters=999)]
    table = key_table(records, tmp_path)
    assert "| folds | N-MNIST | spiking | 95.50% |" in table and "| single |" not in table
    assert "| other | N-MNIST | spiking | 90.00% | one run | 1 | 999 |" in table       # another size: kept
    assert table.endswith("Left out: 1 single runs on N-MNIST, whose models the rows above replicate (each notebook "
                          "shows its own run).")


def test_section_adds_the_lif_alif_headline_table(tmp_path):
    from test_compare import grid_row

    from common.runs.records import ResultsTable
    results = tmp_path / "results"
    ResultsTable(results / "lif_alif-smoke.jsonl").append(
        grid_row("rsnn", "mnist", 0, 0.90, "lif"), grid_row("rsnn", "mnist", 1, 0.92, "lif"))
    record = {"run": "toy-quick", "config": {"dataset": "mnist", "model": "cnn", "profile": "quick"},
              "test": {"accuracy": 0.5, "n_samples": 10}, "parameters": 1, "train_seconds": 1.0,
              "device": "cpu", "machine": {"torch_threads": 2}, "date": "2026-11-23T12:00:00+00:00"}
    text = section([record], results)
    assert "| rsnn_lif_mnist | mnist | smoke | 91.00% +- 1.41% | 2 | 100 | 7 | 2 s | cpu |" in text


def test_section_says_which_notebooks_the_last_study_run_did_not_run():
    from common.study.report import not_run_note

    status = {"profile": "quick", "date": "2026-12-01T10:00:00+00:00", "notebooks": [
        {"notebook": "01_cnn_mnist_gradcam.ipynb", "status": "ran", "reason": ""},
        {"notebook": "06_slstm_vs_scnn_dvsgesture.ipynb", "status": "skipped", "reason": "No training split\nmore"}]}
    note = not_run_note(status)
    assert "profile quick, 2026-12-01" in note and "`06_slstm_vs_scnn_dvsgesture.ipynb`: skipped: No training split" in note
    assert "01_cnn" not in note and "more" not in note
    assert section([], status=status).startswith(note)
    assert not_run_note({**status, "notebooks": status["notebooks"][:1]}) == ""


def test_notebook_06s_runs_from_its_grid_table_are_in_the_readme_table(tmp_path):
    """The gesture study (notebooks 05-06) writes its runs as one grid table, not results files: the report lists them."""
    from common.runs.records import ResultsTable

    results = tmp_path / "results"
    record = {"run": "cmp_slstm_dvsgesture_seed0-quick",
              "config": {"run_name": "cmp_slstm_dvsgesture_seed0", "dataset": "dvsgesture", "model": "slstm",
                         "profile": "quick", "seed": 0},
              "test": {"accuracy": 0.5, "n_samples": 264}, "parameters": 9, "train_seconds": 3.0, "device": "cpu",
              "machine": {"torch_threads": 2}, "date": "2026-12-01T12:00:00+00:00",
              "cell": {"spec": "cmp_slstm_dvsgesture", "seed": 0}, "cell_key": "k"}
    ResultsTable(results / "gestures_dvsgesture-quick.jsonl").append(record)
    assert [r["run"] for r in run_records(results)] == ["cmp_slstm_dvsgesture_seed0-quick"]
    assert "| cmp_slstm_dvsgesture_seed0-quick | dvsgesture | slstm | quick | 50.00% | 264 |" in section(
        run_records(results), results)


def test_the_readme_times_come_from_the_newest_front_door_record(tmp_path):
    """The two commands' times are the newest fresh-clone run's (benchmarks/front_door.py), never typed; the
    from-scratch line is the training the records hold."""
    from common.study.report import times_table

    results, door = tmp_path / "results", tmp_path / "door"
    results.mkdir()
    door.mkdir()
    (results / "toy-quick.json").write_text(json.dumps({"run": "toy-quick", "config": {"run_name": "toy", "profile": "quick"},
                                                        "test": {"accuracy": 0.9}, "train_seconds": 5400}))
    assert "not yet timed" in times_table(results, "quick", door)
    old = {"date": "2026-12-01T00:00:00+00:00", "commit": "a" * 40, "profile": "quick", "machine": "AMD EPYC, AVX2",
           "cores": 2, "git_status_clean_after_study": False,
           "steps": {"make env": {"seconds": 60, "exit_code": 0}, "make study": {"seconds": 60, "exit_code": 0}}}
    new = {**old, "date": "2026-12-07T00:00:00+00:00", "commit": "b" * 40, "git_status_clean_after_study": True,
           "steps": {"make env": {"seconds": 300, "exit_code": 0}, "make study": {"seconds": 900, "exit_code": 0},
                     "CI (make test)": {"seconds": 600, "exit_code": 0, "tests": "610 passed in 540.65s"}}}
    (door / "front_door-old.json").write_text(json.dumps(old))
    (door / "front_door-new.json").write_text(json.dumps(new))
    table = times_table(results, "quick", door)
    assert "| `make env` (the install; `make study` and `make test` run it first when `.venv` is missing) | 5 min |" in table
    assert "| `make study`, resumed (the committed models and tables reused) | 15 min, `git status` clean after it |" in table
    assert "| `make test` (CI: `.ci/run`) | 10 min: 610 passed in 540.65s |" in table
    assert "hold 1.5 h of training (1 runs" in table
    assert table.endswith("a 2-core AMD EPYC, AVX2 machine, commit bbbbbbb, quick profile.")
