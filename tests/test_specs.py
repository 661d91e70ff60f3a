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


def test_every_spec_builds_its_model_and_objective():
    for name, spec in specs.SPECS.items():
        resolved = specs.resolve(name, "smoke")
        resolved.build_objective()
        specs.knobs(spec)       # imports the model's module on demand


def test_no_batch_size_or_learning_rate_literal_outside_the_specs():
    """grep for a batch size or a learning rate literal in the notebooks and common/ (not the specs)."""
    files = subprocess.run(["git", "ls-files", "common", "notebooks"], cwd=PROJECT_ROOT, capture_output=True,
                           text=True).stdout.split()
    pattern = re.compile(r"""\b(batch_size|lr)\b["']?\s*(:[^=,)]*)?[=:]\s*[0-9]""")
    hits = [f"{name}: {line.strip()}" for name in files if name != "common/runs/specs.py"
            for line in (PROJECT_ROOT / name).read_text().splitlines() if pattern.search(line)]
    assert hits == []
