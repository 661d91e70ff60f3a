"""Every numbered notebook, executed top to bottom in the smoke profile on fixture data."""
import json

import pytest
import torch

from common.explanations.video import FPS, HOLD_LAST
from common.study.notebooks import numbered_notebooks, run_notebook

HELD = round(FPS * HOLD_LAST)   # frames that hold the last time bin at the end of every video
from event_fixtures import make_nmnist_tree
from idx_fixtures import write_image_dataset

LOCATIONS = ("data_root", "mirror", "output_root", "device")


def execute(name, tmp_path, executed="executed", **parameters):
    """Run a notebook in smoke; ``data_root``/``mirror`` go into its ``locations`` parameter."""
    notebook = next(p for p in numbered_notebooks() if p.name.startswith(name))
    output_root = tmp_path / "out"
    locations = {"output_root": str(output_root), **{k: parameters.pop(k) for k in LOCATIONS if k in parameters}}
    run_notebook(notebook, "smoke", tmp_path / executed, {"locations": locations, **parameters})
    return output_root


def shown_output(executed) -> str:
    """What an executed notebook printed and displayed (its cells' outputs), not its source: a string that the
    notebook's code or prose contains is found here only if the notebook wrote it."""
    notebook = json.loads(executed.read_text() if hasattr(executed, "read_text") else executed)
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            for kind in ("text/plain", "text/markdown", "text/html"):
                texts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(texts)


def test_shown_output_is_not_the_source():
    cell = {"cell_type": "code", "source": "print('No DVS128 Gesture training split here')", "outputs": []}
    assert "No DVS128" not in shown_output(json.dumps({"cells": [cell]}))
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["No DVS128 Gesture training split here\n"]}]
    assert "No DVS128" in shown_output(json.dumps({"cells": [cell]}))


@pytest.mark.slow       # executes a notebook
def test_01_cnn_mnist_gradcam(tmp_path, no_env):
    data = write_image_dataset(tmp_path / "data", n_train=1500, n_test=300)
    out = execute("01", tmp_path, data_root=str(data))
    record = json.loads((out / "results" / "cnn_mnist-smoke.json").read_text())
    assert record["test"]["n_samples"] == 300                 # the whole (fixture) test set
    assert record["test"]["accuracy"] > 0.3                   # chance is 0.1
    assert record["config"]["profile"] == "smoke" and record["parameters"] > 100_000
    checkpoint = torch.load(out / "models" / "cnn_mnist-smoke.pth", weights_only=True)
    assert checkpoint["model_name"] == "cnn"
    executed = (tmp_path / "executed" / "01_cnn_mnist_gradcam.ipynb").read_text()
    assert executed.count("image/png") >= 5                   # curves, confusion, grids, Grad-CAM
    # the sentence on where the heat lies is measured on the maps of this run (not read from notebook 09's table)
    assert "Measured on 200 test samples: Grad-CAM puts " in executed and "of its heat on the object" in executed


@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory):
    """Format-true N-MNIST .bin recordings, read by tonic's real reader; framed once per module."""
    return make_nmnist_tree(tmp_path_factory.mktemp("nmnist"), n_per_class=20, n_test_per_class=10)


@pytest.mark.parametrize("name, runs", [
    ("02", ["scnn_nmnist_beta0.5"]),
    ("03", ["scnn_nmnist_beta0.8", "scnn_nmnist_learned_beta"]),
    ("04", ["scnn_nmnist_population"]),
])
@pytest.mark.slow       # executes a notebook
def test_nmnist_notebooks(name, runs, tmp_path, nmnist_root, no_env):
    out = execute(name, tmp_path, data_root=str(nmnist_root))
    for run in runs:
        record = json.loads((out / "results" / f"{run}-smoke.json").read_text())
        assert record["test"]["n_samples"] == 100                    # every fixture test recording
        assert len(record["accuracy_by_time_bins"]) == 10            # smoke profile: T = 10
        assert set(record["spikes_per_sample"]) == {"lif1", "lif2", "lif3"}
        torch.load(out / "models" / f"{run}-smoke.pth", weights_only=True)
    if name == "03":
        learned = json.loads((out / "results" / "scnn_nmnist_learned_beta-smoke.json").read_text())
        assert all(0 < b < 1 for b in learned["learned_beta"].values())
        assert any(abs(b - 0.8) > 1e-6 for b in learned["learned_beta"].values())   # it moved
        rows = [json.loads(line) for line in (out / "results" / "nmnist_folds-smoke.jsonl").read_text().splitlines()]
        from common.study.nmnist_folds import VARIANTS
        assert len(rows) == len(VARIANTS) * 2                              # every variant x 2 folds (smoke)
        for variant in {r["cell"]["variant"] for r in rows}:               # every recording tested once
            tested = [rec for r in rows if r["cell"]["variant"] == variant for rec in r["recordings"]]
            assert len(tested) == len(set(tested)) == 300
        executed = next((tmp_path / "executed").glob("03_*.ipynb")).read_text()
        assert "Holm p (folds)" in executed and "95% CI" in executed and "decided accuracy" in executed
    videos = sorted(p.name for p in (out / "videos").iterdir())
    assert videos == [f"{runs[0]}-smoke_gradcam.mp4", f"{runs[0]}-smoke_spike_counts.mp4"]
    executed = next((tmp_path / "executed").glob(f"{name}_*.ipynb")).read_text()
    assert "200 training / 100 test recordings" in executed      # f-strings filled in, not printed raw
    assert "test recording #" in executed                        # the videos' recording, answered correctly, named
    if name == "02":
        assert "Measured on 50 test samples: Grad-CAM per bin puts " in executed


@pytest.fixture(scope="module")
def dvsgesture_root(tmp_path_factory):
    """Format-true DVS128 Gesture clips (tonic's .npy layout), several users and all 11 classes."""
    from event_fixtures import make_dvsgesture_tree

    root = tmp_path_factory.mktemp("dvsgesture")
    make_dvsgesture_tree(root, users=[1, 2], classes=range(11), train=True, seed=0)
    make_dvsgesture_tree(root, users=[24, 25], classes=range(11), train=False, seed=1)
    return root


def gesture_rows(out, dataset="dvsgesture") -> dict[str, dict]:
    """The gesture study's rows (notebooks 05-06), by run name."""
    lines = (out / "results" / f"gestures_{dataset}-smoke.jsonl").read_text().splitlines()
    return {r["config"]["run_name"]: r for r in map(json.loads, lines)}


def check_dvs_runs(out, runs, records, n_test=22, n_time_bins=8, n_train=22, videos=True):
    from common.explanations.video import read_mp4

    for run in runs:
        record = records[run]
        assert record["test"]["n_samples"] == n_test                     # every test clip
        assert len(record["accuracy_by_time_bins"]) == n_time_bins       # smoke profile: T = 8
        assert record["train_samples"] == n_train and record["seconds_per_epoch"] > 0
        torch.load(out / "models" / f"{run}-smoke.pth", weights_only=True)
    for video in (f"{runs[0]}-smoke_gradcam.mp4", f"{runs[0]}-smoke_spike_counts.mp4") if videos else ():
        frames = read_mp4(out / "videos" / video)
        assert len(frames) == n_time_bins + HELD and frames[0].dtype.name == "uint8"


@pytest.mark.slow       # executes a notebook
def test_05_scnn_dvsgesture(tmp_path, dvsgesture_root, no_env):
    """With DVS128 Gesture's training split at hand, notebook 05 trains its three models over the profile's seeds."""
    out = execute("05", tmp_path, data_root=str(dvsgesture_root))
    records = gesture_rows(out)
    runs = ["scnn_dvsgesture", "scnn_dvsgesture_seed1", "scnn_dvsgesture_wide", "scnn_dvsgesture_wide_seed1",
            "cmp_cnn_dvsgesture_seed0", "cmp_cnn_dvsgesture_seed1"]
    assert sorted(records) == sorted(runs)
    check_dvs_runs(out, runs, records)
    wide = records["scnn_dvsgesture_wide"]
    assert wide["config"]["model"] == "scnn_wide" and wide["config"]["epochs"] == 1
    budget = lambda c: {k: c[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "data", "optimizer")}
    assert budget(records[runs[0]]["config"]) == budget(records[runs[2]]["config"]) == budget(records[runs[4]]["config"])
    executed = (tmp_path / "executed" / "05_scnn_dvsgesture.ipynb").read_text()
    assert "DVS128 Gesture's training split is here" in shown_output(executed)
    assert executed.count("image/png") >= 5                   # curves, confusion, over time, Grad-CAM


@pytest.mark.mirror
@pytest.mark.slow       # executes a notebook
def test_05_and_06_train_on_dvssign_where_dvs_gesture_has_no_training_split(tmp_path, mirror, no_env):
    """The mirror holds DVS_Sign and only DVS128 Gesture's test clips: both notebooks say so in one line and train
    every gesture model on DVS_Sign's real clips (smoke: 2 a class), tested on its real test clips."""
    if not (mirror / "DVSSign").is_dir():
        pytest.skip("the mirror holds no DVS_Sign")
    out = execute("05", tmp_path, data_root=str(tmp_path / "no-data"), mirror=str(mirror))
    execute("06", tmp_path, data_root=str(tmp_path / "no-data"), mirror=str(mirror))
    records = gesture_rows(out, "dvssign")
    roles = ("scnn_dvssign", "scnn_dvssign_wide", "cnn_dvssign", "slstm_dvssign_small", "slstm_dvssign")
    assert sorted(records) == sorted(f"{r}_seed{s}" for r in roles for s in (0, 1))
    check_dvs_runs(out, ["scnn_dvssign_seed0"], records, n_test=15, n_train=30)
    for name in ("05_scnn_dvsgesture", "06_slstm_vs_scnn_dvsgesture"):
        shown = shown_output((tmp_path / "executed" / f"{name}.ipynb").read_text())
        assert "No DVS128 Gesture training split here, so the gesture study runs on DVS_Sign" in shown
    shown = shown_output((tmp_path / "executed" / "06_slstm_vs_scnn_dvsgesture.ipynb").read_text())
    assert "**Gestures (DVS_Sign, notebooks 05-06).** 10 runs" in shown and "Holm p" in shown


@pytest.mark.mirror
@pytest.mark.slow       # executes a notebook
def test_05_evaluates_saved_models_on_the_real_clips_without_a_training_split(tmp_path, dvsgesture_root,
                                                                              mirror, no_env, monkeypatch):
    """Trained on synthetic clips, then run where only the mirror's 10 real DVS128 Gesture test clips exist (no
    DVS_Sign either): the notebook evaluates, explains and renders the saved model instead of stopping."""
    from common.explanations.video import read_mp4

    if not (mirror / "DVSGesture" / "ibmGestureTest").is_dir():
        pytest.skip("the mirror holds no DVS Gesture clips")
    only_gestures = tmp_path / "mirror"
    only_gestures.mkdir()
    (only_gestures / "DVSGesture").symlink_to(mirror / "DVSGesture")
    monkeypatch.setenv("SNN_OFFLINE", "1")
    out = execute("05", tmp_path, data_root=str(dvsgesture_root))
    trained = gesture_rows(out)["scnn_dvsgesture"]
    execute("05", tmp_path, executed="evaluated", data_root=str(tmp_path / "no-data"), mirror=str(only_gestures))
    assert gesture_rows(out)["scnn_dvsgesture"] == trained          # the training row stays as it was
    assert len(read_mp4(out / "videos" / "scnn_dvsgesture-smoke_gradcam.mp4")) == 8 + HELD
    executed = (tmp_path / "evaluated" / "05_scnn_dvsgesture.ipynb").read_text()
    assert "no training split (evaluation only) / 10 test recordings" in executed
    assert "evaluated the saved model" in executed and executed.count("image/png") >= 4


def event_data_root(tmp_path, **trees):
    """One data root holding the given fixture trees (``NMNIST=root``, ``DVSGesture=root``) as links."""
    data = tmp_path / "data"
    data.mkdir()
    for name, root in trees.items():
        (data / name).symlink_to(root / name)
    return data


def check_nmnist_head_to_head(out, executed):
    rows = [json.loads(line) for line in (out / "results" / "nmnist_folds-smoke.jsonl").read_text().splitlines()]
    for variant, channels in (("spiking LSTM, equal size", [4, 8]), ("spiking LSTM, source size", [8, 16])):
        lstm = [r for r in rows if r["cell"]["variant"] == variant]
        assert len(lstm) == 2 and {r["config"]["model"] for r in lstm} == {"slstm"}       # both smoke folds
        assert all(r["config"]["model_kwargs"]["channels"] == channels for r in lstm)
        assert variant in executed
    assert "Holm p (folds)" in executed and "fold 1" in executed
    assert executed.count("image/png") >= 1           # the curves of the N-MNIST head-to-head


@pytest.mark.slow       # executes a notebook
def test_06_slstm_vs_scnn_dvsgesture(tmp_path, dvsgesture_root, nmnist_root, no_env):
    out = execute("06", tmp_path, data_root=str(event_data_root(tmp_path, NMNIST=nmnist_root,
                                                                DVSGesture=dvsgesture_root)))
    check_nmnist_head_to_head(out, (tmp_path / "executed" / "06_slstm_vs_scnn_dvsgesture.ipynb").read_text())
    records = gesture_rows(out)                          # notebook 06 trains every gesture model of its dataset
    runs = ["cmp_slstm_dvsgesture_seed0", "cmp_slstm_dvsgesture_seed1", "scnn_dvsgesture", "scnn_dvsgesture_seed1",
            "cmp_cnn_dvsgesture_seed0", "cmp_cnn_dvsgesture_seed1"]
    assert set(runs) <= set(records) and len(records) == 8   # and the wide spiking CNN's two seeds
    check_dvs_runs(out, runs, records, videos=False)          # notebook 05 renders the videos
    budget = lambda c: {k: c[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "data", "optimizer")}
    assert budget(records[runs[0]]["config"]) == budget(records[runs[2]]["config"]) == budget(records[runs[4]]["config"])
    assert records[runs[4]]["config"]["model_kwargs"]["n_time_bins"] == 8         # the profile's bins, as channels
    assert set(records[runs[0]]["spikes_per_sample"]) == {"lstm1", "lstm2", "out"}


@pytest.mark.slow       # executes a notebook
def test_06_without_dvs_training_data_answers_on_nmnist(tmp_path, nmnist_root, no_env):
    out = execute("06", tmp_path, data_root=str(event_data_root(tmp_path, NMNIST=nmnist_root)))
    executed = (tmp_path / "executed" / "06_slstm_vs_scnn_dvsgesture.ipynb").read_text()
    check_nmnist_head_to_head(out, executed)
    assert "No gesture training split here" in shown_output(executed)
    assert not list((out / "results").glob("gestures_*"))


@pytest.mark.slow       # executes a notebook
def test_08_comparison_reads_what_the_others_wrote(tmp_path, nmnist_root, no_env):
    data = write_image_dataset(tmp_path / "data", n_train=300, n_test=100)
    for name, root in (("01", data), ("02", nmnist_root)):
        execute(name, tmp_path, data_root=str(root))
    # two of notebook 07's headline cells (LIF and the MLP, MNIST, seed 0), as its grid runner writes them
    from common.runs.cells import GridContext
    from common.runs.grid import expand_grid, run_grid
    from common.runs.records import table_path
    from common.study.lif_alif import STUDY, lif_alif_cell
    cell = {"dataset": ["mnist"], "hidden": [32], "epochs": [1], "seeds": [0]}
    grid = [{**cell, "model": ["rsnn"], "neuron": ["lif"], "recurrent": [False], "learn_beta": [True],
             "encoding": ["rate"]}, {**cell, "model": ["mlp"]}]
    context = GridContext("smoke", data_root=str(data), output_root=str(tmp_path / "out"))
    run_grid([lif_alif_cell(c) for c in expand_grid(grid)], table_path(STUDY, "smoke", tmp_path / "out"), context)
    # the comparison reads both datasets from one data root: give it the N-MNIST fixtures too
    (data / "NMNIST").symlink_to(nmnist_root / "NMNIST")
    execute("08", tmp_path, data_root=str(data), n_samples=20)
    executed = (tmp_path / "executed" / "08_comparison.ipynb").read_text()
    assert "cnn_mnist" in executed and "scnn_nmnist_beta0.5" in executed
    assert "rsnn_lif_mnist" in executed and "mlp_mnist" in executed
    assert "here vs" in shown_output(executed)       # the source-study comparison sentences, as printed
    assert executed.count("image/png") >= 4          # accuracy, energy, over-time, spikes per layer


@pytest.mark.slow       # executes a notebook
def test_07_lif_vs_alif(tmp_path, no_env):
    """Notebook 07 in smoke on MNIST and Fashion-MNIST fixtures; a second run retrains nothing."""
    from common.runs.grid import expand_grid
    from common.runs.records import flat
    from common.runs.specs import profile_settings
    from common.study.lif_alif import study_grid

    data = write_image_dataset(tmp_path / "data", "MNIST", n_train=300, n_test=100)
    write_image_dataset(data, "FashionMNIST", n_train=300, n_test=100)
    out = execute("07", tmp_path, data_root=str(data))
    table = out / "results" / "lif_alif-smoke.jsonl"
    rows = [flat(json.loads(line)) for line in table.read_text().splitlines()]
    cells = expand_grid(study_grid(profile_settings("lif_alif", "smoke")))
    assert len(rows) == len(cells) and {r["cell_key"] for r in rows} == {json.dumps(c, sort_keys=True) for c in cells}
    assert {r["dataset"] for r in rows} == {"mnist", "fashion-mnist"}
    assert all(r["test_samples"] == 100 and 0 <= r["test_accuracy"] <= 1 for r in rows)
    learned = [r for r in rows if r["model"] == "rsnn" and r["learn_beta"]]
    assert learned and all(0 < r["beta_hidden"] < 1 and 0 < r["beta_readout"] < 1 for r in learned)
    executed = (tmp_path / "executed" / "07_lif_vs_alif.ipynb").read_text()
    assert executed.count("image/png") >= 2 and "95% CI" in executed
    before = table.read_bytes()
    execute("07", tmp_path, data_root=str(data))                 # resumes: every cell is in the table
    assert table.read_bytes() == before
    assert f"{len(cells)} already in" in (tmp_path / "executed" / "07_lif_vs_alif.ipynb").read_text()


@pytest.mark.slow       # executes a notebook
def test_09_faithfulness(tmp_path, nmnist_root, no_env):
    """Notebook 09 in smoke on the models notebooks 01 and 02 train on fixtures: its table, figures and results file."""
    data = write_image_dataset(tmp_path / "data", n_train=300, n_test=100)
    for name, root in (("01", data), ("02", nmnist_root)):
        execute(name, tmp_path, data_root=str(root))
    (data / "NMNIST").symlink_to(nmnist_root / "NMNIST")     # one data root holds both datasets
    out = execute("09", tmp_path, data_root=str(data))
    results = json.loads((out / "results" / "faithfulness-smoke.json").read_text())
    assert set(results["models"]) == {"cnn_mnist", "scnn_nmnist_beta0.5"}
    assert {s["n"] for s in results["sample"].values()} == {10}                    # 1 per class, smoke
    assert {(s["model"], s["method"]) for s in results["scores"]} >= {("scnn_nmnist_beta0.5", "GradCAM"),
                                                                       ("scnn_nmnist_beta0.5", "random")}
    assert "scnn_nmnist_beta0.8" in results["not_evaluated"] and "spiking LSTM" in results["not_evaluated"]
    executed = (tmp_path / "executed" / "09_faithfulness.ipynb").read_text()
    assert executed.count("image/png") >= 2 and "Faithfulness of the explanations" in executed


# ------------------------------------------------------------------ the notebooks' kernel belongs to this clone

def kernelspec(folder, python):
    import json as _json
    spec = folder / "kernels" / "snn-study"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(_json.dumps({"argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                   "display_name": "SNN study (.venv)", "language": "python"}))
    return spec


def test_the_kernel_must_resolve_inside_this_clones_environment(tmp_path, monkeypatch):
    """``make env`` runs this check after registering the kernel: one registered in the environment and starting its
    Python passes; one that a Jupyter on this Python would find elsewhere (another clone's), or one starting another
    Python, stops the build with the way out."""
    import sys

    import jupyter_client.kernelspec  # noqa: F401  (jupyter_core reads sys.prefix once, on import: the real one)
    from common.study.kernel import KernelElsewhere, kernel_folder

    prefix = tmp_path / "venv"
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    own = kernelspec(prefix / "share" / "jupyter", sys.executable)
    assert kernel_folder() == own.resolve()
    (own / "kernel.json").write_text((own / "kernel.json").read_text().replace(sys.executable, "/other/clone/.venv/bin/python"))
    with pytest.raises(KernelElsewhere, match="starts /other/clone/.venv/bin/python, not this environment's"):
        kernel_folder()
    other = kernelspec(tmp_path / "other_clone" / "share" / "jupyter", sys.executable)
    monkeypatch.setenv("JUPYTER_PATH", str(other.parent.parent))
    with pytest.raises(KernelElsewhere, match="outside this clone's environment"):
        kernel_folder()
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "empty"))
    with pytest.raises(KernelElsewhere, match="No Jupyter kernel named 'snn-study'|outside this clone's environment"):
        kernel_folder()

