"""The two cost models: operations only, and operations with the memory traffic they cause."""
import math

import pandas as pd
import pytest

from common.study import energy
from common.study.energy import ENERGY_PJ

MAC, AC = ENERGY_PJ["mac"], ENERGY_PJ["ac"]     # the constants are written once, in common/study/energy.py
SMALL, MIDDLE, LARGE = (energy.SRAM_64BIT_PJ[k] / 2 for k in sorted(energy.SRAM_64BIT_PJ))   # a 32-bit word each


def test_operations_energy_of_a_network_follows_from_its_counted_operations():
    """NeuroBench's counts of a two-layer network, against a count by hand, and the energy derived from them: a graded
    input (pixels) reaching a non-zero weight is a MAC, a binary one (a spike) an AC; zeros cost nothing."""
    import torch
    from torch import nn

    from common.study import neurobench

    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[2.0, 0, 0, 0], [0, 0.5, 0, 0], [-1, -1, -1, -1]]))
        net[2].weight.copy_(torch.tensor([[1.0, 0, 3], [0, 2, 3]]))
        net[0].bias.zero_(), net[2].bias.zero_()
    x = torch.tensor([[0.5, 2.0, 0.0, 0.0]])                        # graded; the hidden layer answers [1, 1, 0]
    hidden = net[1](net[0](x))
    assert hidden.tolist() == [[1.0, 1.0, 0.0]]
    reached = lambda inputs, weight: int(((inputs != 0).float() @ (weight != 0).float().T).sum())
    macs, acs = reached(x, net[0].weight), reached(hidden, net[2].weight)   # 2 + 2 MACs; 1 + 1 ACs
    assert (macs, acs) == (4, 2)
    results = neurobench.metrics(net, x, torch.tensor([0]), lambda out: out.argmax(-1), time_first=False)
    assert (results["Effective_MACs"], results["Effective_ACs"]) == (macs, acs)
    assert "energy_nJ" not in results                               # counts only: the energy is derived on read
    assert energy.energy_nj(results["Effective_MACs"], results["Effective_ACs"]) == pytest.approx((macs * MAC + acs * AC) / 1000)


def test_sram_word_energy_follows_horowitz_table_between_its_sizes():
    assert sorted(energy.SRAM_64BIT_PJ) == [8 * 1024, 32 * 1024, 1024 ** 2]
    assert energy.sram_word_pj(8 * 1024) == pytest.approx(SMALL)       # a 64-bit access, halved
    assert energy.sram_word_pj(1024) == pytest.approx(SMALL)           # floored at 8 KB
    assert energy.sram_word_pj(1024 ** 2) == energy.sram_word_pj(64 * 1024 ** 2) == pytest.approx(LARGE)
    middle = energy.sram_word_pj(16 * 1024)                            # half-way in log size from 8 to 32 KB
    assert middle == pytest.approx((SMALL + MIDDLE) / 2)


def test_memory_model_charges_each_accumulate_a_weight_read_and_a_membrane_read_and_write():
    one_ac = energy.memory_aware_nj(macs=0, acs=1, membrane_updates=0, spikes=0, weight_bytes=8192, neurons=10)
    assert one_ac * 1000 == pytest.approx(AC + SMALL + 2 * SMALL)
    one_mac = energy.memory_aware_nj(macs=1, acs=0, membrane_updates=0, spikes=0, weight_bytes=8192, neurons=10)
    assert one_mac * 1000 == pytest.approx(MAC + SMALL + SMALL)


def test_crossover_spike_rate_is_where_the_two_energies_meet():
    spiking = {"macs": 1e5, "acs": 2e6, "membrane_updates": 9e4, "spikes": 4.5e3, "weight_bytes": 7e4,
               "neurons": 3.6e3, "outputs": 0.0}
    model = lambda c: energy.memory_aware_nj(**c)
    conventional = 0.5 * model(spiking)                               # the spiking one costs twice as much now
    rate = energy.crossover_spike_rate(spiking, conventional, model)
    scale = rate / (spiking["spikes"] / spiking["membrane_updates"])
    assert 0 < scale < 1
    assert model({**spiking, "acs": spiking["acs"] * scale, "spikes": spiking["spikes"] * scale}) == pytest.approx(conventional)
    fixed_only = model({**spiking, "acs": 0.0, "spikes": 0.0})
    assert energy.crossover_spike_rate(spiking, fixed_only * 0.9, model) == 0.0   # cheaper even when silent: never


def test_energy_pairs_name_the_cheaper_side_under_each_model():
    from common.study.compare import energy_pairs

    rows = pd.DataFrame({"Effective_MACs": [2e5, 0.0], "Effective_ACs": [0.0, 2.7e5], "MembraneUpdates": [0.0, 2560.0],
                         "spikes/sample": [math.nan, 730.0], "Footprint": [8.1e5, 8.1e5], "neurons": [266.0, 256.0]},
                        index=["mlp_mnist", "rsnn_lif_mnist"])
    pairs = energy_pairs(rows).set_index("cost model")
    assert set(pairs.index) == {"operations", "operations + memory"}
    ops = pairs.loc["operations"]
    assert ops["conventional nJ"] == pytest.approx(2e5 * MAC / 1000) and ops["cheaper"] == "spiking"
    memory = pairs.loc["operations + memory"]
    assert memory["spiking / conventional"] > ops["spiking / conventional"]    # membrane traffic costs the SNN more


def spiking_cnn_rows() -> pd.DataFrame:
    """A conventional CNN and a spiking CNN whose first layer reads event counts (MACs), as notebook 08 keeps them."""
    return pd.DataFrame({"Effective_MACs": [4e5, 6e5], "Effective_ACs": [0.0, 2e6], "MembraneUpdates": [0.0, 9e4],
                         "spikes/sample": [math.nan, 4.5e3], "Footprint": [7e4, 7e4], "neurons": [3.5e3, 3.6e3],
                         "dataset": ["nmnist", "nmnist"]},
                        index=pd.Index(["cnn_nmnist_summed", "scnn_nmnist_beta0.8"], name="run"))


def test_event_inputs_priced_as_accumulates_move_the_first_layer_only_and_its_share_is_stated():
    from common.study.compare import AS_ACS, energy_pairs, with_energies

    frame = with_energies(spiking_cnn_rows())
    snn, cnn = frame.loc["scnn_nmnist_beta0.8"], frame.loc["cnn_nmnist_summed"]
    assert snn["energy_nJ"] == pytest.approx((6e5 * MAC + 2e6 * AC) / 1000)
    assert snn["energy_nJ" + AS_ACS] == pytest.approx((6e5 + 2e6) * AC / 1000)      # its MACs become ACs
    assert cnn["energy_nJ" + AS_ACS] == cnn["energy_nJ"]                          # a conventional network keeps them
    assert snn["first_layer_share"] == pytest.approx(6e5 * MAC / (6e5 * MAC + 2e6 * AC))
    ops = energy_pairs(frame).set_index("cost model").loc["operations"]
    assert ops["crossover spike rate"] == 0.0                   # its MAC-priced first layer alone costs more than the CNN
    # priced as ACs, the input events stay fixed and only the network's own spikes scale: the winner can change
    rate = ops["crossover, event inputs as ACs"]
    measured = 4.5e3 / 9e4
    assert 0 < rate < measured
    scaled = (6e5 + 2e6 * rate / measured) * AC / 1000
    assert scaled == pytest.approx(ops["conventional nJ"])


def test_stored_efficiency_holds_counts_and_energies_are_derived_when_read(tmp_path):
    import json

    from common.study.compare import DERIVED, load_efficiency, save_efficiency, with_energies

    path = save_efficiency(with_energies(spiking_cnn_rows()).assign(**{"inference ms/sample": 1.0}), "quick", tmp_path)
    stored = json.loads(path.read_text())["rows"]
    assert not {c for row in stored for c in row} & set(DERIVED)
    read = load_efficiency("quick", tmp_path)
    assert read.loc["scnn_nmnist_beta0.8", "energy_nJ"] == pytest.approx((6e5 * MAC + 2e6 * AC) / 1000)
