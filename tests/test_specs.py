"""One spec per run (common/runs/specs.py): knobs live there, notebooks override them by name."""
import json
import re
import subprocess

import pytest

from common.config import PROJECT_ROOT
from common.runs import specs
from common.runs.train import comparable


@pytest.mark.parametrize("name", ["cnn_mnist", "scnn_nmnist_beta0.5", "scnn_nmnist_beta0.8",
                                  "scnn_nmnist_learned_beta", "scnn_nmnist_population"])
def test_quick_specs_resolve_to_the_configs_of_the_committed_reference_runs(name):
    """The reference models in models/ were trained from these configs: the specs must rebuild them exactly,
    or the study would retrain instead of resuming."""
    committed = json.loads((PROJECT_ROOT / "results" / f"{name}-quick.json").read_text())["config"]
    assert comparable(specs.resolve(name, "quick").config.to_dict()) == comparable(committed)


def test_a_knob_is_set_everywhere_it_lives_and_an_override_names_its_own_run():
    spec = specs.resolve("scnn_nmnist_beta0.8", "smoke", overrides={"population_size": 10, "lr": 0.5})
    assert spec.config.model_kwargs["population_size"] == spec.objective["population_size"] == 10
    assert spec.config.lr == spec.settings["lr"] == 0.5          # one value, recorded in both places
    assert spec.config.run_name.startswith("scnn_nmnist_beta0.8_") and spec.config.run_name != "scnn_nmnist_beta0.8"
    assert specs.resolve("scnn_nmnist_beta0.8", "smoke").config.run_name == "scnn_nmnist_beta0.8"
    assert specs.resolve("cmp_scnn_dvsgesture", "smoke", overrides={"seed": 2}).config.run_name == "cmp_scnn_dvsgesture_seed2"


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
    import tonic.datasets
    import torch

    from common.data.images import IMAGE_DATASETS

    config, settings = resolved.config, resolved.settings
    if config.dataset in IMAGE_DATASETS:
        classes = len(IMAGE_DATASETS[config.dataset][3])
        if config.model == "rsnn":
            return (torch.rand(settings["n_steps"], batch, 28 * 28) < 0.3).float(), classes
        return torch.rand(batch, 1, 28, 28), classes
    reader = {"nmnist": tonic.datasets.NMNIST, "dvsgesture": tonic.datasets.DVSGesture}[config.dataset]
    width, height, polarities = reader.sensor_size
    width, height = settings.get("target_size") or (width, height)
    frames = torch.poisson(torch.full((settings["n_time_bins"], batch, polarities, height, width), 0.5))
    return frames, len(reader.classes)


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


def test_no_batch_size_or_learning_rate_literal_outside_the_specs():
    """grep for a batch size or a learning rate literal in the notebooks and common/ (not the specs)."""
    files = subprocess.run(["git", "ls-files", "common", "notebooks"], cwd=PROJECT_ROOT, capture_output=True,
                           text=True).stdout.split()
    pattern = re.compile(r"""\b(batch_size|lr)\b["']?\s*(:[^=,)]*)?[=:]\s*[0-9]""")
    hits = [f"{name}: {line.strip()}" for name in files if name != "common/runs/specs.py"
            for line in (PROJECT_ROOT / name).read_text().splitlines() if pattern.search(line)]
    assert hits == []
