import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from common.study import NotebookFailed, main, numbered_notebooks, run_notebook


def test_numbered_notebooks_in_order():
    found = numbered_notebooks()
    assert found and [p.name for p in found] == sorted(p.name for p in found)
    assert numbered_notebooks(only=["01"])[0].name.startswith("01_")


def test_failing_notebook_names_cell_and_error(tmp_path):
    notebook = tmp_path / "99_broken.ipynb"
    nb = new_notebook(cells=[new_code_cell("profile = 'x'"), new_code_cell("x = 1"),
                             new_code_cell("raise ValueError('dataset missing')")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebook)
    with pytest.raises(NotebookFailed) as error:
        run_notebook(notebook, "smoke", tmp_path / "out")
    assert "99_broken.ipynb" in str(error.value) and "ValueError: dataset missing" in str(error.value)
    assert (tmp_path / "out" / "99_broken.ipynb").exists()


def test_unknown_selection_exits_nonzero(capsys):
    assert main(["--profile", "smoke", "--only", "77"]) == 2
