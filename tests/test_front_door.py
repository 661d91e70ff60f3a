"""The notebook is the front door (issue 22): a notebook finds the data from notebooks/, reuses the reference and
never silently replaces it, leaves no path of the machine in the files it writes (nor rewrites them when nothing
changed), says where a single run's number stands, saved models refuse a wrong input or a run they are not, and the
study takes overrides from the command line."""
import json
import subprocess
import sys

import pytest
import torch
from event_fixtures import make_nmnist_tree

import common
from common.config import PROJECT_ROOT
from common.networks.registry import build_model
from common.runs import runner
from common.runs.checkpoint import CheckpointError, load_model, save_checkpoint
from common.runs.specs import resolve
from common.study import notebooks as study
from common.study.in_context import in_context, variant_of
from common.study.status import NotebookOutcome, portable_text, write_status

SMALL = {"n_time_bins": 5, "batch_size": 8, "epochs": 1}
MACHINE = (str(PROJECT_ROOT), str(PROJECT_ROOT.parent))


def machine_paths_in(text: str, *more) -> list[str]:
    return [p for p in (*MACHINE, *map(str, more)) if p in text]


# ------------------------------------------------------------------ reuse, retrain beside the reference

@pytest.fixture
def small_run(tmp_path, no_env):
    root = make_nmnist_tree(tmp_path / "data", n_per_class=3, n_test_per_class=1)
    spec = resolve("scnn_nmnist_beta0.5", "smoke", overrides=SMALL, data_root=str(root),
                   output_root=str(tmp_path / "out"))
    return spec, runner.load_data(spec.config)


def test_reuse_by_default_leaves_the_files_as_they_were_and_hold_no_machine_path(small_run, tmp_path):
    spec, data = small_run
    first = runner.run(spec, data)
    files = [spec.config.path("results", ".json"), spec.config.path("models", ".json"),
             spec.config.path("models", ".pth")]
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}
    again = runner.run(spec, data)                       # the default reuses the finished run: no training
    assert again["train_seconds"] == first["train_seconds"] and again["history"] == first["history"]
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files} == before   # not even rewritten
    meta = torch.load(files[2], weights_only=True)["meta"]
    for text in (files[0].read_text(), files[1].read_text(), json.dumps(meta, default=str)):
        assert machine_paths_in(text, tmp_path) == []
    assert json.loads(files[0].read_text())["config"]["data_root"] is None   # a scratch folder: omitted


def test_a_retrain_goes_beside_the_reference_unless_told_to_replace_it(small_run, capsys):
    spec, data = small_run
    runner.run(spec, data)
    reference = spec.config.path("results", ".json")
    kept = reference.read_bytes()
    retrain = runner.run(spec, data, reuse_trained=False)
    assert retrain["run"] == spec.config.tag.replace("-smoke", "_retrain-smoke")
    assert reference.read_bytes() == kept and retrain["reference"]["run"] == spec.config.tag
    out = capsys.readouterr().out
    assert "Retraining beside the reference" in out and f"reference {spec.config.tag}:" in out
    assert runner.run_config(spec, retrain).path("models", ".pth").is_file()
    replaced = runner.run(spec, data, reuse_trained=False, replace_reference=True)
    assert replaced["run"] == spec.config.tag and "reference" not in replaced


def test_an_evaluation_without_training_data_keeps_the_trained_runs_record(small_run):
    spec, data = small_run
    runner.run(spec, data)
    path = spec.config.path("results", ".json")
    kept = path.read_bytes()
    data.train_loader = None                              # the same run, now without its training split
    record = runner.run(spec, data)
    assert record["evaluation_only"] and path.read_bytes() == kept


# ------------------------------------------------------------------ a single run in context

def test_variants_map_to_their_specs():
    assert variant_of("scnn_nmnist_beta0.5") == "beta 0.5"
    assert variant_of("scnn_nmnist_population_retrain") == "population code"
    assert variant_of("scnn_nmnist_population_small") == "population code, equal size"
    assert variant_of("cnn_mnist") is None


def test_a_single_run_is_shown_beside_the_replicated_estimate(capsys):
    path = PROJECT_ROOT / "results" / "scnn_nmnist_beta0.5-quick.json"
    table = PROJECT_ROOT / "results" / "nmnist_folds-quick.jsonl"
    if not path.is_file() or not table.is_file():
        pytest.skip("the quick reference results are not in this checkout")
    text = in_context(json.loads(path.read_text()))
    assert "replicated estimate of 'beta 0.5' (fold study" in text and "95% interval" in text
    assert any(f"is {where}" in text for where in ("inside it", "above it", "below it", "no interval yet"))
    record = json.loads((PROJECT_ROOT / "results" / "cnn_mnist-quick.json").read_text())
    assert in_context(record).startswith("No replicated estimate of cnn_mnist")
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


# ------------------------------------------------------------------ saved models open as the README says

def test_a_wrong_input_layout_is_refused_with_the_expected_shape(tmp_path):
    scnn = build_model("scnn", beta=0.5)
    with pytest.raises(ValueError, match=r"expected input \[T, B, C=2, H=34, W=34\].*\(1, 25, 3, 34, 34\)"):
        scnn(torch.zeros(1, 25, 3, 34, 34))
    with pytest.raises(ValueError, match="needs a batch axis"):
        scnn(torch.zeros(25, 2, 34, 34))
    spec = resolve("scnn_nmnist_beta0.5", "quick")
    save_checkpoint(tmp_path / "m.pth", scnn, "scnn", {"beta": 0.5}, meta={"config": spec.config.to_dict()})
    loaded, _ = load_model(tmp_path / "m.pth")
    with pytest.raises(ValueError, match=r"T=25.*batch and time look swapped: pass x.transpose\(0, 1\)"):
        loaded(torch.zeros(1, 25, 2, 34, 34))
    assert loaded(torch.zeros(25, 1, 2, 34, 34)).shape == (25, 1, 10)
    with pytest.raises(ValueError, match=r"expected images \[B, 1, 28, 28\].*unsqueeze\(0\)"):
        build_model("cnn")(torch.zeros(1, 28, 28))
    with pytest.raises(ValueError, match=r"C=2, H=32, W=32"):
        build_model("slstm")(torch.zeros(4, 1, 2, 34, 34))
    with pytest.raises(ValueError, match=r"\[T, B, 784\]"):
        build_model("rsnn")(torch.zeros(4, 1, 700))


def test_the_cnn_takes_raw_images_and_refuses_standardised_ones(tmp_path):
    cnn = build_model("cnn").eval()
    spec = resolve("cnn_mnist", "quick")
    save_checkpoint(tmp_path / "cnn.pth", cnn, "cnn", {}, meta={"config": spec.config.to_dict()})
    raw = torch.rand(2, 1, 28, 28)
    loaded, _ = load_model(tmp_path / "cnn.pth")
    assert torch.allclose(loaded(raw), cnn((raw - 0.1307) / 0.3081), atol=1e-6)
    with pytest.raises(ValueError, match="raw images in \\[0, 1\\].*raw_inputs=False"):
        loaded((raw - 0.1307) / 0.3081)
    plain, _ = load_model(tmp_path / "cnn.pth", raw_inputs=False)
    assert torch.allclose(plain(raw), cnn(raw), atol=1e-6)


def test_a_checkpoint_proves_whose_it_is(tmp_path):
    spec = resolve("scnn_nmnist_beta0.5", "quick")
    other = resolve("scnn_nmnist_beta0.8", "quick")
    model = build_model("scnn", beta=0.5)
    save_checkpoint(tmp_path / "m.pth", model, "scnn", {"beta": 0.5}, meta={"config": other.config.to_dict()})
    with pytest.raises(CheckpointError, match="not a checkpoint of run 'scnn_nmnist_beta0.5'.*model_kwargs.beta: checkpoint 0.8, run 0.5"):
        load_model(tmp_path / "m.pth", expect=spec.config)
    save_checkpoint(tmp_path / "m.pth", model, "scnn", {"beta": 0.5}, meta={})
    with pytest.raises(CheckpointError, match="records no config.*by its path alone"):
        load_model(tmp_path / "m.pth", expect=spec.config)
    load_model(tmp_path / "m.pth")                               # an explicit path opens it


# ------------------------------------------------------------------ the study leaves git status clean

def test_status_keeps_what_did_not_change_and_what_a_run_with_data_left(tmp_path):
    path = tmp_path / "study.json"
    executed = str(PROJECT_ROOT / "runs" / "quick" / "02_x.ipynb")
    write_status(path, "quick", [NotebookOutcome("02_x.ipynb", "ran", 20.0, "", executed)])
    first = path.read_text()
    assert machine_paths_in(first) == [] and '"executed": "runs/quick/02_x.ipynb"' in first
    earlier = json.loads(first)
    write_status(path, "quick", [NotebookOutcome("02_x.ipynb", "ran", 31.0, "", executed)], earlier)
    assert path.read_text() == first                      # another timing, the same outcome: not rewritten
    write_status(path, "quick", [NotebookOutcome("02_x.ipynb", "skipped", 1.0,
                                                 f"No data at {PROJECT_ROOT}/data/NMNIST", executed)], earlier)
    assert path.read_text() == first                      # a run without data keeps the one with
    write_status(path, "quick", [NotebookOutcome("02_x.ipynb", "failed", 1.0, f"error in {PROJECT_ROOT}/common/x.py",
                                                 executed)], earlier)
    assert '"reason": "error in common/x.py"' in path.read_text()


def test_an_executed_notebook_showing_the_same_is_not_rewritten(tmp_path):
    def notebook(stderr, seconds):
        return json.dumps({"cells": [{"source": "print(1)", "metadata": {"execution": {"seconds": seconds}},
                                      "outputs": [{"output_type": "stream", "name": "stdout",
                                                   "text": f"model at {PROJECT_ROOT}/models/x.pth\n"},
                                                  {"output_type": "stream", "name": "stderr", "text": stderr},
                                                  {"output_type": "display_data", "metadata": {},
                                                   "data": {"application/vnd.jupyter.widget-view+json":
                                                            {"model_id": stderr}, "text/plain": ["0%"]}}]}],
                           "metadata": {"papermill": {"duration": seconds}}})
    output = tmp_path / "01.ipynb"
    (tmp_path / "run.ipynb").write_text(notebook("10it/s", 1.0))
    study.settle(tmp_path / "run.ipynb", output)
    written = output.read_text()
    assert machine_paths_in(written) == [] and "model at models/x.pth" in written
    (tmp_path / "run.ipynb").write_text(notebook("12it/s", 2.0))
    study.settle(tmp_path / "run.ipynb", output)
    assert output.read_text() == written and not (tmp_path / "run.ipynb").exists()
    # the kernel cut the same printed text into two stream outputs this time: still the same notebook
    split = json.loads(notebook("13it/s", 3.0))
    split["cells"][0]["outputs"][:1] = [{"output_type": "stream", "name": "stdout", "text": "model at "},
                                        {"output_type": "stream", "name": "stdout", "text": f"{PROJECT_ROOT}/models/x.pth\n"}]
    (tmp_path / "run.ipynb").write_text(json.dumps(split))
    study.settle(tmp_path / "run.ipynb", output)
    assert output.read_text() == written
    changed = json.loads(notebook("14it/s", 4.0))                 # what it prints changed: rewritten
    changed["cells"][0]["outputs"][0]["text"] = "model at elsewhere\n"
    (tmp_path / "run.ipynb").write_text(json.dumps(changed))
    study.settle(tmp_path / "run.ipynb", output)
    assert "model at elsewhere" in output.read_text()


def test_portable_text_names_the_folder_beside_the_repository():
    assert portable_text(f"{PROJECT_ROOT.parent}/shared/datasets/NMNIST and {PROJECT_ROOT}") == \
        "../shared/datasets/NMNIST and ."


# ------------------------------------------------------------------ overrides from the command line

def test_set_values_are_read_once_and_validated_by_the_specs(monkeypatch, capsys):
    assert study.parse_overrides(["beta=0.9", "epochs=2", "learn_beta=true", "target_size=[32, 32]", "x=(1, 2)",
                                  "name=plain"]) == {"beta": 0.9, "epochs": 2, "learn_beta": True,
                                                     "target_size": [32, 32], "x": (1, 2), "name": "plain"}
    assert study.main(["--profile", "smoke", "--only", "02", "--set", "betta=0.9"]) == 2
    assert "has no knob 'betta'" in capsys.readouterr().err
    assert study.main(["--profile", "smoke", "--only", "02", "--set", "beta"]) == 2
    assert "--set takes NAME=VALUE" in capsys.readouterr().err
    seen = {}
    monkeypatch.setattr(study, "run_one", lambda notebook, profile, out_dir, parameters, earlier=None:
                        seen.setdefault(notebook.name, parameters) and NotebookOutcome(notebook.name, "ran", 0.0))
    monkeypatch.setattr(study, "write_status", lambda *args: None)
    study.main(["--profile", "smoke", "--only", "02", "--no-report", "--set", "beta=0.9", "--set", "epochs=2"])
    assert seen["02_scnn_nmnist_beta05.ipynb"]["overrides"] == {"beta": 0.9, "epochs": 2}


def test_papermill_takes_overrides_as_yaml(tmp_path):
    """The README's form: ``papermill IN OUT -p profile smoke -y '{"overrides": {...}}'`` arrives as a dict."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("profile = 'quick'\noverrides = {}", metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell("assert overrides == {'beta': 0.9, 'epochs': 2}, overrides")]
    notebook.metadata["kernelspec"] = {"name": "snn-study", "display_name": "SNN study (.venv)", "language": "python"}
    nbformat.write(notebook, tmp_path / "in.ipynb")
    done = subprocess.run([sys.executable, "-m", "papermill", str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                           "-k", "python3", "-p", "profile", "smoke", "-y", '{"overrides": {"beta": 0.9, "epochs": 2}}'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


# ------------------------------------------------------------------ a notebook from notebooks/, no variables

@pytest.mark.slow
@pytest.mark.mirror
def test_a_notebook_run_from_its_folder_finds_the_mirror_without_variables(mirror, tmp_path, monkeypatch):
    """Notebook 01 as Jupyter runs it (working folder notebooks/), smoke profile, SNN_DATA_MIRROR unset: it finds
    ../shared/datasets by itself, trains into a scratch output root, and its executed copy holds no machine path."""
    from common.config import DEFAULT_MIRROR

    if mirror != DEFAULT_MIRROR or not (mirror / "MNIST").is_dir():
        pytest.skip("no shared/datasets with MNIST beside the repository")
    for name in ("SNN_DATA_MIRROR", "SNN_DATA_ROOT", "SNN_OUTPUT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SNN_OFFLINE", "1")
    notebook = next(p for p in study.numbered_notebooks() if p.name.startswith("01"))
    out = tmp_path / "out"
    executed = study.run_notebook(notebook, "smoke", tmp_path / "executed",
                                  {"locations": {"data_root": str(tmp_path / "data"), "output_root": str(out)}})
    record = json.loads((out / "results" / "cnn_mnist-smoke.json").read_text())
    assert record["config"]["mirror"] == "../shared/datasets" and record["test"]["n_samples"] == 1000
    text = executed.read_text()
    assert "No replicated estimate of cnn_mnist" in text
    assert machine_paths_in(text) == []


def test_the_committed_records_cards_and_executed_notebooks_hold_no_machine_path():
    """What a study writes into the repository (its grids' tables aside, whose lines written before paths were kept
    relative stay as they were) names no folder of the machine that wrote it."""
    listed = subprocess.run(["git", "ls-files", "results/*.json", "models/*.json", "runs/*/study.json",
                             "runs/*/*.ipynb"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.split()
    if not listed:
        pytest.skip("not a git checkout")
    found = {name: machine_paths_in((PROJECT_ROOT / name).read_text()) for name in listed
             if (PROJECT_ROOT / name).is_file()}
    assert {name: paths for name, paths in found.items() if paths} == {}


def test_a_result_is_the_same_up_to_the_summation_order_of_another_cpu():
    from common.runs.records import same_result

    a = {"test": {"loss": 0.016955011733807625, "predictions": [1, 2]}, "accuracy_by_time_bins": [0.5, 0.99]}
    b = {"test": {"loss": 0.016955011477693915, "predictions": [1, 2]}, "accuracy_by_time_bins": [0.5, 0.99]}
    assert same_result(a, b)
    assert not same_result(a, {**b, "test": {**b["test"], "predictions": [1, 3]}})
    assert not same_result(a, {**b, "accuracy_by_time_bins": [0.5, 0.98]})
