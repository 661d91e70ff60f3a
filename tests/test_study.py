import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from common.study.notebooks import NotebookFailed, main, numbered_notebooks, run_notebook


def test_numbered_notebooks_in_order():
    found = numbered_notebooks()
    assert found and [p.name for p in found] == sorted(p.name for p in found)
    assert numbered_notebooks(only=["01"])[0].name.startswith("01_")


def write_notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell("profile = 'x'\nreuse_trained = False"),
                             *(new_code_cell(s) for s in sources)])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_failing_notebook_names_cell_and_error(tmp_path):
    notebook = write_notebook(tmp_path / "99_broken.ipynb", "x = 1", "raise ValueError('dataset missing')")
    with pytest.raises(NotebookFailed) as error:
        run_notebook(notebook, "smoke", tmp_path / "out")
    assert "99_broken.ipynb" in str(error.value) and "ValueError: dataset missing" in str(error.value)
    assert error.value.ename == "ValueError" and not error.value.missing_data
    assert (tmp_path / "out" / "99_broken.ipynb").exists()


@pytest.fixture
def three_notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_ok.ipynb", "assert reuse_trained is True   # the study resumes finished runs")
    write_notebook(folder / "02_no_data.ipynb",
                   "from common.data.errors import DatasetNotFoundError\n"
                   "raise DatasetNotFoundError(\"Dataset 'toy' was not found.\\nHow to get it: download it\")")
    write_notebook(folder / "03_after.ipynb", "print('still runs')")
    return folder


@pytest.mark.slow
def test_absent_data_skips_the_notebook_and_the_rest_still_runs(three_notebooks, tmp_path, capsys):
    out = tmp_path / "executed"
    assert main(["--profile", "smoke", "--notebooks", str(three_notebooks), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    status = json.loads((out / "study.json").read_text())
    assert [(n["notebook"], n["status"]) for n in status["notebooks"]] == [
        ("01_ok.ipynb", "ran"), ("02_no_data.ipynb", "skipped"), ("03_after.ipynb", "ran")]
    assert "How to get it: download it" in status["notebooks"][1]["reason"]
    assert all(n["seconds"] > 0 for n in status["notebooks"])
    table = printed[printed.index("notebook  "):]
    assert "02_no_data.ipynb  skipped" in table and "Dataset 'toy' was not found." in table
    assert "2 ran, 1 skipped, 0 failed" in table and "How to get it: download it" in printed
    assert main(["--profile", "smoke", "--notebooks", str(three_notebooks), "--out", str(out), "--strict"]) == 1


def test_a_real_failure_fails_the_run_but_not_the_notebooks_after_it(three_notebooks, tmp_path, capsys):
    write_notebook(three_notebooks / "02_no_data.ipynb", "1 / 0")
    out = tmp_path / "executed"
    assert main(["--profile", "smoke", "--notebooks", str(three_notebooks), "--out", str(out), "--retrain"]) == 1
    status = json.loads((out / "study.json").read_text())
    assert [n["status"] for n in status["notebooks"]] == ["failed", "failed", "ran"]   # 01: reuse_trained False
    assert "ZeroDivisionError" in status["notebooks"][1]["reason"] and "cell" in status["notebooks"][1]["reason"]


def test_unknown_selection_exits_nonzero(capsys):
    assert main(["--profile", "smoke", "--only", "77"]) == 2
