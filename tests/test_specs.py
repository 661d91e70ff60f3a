"""One spec per run (common/runs/specs.py): knobs live there, notebooks override them by name."""
import json
import re
import subprocess

import pytest

from common.config import PROJECT_ROOT
from common.runs import specs
from common.config import identity_differences


@pytest.mark.parametrize("name", ["cnn_mnist", "scnn_nmnist_beta0.5", "scnn_nmnist_beta0.8",
                                  "scnn_nmnist_learned_beta", "scnn_nmnist_population"])
def test_quick_specs_resolve_to_the_configs_of_the_committed_reference_runs(name):
    """The reference models in models/ were trained from these configs: the specs must rebuild them exactly,
    or the study would retrain instead of resuming."""
    committed = json.loads((PROJECT_ROOT / "results" / f"{name}-quick.json").read_text())["config"]
    assert identity_differences(committed, specs.resolve(name, "quick").config.to_dict()) == {}
    other = specs.resolve(name, "quick", overrides={"epochs": 3}).config.to_dict()
    assert "epochs" in identity_differences(committed, other)      # and a changed knob is another run


def test_a_knob_is_set_everywhere_it_lives_and_an_override_names_its_own_run():
    spec = specs.resolve("scnn_nmnist_beta0.8", "smoke", overrides={"population_size": 10, "lr": 0.5})
    assert spec.config.model_kwargs["population_size"] == spec.objective["population_size"] == 10
    assert spec.config.lr == 0.5 and "lr" not in spec.design      # one value, in one field
    assert spec.config.run_name.startswith("scnn_nmnist_beta0.8_") and spec.config.run_name != "scnn_nmnist_beta0.8"
    assert specs.resolve("scnn_nmnist_beta0.8", "smoke").config.run_name == "scnn_nmnist_beta0.8"
    assert specs.resolve("scnn_dvssign", "smoke", overrides={"seed": 2}).config.run_name == "scnn_dvssign_seed2"


def test_a_model_argument_the_spec_does_not_set_is_still_a_knob():
    spec = specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides={"learn_beta": True})
    assert spec.config.model_kwargs["learn_beta"] is True


def test_an_unknown_knob_is_refused_with_the_list_of_knobs():
    with pytest.raises(ValueError, match=r"no knob 'betta'.*knobs: .*beta"):
        specs.resolve("scnn_nmnist_beta0.5", "quick", overrides={"betta": 0.9})
    with pytest.raises(KeyError, match="unknown spec"):
        specs.resolve("scnn_nmnist_beta0.9")


def test_the_printed_spec_shows_every_knob_as_used():
    text = str(specs.resolve("scnn_dvsgesture", "quick"))
    for part in ("scnn_dvsgesture-quick", "n_time_bins=25", "beta=0.5", "correct_rate=0.8", "batch 32", "lr 0.002"):
        assert part in text


def spec_batch(resolved: specs.ResolvedSpec, batch: int = 2):
    """A small batch of inputs as the spec's loaders give them (common.runs.runner.load_data), and the number of
    classes of its dataset: images, spike trains of the images (the LIF/ALIF network), or event frames on the
    sensor's grid, or pooled to the profile's ``target_size``."""
    import torch

    from common.data.datasets import describe

    config, data = resolved.config, resolved.config.data
    described = describe(config.dataset)
    width, height, channels = described.sensor_size
    if described.kind == "images":
        if config.model == "rsnn":
            return (torch.rand(data.n_steps, batch, width * height) < 0.3).float(), described.n_classes
        return torch.rand(batch, channels, height, width), described.n_classes
    width, height = data.target_size or (width, height)
    frames = torch.poisson(torch.full((data.n_time_bins, batch, channels, height, width), 0.5))
    return frames, described.n_classes


@pytest.mark.parametrize("name", sorted(specs.SPECS))
def test_every_spec_builds_its_model_and_objective(name, monkeypatch):
    """The spec's model takes a batch of its dataset's shape. Training, its objective turns the output into a
    finite loss that reaches every weight; evaluated, it answers with one output per class (and population
    neuron) per sample, after every time bin where the spec measures over time, and one prediction per sample."""
    import torch

    from common.networks.registry import build_model

    monkeypatch.setenv("SNN_TIME_CHUNK", "all")     # no layout calibration for a two-sample batch
    torch.manual_seed(0)
    resolved = specs.resolve(name, "smoke")
    inputs, n_classes = spec_batch(resolved)
    labels = torch.arange(2) % n_classes
    model = build_model(resolved.config.model, **resolved.config.model_kwargs)
    objective = resolved.build_objective()
    loss = objective.loss(model.train()(inputs), labels)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        output = model.eval()(inputs)
    per_sample = (inputs.shape[0], 2) if resolved.spec.over_time else (2,)
    outputs = n_classes * resolved.config.model_kwargs.get("population_size", 1)
    assert tuple(output.shape) == (*per_sample, outputs)
    assert objective.predict(output).shape == (2,)


# Where a call takes a batch size or a learning rate by position (0-based, after the callee)
POSITIONAL = {"TensorLoader": {2: "batch_size"}, "DataLoader": {1: "batch_size"}, "Adam": {1: "lr"},
              "AdamW": {1: "lr"}, "SGD": {1: "lr"}}
# Known literals, each with its reason; a new one fails the test below.
ALLOWED = {("common/data/images.py", "batch_size", 1000)}   # the image test loader's evaluation batch (data layer)


def literal_knobs(source: str):
    """``(line, knob, value)`` for every batch size or learning rate given as a number literal in ``source``: by
    keyword (``batch_size=64``, ``lr=1e-3``), by position (``TensorLoader(x, y, 64)``), as a dict entry
    (``{"lr": 1e-3}``) or assigned to a name (``batch_size = 64``)."""
    import ast

    number = lambda node: isinstance(node, ast.Constant) and type(node.value) in (int, float)
    knobs = {"batch_size", "lr"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for position, knob in POSITIONAL.get(callee, {}).items():
                if len(node.args) > position and number(node.args[position]):
                    yield node.lineno, knob, node.args[position].value
            yield from ((node.lineno, k.arg, k.value.value) for k in node.keywords if k.arg in knobs and number(k.value))
        elif isinstance(node, ast.Dict):
            yield from ((node.lineno, k.value, v.value) for k, v in zip(node.keys, node.values)
                        if isinstance(k, ast.Constant) and k.value in knobs and number(v))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and number(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            yield from ((node.lineno, t.id, node.value.value) for t in targets
                        if isinstance(t, ast.Name) and t.id in knobs)


def python_of(path):
    """A module's source, or a notebook's code cells (IPython's magics and shell lines left out)."""
    text = path.read_text()
    if path.suffix != ".ipynb":
        return text
    cells = [cell["source"] for cell in json.loads(text)["cells"] if cell["cell_type"] == "code"]
    lines = ["".join(c) if isinstance(c, list) else c for c in cells]
    return "\n".join(line for cell in lines for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))


def test_no_batch_size_or_learning_rate_literal_outside_the_specs():
    """Every batch size and learning rate comes from common/runs/specs.py: none is written as a literal in the
    notebooks or common/, by keyword, by position, in a dict or assigned to a name."""
    files = subprocess.run(["git", "ls-files", "common/*.py", "notebooks/*.ipynb"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True).stdout.split()
    assert files, "not a git checkout"
    hits = [f"{name}:{line}: {knob} = {value}" for name in files if name != "common/runs/specs.py"
            for line, knob, value in literal_knobs(python_of(PROJECT_ROOT / name))
            if (name, knob, value) not in ALLOWED]
    assert hits == []


def test_the_literal_check_sees_every_form():
    source = ("TensorLoader(x, y, 64, shuffle=True)\nDataLoader(data, 32)\ntorch.optim.AdamW(params, 1e-3)\n"
              "f(batch_size=16)\nsettings = {'lr': 0.01}\nbatch_size = 8\nTensorLoader(x, y, size)\n")
    assert [(knob, value) for _, knob, value in sorted(literal_knobs(source))] == [
        ("batch_size", 64), ("batch_size", 32), ("lr", 1e-3), ("batch_size", 16), ("lr", 0.01), ("batch_size", 8)]


# ------------------------------------------------------------------------------ one typed run identity

def test_a_knob_has_one_home_and_the_design_is_not_part_of_the_run():
    from dataclasses import replace

    spec = specs.resolve("scnn_nmnist_beta0.8", "quick")
    assert spec.config.batch_size == 32 and spec.config.data.n_time_bins == 25 and spec.config.data.max_shift == 3
    assert spec.design == {"n_seeds": 3, "workers": 2}                # what shapes a grid, beside the run
    assert spec.config.data.folds is None and spec.config.data.fold is None   # the official split: no fold design
    more_workers = specs.resolve("scnn_nmnist_beta0.8", "quick", overrides={"workers": 1, "n_seeds": 5})
    assert more_workers.config.run_name == spec.config.run_name      # the same run, the same checkpoint
    assert identity_differences(more_workers.config.to_dict(), spec.config.to_dict()) == {}
    assert more_workers.design == {"n_seeds": 5, "workers": 1}
    twice = replace(specs.SPECS["scnn_nmnist_beta0.8"], batch_size=64)
    with pytest.raises(ValueError, match="sets batch_size and so does its profile row"):
        specs.resolve(twice, "quick")


def test_the_record_keeps_objective_optimizer_and_augmentation_in_the_run():
    cnn = specs.resolve("cnn_mnist", "quick").config
    assert cnn.objective == {"kind": "cross_entropy"} and cnn.optimizer == "adamw_one_cycle" and cnn.spec == "cnn_mnist"
    assert cnn.augmentation == {"random_affine": specs.SPECS["cnn_mnist"].augment} and cnn.data.augment is True
    assert specs.resolve("cnn_mnist", "smoke").config.augmentation is None
    assert specs.resolve("scnn_nmnist_beta0.8", "quick").config.augmentation == {"random_shift_px": 3}
    other = specs.resolve("scnn_nmnist_beta0.8", "quick", overrides={"correct_rate": 0.9}).config.to_dict()
    assert "objective.correct_rate" in identity_differences(other, specs.resolve("scnn_nmnist_beta0.8", "quick",
                                                                                 run_name=other["run_name"]).config.to_dict())


def test_a_fold_cell_resolves_to_its_fold_and_a_lif_alif_cell_to_its_encoding():
    from common.runs.cells import GridContext
    from common.study import lif_alif, nmnist_folds

    context = GridContext("quick")
    fold = nmnist_folds.fold_cell({"variant": "spiking LSTM, equal size", "fold": 3, "seed": 0}).resolve(context)
    assert fold.spec.name == "slstm_nmnist_small" and fold.config.run_name.endswith("_fold3_seed0")
    assert (fold.config.data.fold, fold.config.data.folds, fold.config.data.fold_seed) == (3, 5, 0)
    cell = {"dataset": "fashion-mnist", "model": "rsnn", "neuron": "alif", "recurrent": True, "learn_beta": True,
            "encoding": "latency", "hidden": 64, "epochs": 2, "seed": 1}
    run = lif_alif.lif_alif_cell(cell).resolve(context).config
    assert (run.dataset, run.model_kwargs["neuron"], run.model_kwargs["hidden"], run.epochs, run.seed) == \
        ("fashion-mnist", "alif", 64, 2, 1)
    assert run.data.encoding == "latency" and run.data.n_steps == specs.profile_settings("lif_alif", "quick")["n_steps"]


def test_precision_is_a_knob_of_every_spec_and_a_bfloat16_run_is_its_own():
    spec = specs.resolve("scnn_nmnist_beta0.8", "quick", overrides={"precision": "bfloat16"})
    assert spec.config.precision == "bfloat16" and spec.config.run_name != "scnn_nmnist_beta0.8"
    assert specs.resolve("cnn_mnist", "quick").config.precision == "float32"
    with pytest.raises(ValueError, match="knob .precision. of spec .* must be one of .float32., .bfloat16."):
        specs.resolve("scnn_nmnist_beta0.8", "quick", overrides={"precision": "fp8"})


@pytest.mark.parametrize("name", ["07", "08", "09"])
def test_notebooks_outside_the_specs_check_every_parameter_of_their_first_cell(name):
    """Notebooks 07-09 take parameters no spec resolves (seed, n_samples, per_class, ...): the cell after the
    parameters cell passes every one of them through check_parameters, so papermill's -p, the command line and a
    hand edit are typed the same way ("false" is never true)."""
    import ast

    import nbformat

    from common.study.notebooks import numbered_notebooks

    path = next(p for p in numbered_notebooks() if p.name.startswith(name))
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", [])
    assigned = {t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign) for t in node.targets}
    calls = [node for node in ast.walk(ast.parse(cells[1].source))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check_parameters"]
    assert len(calls) == 1 and {k.arg for k in calls[0].keywords} == assigned
    with pytest.raises(specs.KnobError, match="'n_samples' must be an integer"):
        specs.check_parameters(n_samples="false")
