"""The speed benchmark's model table: every entry builds, trains a step and runs inference (tiny batches)."""
import importlib.util

import pytest
import torch

from common.config import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("all_models", PROJECT_ROOT / "benchmarks" / "all_models.py")
all_models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(all_models)


RUNS = all_models.study_runs("smoke")


@pytest.mark.parametrize("name", list(RUNS))
def test_every_run_of_the_benchmark_trains_and_infers(name):
    spec = RUNS[name]
    spec.config.batch_size = 2   # tiny, for the test
    speed, memory = all_models.training_speed(spec, 1, "cpu")
    latency = all_models.inference_ms(spec, 1, "cpu", repeats=1)
    assert speed > 0 and latency > 0 and memory > 0


def test_memory_saved_for_backward_counts_each_storage_once():
    """A Linear layer on a [B, n] input saves its input for backward: B * n float32 values, counted once."""
    from torch import nn
    from common.networks.objectives import CROSS_ENTROPY

    model, inputs = nn.Sequential(nn.Linear(1000, 10)), torch.randn(64, 1000)
    mb = all_models.saved_for_backward_mb(model, CROSS_ENTROPY, inputs, torch.zeros(64, dtype=torch.long))
    assert 64 * 1000 * 4 / 2 ** 20 <= mb < 64 * 1000 * 4 / 2 ** 20 * 1.1   # + the loss's few small tensors


def test_the_benchmark_times_what_the_notebooks_train():
    """It reads the specs: notebook 04 at beta 0.8 and batch 32, as the notebook trains it (it once drifted)."""
    from common.runs.specs import SPECS, resolve

    quick = all_models.study_runs("quick")
    population = quick["scnn_nmnist_population (nb 04)"]
    assert population.config.model_kwargs["beta"] == 0.8 and population.config.batch_size == 32
    assert population.config.to_dict() == resolve("scnn_nmnist_population", "quick").config.to_dict()
    assert len(quick) == len(SPECS) - 1 + 3                          # every spec; the grid's headline cells
    assert all_models.make_input(population, 3).shape == (25, 3, 2, 34, 34)


peers_spec = importlib.util.spec_from_file_location("peers", PROJECT_ROOT / "benchmarks" / "peers.py")
peers = importlib.util.module_from_spec(peers_spec)
peers_spec.loader.exec_module(peers)


@pytest.mark.parametrize("row", peers.ROWS)
def test_every_row_of_the_peer_benchmark_runs_a_step(row):
    if row.startswith("spikingjelly") and importlib.util.find_spec("spikingjelly") is None:
        pytest.skip("spikingjelly is an optional benchmark peer (pip install --no-deps spikingjelly==2.0.0 loguru)")
    result = peers.measure(row, batch=2)
    assert result["samples_per_s"] > 0 and result["peak_mb"] > 0


def test_the_breakdown_of_a_training_step_adds_up():
    parts = peers.breakdown(batch=2)
    step = parts.pop("step")
    assert parts.pop("layout").endswith("bin(s) per call")
    assert set(parts) == {"convolutions", "pooling", "neurons and the rest of forward + backward", "loss",
                          "optimizer (Adam)"}
    assert sum(parts.values()) == pytest.approx(step) and parts["pooling"] > 0   # the parts make up the step


def test_the_peers_train_the_same_network():
    import torch

    import common
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(peers.snntorch_net()) == count(common.build_model("scnn")) == 12 * 2 * 25 + 12 + 32 * 12 * 25 + 32 + 8010
    if importlib.util.find_spec("spikingjelly") is not None:
        assert count(peers.spikingjelly_net()[0]) == count(common.build_model("scnn"))
    x, labels = peers.frames(4)
    assert x.shape == (25, 4, 2, 34, 34) and 0.02 < (x > 0).float().mean() < 0.06 and torch.is_tensor(labels)
