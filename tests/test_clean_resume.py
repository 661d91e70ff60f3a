"""A resume changes nothing (issue 43), on a temporary copy of the repository in the smoke profile: every route a user
takes (the study resumed, a notebook run with nbconvert from notebooks/, an experiment with --set) leaves the copy's
tracked files as they were, and a second run rewrites none of the files the first one wrote."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from event_fixtures import make_nmnist_tree
from idx_fixtures import write_image_dataset

from common.config import PROJECT_ROOT

pytestmark = pytest.mark.slow      # each test executes notebooks in fresh kernels


def git(repo: Path, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def copy(tmp_path):
    """The repository's tracked files in a fresh git repository of their own (one commit)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    if listed.returncode != 0 or not listed.stdout:
        pytest.skip("not a git checkout")
    repo = tmp_path / "repo"
    for name in listed.stdout.split("\0"):
        if name and (PROJECT_ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy")
    return repo


def environment(repo: Path, data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNN_", "JPY_", "TQDM_"))}
    return {**env, "PYTHONPATH": str(repo), "SNN_DATA_ROOT": str(data), "SNN_DATA_MIRROR": "none", "SNN_OFFLINE": "1"}


def run(repo: Path, env: dict, *args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd or repo, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def files_of(repo: Path) -> dict[str, str]:
    """Every file of the copy but git's own and the locks, with a digest of its bytes."""
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(repo).parts and not p.name.endswith((".lock", ".owner"))}


def test_a_resumed_study_rewrites_nothing(copy, tmp_path):
    env = environment(copy, write_image_dataset(tmp_path / "data", n_train=300, n_test=100))
    study = (sys.executable, "-m", "common.study", "--profile", "smoke", "--only", "01")
    report = (sys.executable, "-m", "common.study.report", "--profile", "smoke")
    run(copy, env, *study)
    run(copy, env, *report)
    first = files_of(copy)
    assert "runs/smoke/01_cnn_mnist_gradcam.ipynb" in first and "runs/smoke/outputs/results/cnn_mnist-smoke.json" in first
    run(copy, env, *study)                                   # resumed: the finished run is reused
    run(copy, env, *report)
    resumed = files_of(copy)
    # the executed notebook now says "reusing the finished run" where it showed the training: nothing else moves
    assert [k for k, v in resumed.items() if first.get(k) != v] == ["runs/smoke/01_cnn_mnist_gradcam.ipynb"]
    run(copy, env, *study)                                   # and a resume of a resume shows the same
    run(copy, env, *report)
    assert {k: v for k, v in files_of(copy).items() if resumed.get(k) != v} == {}
    assert git(copy, "status", "--porcelain") == ""


def test_nbconvert_from_notebooks_leaves_git_status_clean(copy, tmp_path):
    """As a user runs a notebook outside the study: ``jupyter nbconvert --execute`` in notebooks/ (here with the
    parameters cell set to smoke, committed in the copy), twice; its output is ignored by git, and it shows no
    progress bar and no path of the machine."""
    notebook = copy / "notebooks" / "01_cnn_mnist_gradcam.ipynb"
    content = json.loads(notebook.read_text())
    cell = next(c for c in content["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = "".join(cell["source"]).replace('profile = "quick"', 'profile = "smoke"')
    notebook.write_text(json.dumps(content, indent=1) + "\n")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "smoke")
    env = environment(copy, write_image_dataset(copy / "data", n_train=300, n_test=100))   # ./data, as a clone has it
    convert = (sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.kernel_name=python3", notebook.name)
    run(copy, env, *convert, cwd=notebook.parent)
    written = {k: v for k, v in files_of(copy).items() if "nbconvert" not in k}
    run(copy, env, *convert, cwd=notebook.parent)
    assert {k: v for k, v in files_of(copy).items() if "nbconvert" not in k} == written
    assert git(copy, "status", "--porcelain") == ""
    executed = json.loads((notebook.parent / "01_cnn_mnist_gradcam.nbconvert.ipynb").read_text())
    outputs = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "it/s" not in outputs and "widget-view" not in outputs           # no progress bar saved
    assert str(tmp_path) not in outputs                                      # no path of this machine


def test_an_experiment_leaves_every_tracked_file_and_the_reference_runs_as_they_were(copy, tmp_path):
    """``python -m common.study --only 02 --set beta=0.9 --set epochs=1``: its files go under its own name and folder
    (runs/experiments/), not into the profile's executed notebooks or outputs, and no report is written."""
    env = environment(copy, make_nmnist_tree(tmp_path / "data", n_per_class=6, n_test_per_class=3))
    done = run(copy, env, sys.executable, "-m", "common.study", "--profile", "smoke", "--only", "02",
               "--set", "beta=0.9", "--set", "epochs=1")
    assert "An experiment (--set)" in done.stdout
    assert git(copy, "status", "--porcelain") == ""
    assert not (copy / "runs" / "smoke").exists()                       # the profile's reference folder untouched
    experiments = copy / "runs" / "experiments"
    assert (experiments / "smoke_with_beta0.9_epochs1" / "02_scnn_nmnist_beta05.ipynb").is_file()
    records = [p.name for p in (experiments / "results").glob("*.json")]
    assert len(records) == 1 and records[0].startswith("scnn_nmnist_beta0.5_with_beta0.9_epochs1_"), records
    assert json.loads((experiments / "results" / records[0]).read_text())["config"]["model_kwargs"]["beta"] == 0.9
