"""The speed benchmark's model table: every entry builds, trains a step and runs inference (tiny batches)."""
import importlib.util

import pytest

from common.config import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("all_models", PROJECT_ROOT / "benchmarks" / "all_models.py")
all_models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(all_models)


@pytest.mark.parametrize("name", list(all_models.MODELS))
def test_every_model_of_the_benchmark_trains_and_infers(name):
    registry_name, kwargs, objective, make_input, _ = all_models.MODELS[name]
    speed = all_models.training_speed(registry_name, kwargs, objective, make_input, 2, 1, "cpu")
    latency = all_models.inference_ms(registry_name, kwargs, make_input, 1, "cpu", repeats=1)
    assert speed > 0 and latency > 0
