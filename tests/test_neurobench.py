"""NeuroBench's metrics on the project's own networks (common/study/neurobench.py): installed without
torchaudio, every metric that should be non-zero is, and they agree with the project's own counts."""
import importlib.util
from importlib import metadata

import pytest
import torch

import common
from common.config import PROJECT_ROOT
from common.networks.objectives import spike_count_mse
from common.study import neurobench as NB
from common.study.compare import predictor

pytestmark = pytest.mark.usefixtures("no_env")


def test_pinned_neurobench_imports_without_torchaudio():
    assert metadata.version("neurobench") == NB.VERSION
    assert importlib.util.find_spec("torchaudio") is None
    from neurobench.metrics.workload import MembraneUpdates, SynapticOperations  # noqa: F401


@pytest.fixture(scope="module")
def nmnist_test(tmp_path_factory):
    """The mirror's 100 real N-MNIST test recordings, or fixture recordings in the same format."""
    from conftest import MIRROR
    from event_fixtures import make_nmnist_tree

    from common.data.events import event_frames

    root = tmp_path_factory.mktemp("data")
    mirror = MIRROR if MIRROR is not None and (MIRROR / "NMNIST" / "Test").is_dir() else None
    if mirror is None:
        make_nmnist_tree(root, n_per_class=0, n_test_per_class=3)
    frames = event_frames("nmnist", False, 25, root, mirror=mirror, download=False, progress=False)
    return frames.frames.float(), frames.labels


def test_saved_spiking_cnn_gives_every_metric_and_agrees_with_its_own_spike_count(nmnist_test):
    inputs, labels = nmnist_test
    model, _ = common.load_model(PROJECT_ROOT / "models" / "scnn_nmnist_beta0.8-quick.pth")
    results = NB.metrics(model, inputs, labels, predictor(model), time_first=True, samples_per_pass=32)
    for name in ("Footprint", "ActivationSparsity", "MembraneUpdates", "Effective_MACs", "Effective_ACs",
                 "Dense"):
        assert results[name] > 0, name                             # none reads 0.0 any more
    with torch.no_grad():
        output = model(inputs.transpose(0, 1))
    T, N = inputs.shape[1], len(labels)
    neuron_steps = model.neurons_per_sample * T
    spikes = sum(model.spike_counts.values())
    assert results["ActivationSparsity"] == pytest.approx(1 - spikes / neuron_steps, rel=1e-6)
    assert results["MembraneUpdates"] <= neuron_steps               # at most every neuron at every bin
    objective = spike_count_mse()
    assert results["ClassificationAccuracy"] == pytest.approx((objective.predict(output) == labels).float().mean().item())
    assert results["Effective_ACs"] < results["Dense"] and results["Effective_MACs"] < results["Dense"]


def test_cnn_gives_macs_and_relu_sparsity_but_no_membranes():
    torch.manual_seed(0)
    model = common.build_model("cnn").eval()
    images, labels = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    results = NB.metrics(model, images, labels, predictor(model), time_first=False)
    assert results["Effective_MACs"] > 0 and results["Effective_ACs"] == 0 and results["MembraneUpdates"] == 0
    assert 0 < results["ActivationSparsity"] < 1 and results["Footprint"] > 0
    # every MAC of a dense input, without the taps that fall on the zero padding (the project's old
    # hand-written count took them too: 5,155,040): kernel taps that land on real pixels, per output
    taps = lambda size, padding: torch.nn.functional.conv2d(torch.ones(1, 1, size, size), torch.ones(1, 1, 5, 5),
                                                           padding=padding).sum().item()
    exact = taps(28, 1) * 1 * 24 + taps(13, 1) * 24 * 64 + 1600 * 64 + 64 * 10
    assert results["Dense"] == pytest.approx(exact, rel=1e-6) and exact < 5_155_040


def test_lif_network_membranes_are_seen_through_its_trace():
    torch.manual_seed(0)
    model = common.build_model("rsnn", neuron="alif", hidden=32).eval()
    spikes = (torch.rand(8, 10, 784) < 0.2).float()                # [N, T, 784], batch first
    results = NB.metrics(model, spikes, torch.randint(0, 10, (8,)), predictor(model), time_first=True)
    assert results["MembraneUpdates"] > 0 and results["Effective_ACs"] > 0 and 0 < results["ActivationSparsity"] < 1
    assert not model.hidden.trace.observers                          # hooks removed afterwards
