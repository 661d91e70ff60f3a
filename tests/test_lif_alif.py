"""The LIF/ALIF network and the MLP baseline: shapes, masking, gradients, registry, one real cell."""
import pytest
import torch
from idx_fixtures import write_image_dataset

import common
from common.networks.lif_alif import MLP, RecurrentSNN, SpikeCountMLP
from common.networks.objectives import CROSS_ENTROPY
from common.runs.grid import expand_grid
from common.runs.records import flat
from common.runs.specs import profile_settings
from common.runs.cells import GridContext, run_cell
from common.study.lif_alif import lif_alif_cell, study_grid


@pytest.mark.parametrize("neuron", ["lif", "alif"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_forward_shapes_and_every_parameter_gets_gradient(neuron, recurrent):
    torch.manual_seed(0)
    model = RecurrentSNN(neuron, hidden=24, recurrent=recurrent, learn_beta=True)
    spikes = (torch.rand(12, 5, 784) < 0.2).float()
    logits = model(spikes)
    assert logits.shape == (5, 10)
    CROSS_ENTROPY.loss(logits, torch.arange(5)).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert model.hidden.beta_logit.grad.abs() > 0 and model.readout.kappa_logit.grad.abs() > 0
    assert 0 < model.spike_rate < 1


def test_recurrent_diagonal_is_masked_even_after_training():
    torch.manual_seed(0)
    model = RecurrentSNN("alif", hidden=16, recurrent=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    CROSS_ENTROPY.loss(model((torch.rand(8, 3, 784) < 0.3).float()), torch.tensor([0, 1, 2])).backward()
    assert torch.all(model.w_rec.grad.diagonal() == 0)          # no gradient into self-connections
    optimizer.step()
    assert torch.all(model.recurrent_weight().diagonal() == 0)
    assert model.recurrent_weight().abs().sum() > 0


def test_recurrence_and_neuron_change_the_output():
    torch.manual_seed(0)
    spikes = (torch.rand(10, 4, 784) < 0.3).float()
    outputs = {}
    for neuron in ("lif", "alif"):
        for recurrent in (False, True):
            torch.manual_seed(1)
            outputs[neuron, recurrent] = RecurrentSNN(neuron, 32, recurrent)(spikes)
    assert not torch.allclose(outputs["lif", False], outputs["alif", False])
    assert not torch.allclose(outputs["lif", False], outputs["lif", True])


def test_fixed_beta_is_a_buffer_not_a_parameter():
    model = RecurrentSNN("lif", 8, learn_beta=False)
    names = {n for n, _ in model.named_parameters()}
    assert not any("beta" in n or "kappa" in n for n in names)
    assert model.decays()["hidden"] == pytest.approx(torch.exp(torch.tensor(-1 / 20)).item())


@pytest.mark.parametrize("readout", ["mean", "max", "last"])
def test_readouts(readout):
    torch.manual_seed(0)
    model = RecurrentSNN("lif", 8, readout=readout)
    assert model((torch.rand(6, 2, 784) < 0.5).float()).shape == (2, 10)


def test_registered_and_rebuilt_from_checkpoint(tmp_path):
    for name, kwargs, x in (("rsnn", {"neuron": "alif", "hidden": 12, "recurrent": True, "learn_beta": True},
                             (torch.rand(5, 2, 784) < 0.3).float()),
                            ("mlp", {"hidden": 12}, torch.rand(2, 1, 28, 28)),
                            ("mlp_spikes", {"hidden": 12}, (torch.rand(5, 2, 784) < 0.3).float())):
        model = common.build_model(name, **kwargs)
        path = tmp_path / f"{name}.pth"
        common.save_checkpoint(path, model, name, kwargs, meta={})
        reloaded, _ = common.load_model(path)
        assert torch.equal(reloaded(x), model.eval()(x))
    assert isinstance(common.build_model("mlp", hidden=7), MLP) and common.build_model("mlp", hidden=7).fc1.out_features == 7


def test_study_grids_cover_every_factor():
    smoke = expand_grid(study_grid(profile_settings("lif_alif", "smoke")))
    for factor, levels in {"neuron": {"lif", "alif"}, "recurrent": {False, True}, "learn_beta": {False, True},
                           "encoding": {"rate", "latency", "periodic"}, "hidden": {16, 32}, "epochs": {1, 2},
                           "dataset": {"mnist", "fashion-mnist"}, "model": {"rsnn", "mlp", "mlp_spikes"}}.items():
        assert {c[factor] for c in smoke if factor in c} == levels, factor
    quick = expand_grid(study_grid(profile_settings("lif_alif", "quick")))
    main = [c for c in quick if c["model"] == "rsnn"]
    per_cell = {}
    for c in main:
        per_cell.setdefault((c["dataset"], c["neuron"]), set()).add(c["seed"])
    assert len(per_cell) == 4 and all(len(s) >= 3 for s in per_cell.values())
    full = expand_grid(study_grid(profile_settings("lif_alif", "full")))
    assert {c["hidden"] for c in full} == {64, 128, 256} and {c["epochs"] for c in full} == {15, 30}


def test_a_cell_returns_a_full_test_set_row_with_learned_beta(tmp_path, no_env):
    data = write_image_dataset(tmp_path / "data", "MNIST", n_train=300, n_test=120)
    settings = profile_settings("lif_alif", "smoke")
    context = GridContext("smoke", data_root=str(data), output_root=str(tmp_path / "out"))
    cell = lif_alif_cell({"dataset": "mnist", "model": "rsnn", "neuron": "alif", "recurrent": True, "learn_beta": True,
                          "encoding": "periodic", "hidden": 16, "epochs": 1, "seed": 0})
    record = run_cell(cell, context)
    assert record["test"]["n_samples"] == 120 and 0 <= record["test"]["accuracy"] <= 1
    assert len(record["test"]["predictions"]) == 120                  # kept for paired tests
    row = flat(record)
    assert row["neuron"] == "alif" and row["recurrent"] is True and row["encoding"] == "periodic"
    assert record["config"]["model_kwargs"]["hidden"] == 16 and record["config"]["epochs"] == 1
    assert 0 < row["beta_hidden"] < 1 and row["beta_hidden"] != pytest.approx(torch.exp(torch.tensor(-1 / 20)).item(), abs=1e-7)
    assert row["train_seconds"] > 0 and record["config"]["data"]["n_steps"] == settings["n_steps"]
    assert record["config"]["data"]["encoding"] == "periodic"
    model, meta = common.load_model(tmp_path / "out" / row["checkpoint"])
    assert model.hidden.adaptive and model.recurrent
    # a second call reuses the finished checkpoint, with other resources too: same accuracy, no new training epoch
    again = run_cell(cell, GridContext("smoke", data_root=str(data), output_root=str(tmp_path / "out"), threads=2))
    assert again["test"]["accuracy"] == record["test"]["accuracy"] and again["train_seconds"] == record["train_seconds"]


def test_the_mlp_on_spikes_is_the_image_mlp_fed_each_pixels_spike_count_over_the_steps():
    torch.manual_seed(0)
    model = SpikeCountMLP(hidden=12)
    image_mlp = MLP(hidden=12)
    image_mlp.load_state_dict(model.state_dict())             # the same network, parameter for parameter
    spikes = (torch.rand(10, 3, 784) < 0.4).float()
    assert torch.equal(model(spikes), image_mlp(spikes.mean(0)))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in image_mlp.parameters())
    with pytest.raises(ValueError, match=r"expected input spikes \[T, B, 784\]"):
        model(torch.rand(3, 1, 28, 28))                        # an image is refused, not silently averaged


def test_the_mlp_on_spikes_trains_on_the_spiking_cells_test_spikes(tmp_path, no_env):
    """Its cell gets the rate-coded loaders of LIF and ALIF (same n_steps, same frozen test spikes), not images."""
    from common.runs.runner import load_data
    data = write_image_dataset(tmp_path / "data", "MNIST", n_train=200, n_test=50)
    context = GridContext("smoke", data_root=str(data), output_root=str(tmp_path / "out"))
    cells = {model: lif_alif_cell({"dataset": "mnist", "model": model, "encoding": "rate", "hidden": 8, "epochs": 1,
                                   "seed": 0, **({"neuron": "lif"} if model == "rsnn" else {})})
             for model in ("mlp_spikes", "rsnn")}
    loaded = {model: load_data(cell.resolve(context).config) for model, cell in cells.items()}
    first = {model: next(iter(data.test_loader))[0] for model, data in loaded.items()}
    assert first["mlp_spikes"].shape == (profile_settings("lif_alif", "smoke")["n_steps"], 50, 784)
    assert torch.equal(first["mlp_spikes"], first["rsnn"])
    record = run_cell(cells["mlp_spikes"], context)
    assert record["config"]["model"] == "mlp_spikes" and record["config"]["data"]["encoding"] == "rate"
    assert record["cell"]["model"] == "mlp_spikes" and record["test"]["n_samples"] == 50


def test_main_comparison_is_the_headline_part_of_the_grid():
    from common.runs.grid import KEY, cell_key
    from common.study.lif_alif import main_comparison
    settings = profile_settings("lif_alif", "quick")
    main = expand_grid(study_grid(settings, parts="main"))
    everything = expand_grid(study_grid(settings))
    assert {c.get("neuron") for c in main} == {"lif", "alif", None} and len(main) < len(everything)
    assert all(c["hidden"] == settings["hidden"] and c["epochs"] == settings["epochs"] for c in main)
    rows = [{**c, KEY: cell_key(c)} for c in everything]
    assert main_comparison(rows, settings) == [r for r in rows if r[KEY] in {cell_key(c) for c in main}]
    # the confirmation's fresh seeds are the same headline cells: main_comparison keeps them whatever their seed
    fresh = [{**c, "seed": c["seed"] + 100} for c in main]
    assert main_comparison([{**c, KEY: cell_key(c)} for c in fresh], settings) == [{**c, KEY: cell_key(c)} for c in fresh]


def test_the_confirmation_trains_the_primary_kinds_on_seeds_the_grid_never_used():
    """LIF, ALIF and the MLP on images on every dataset, seeds 5-9 in quick, seed by seed, no checkpoint shared."""
    from common.runs.specs import LIF_ALIF_CONFIRM
    from common.study.lif_alif import confirm_cells, study_cells
    settings = profile_settings("lif_alif", "quick")
    cells = confirm_cells(settings)
    seeds = list(range(LIF_ALIF_CONFIRM["first_seed"], LIF_ALIF_CONFIRM["first_seed"] + settings["n_seeds"]))
    assert [c.seed for c in cells] == sorted(c.seed for c in cells) and {c.seed for c in cells} == set(seeds)
    kinds = {(c.factors["dataset"], c.factors["model"], c.factors.get("neuron")) for c in cells}
    assert kinds == {(d, m, n) for d in settings["datasets"] for m, n in (("rsnn", "lif"), ("rsnn", "alif"), ("mlp", None))}
    assert len(cells) == len(kinds) * len(seeds)
    grid = study_cells(settings)
    assert not {c.seed for c in cells} & {c.seed for c in grid}
    assert not {c.run_name for c in cells} & {c.run_name for c in grid}


def test_reading_sets_the_source_claims_beside_the_grid():
    from test_compare import grid_row

    from common.study.lif_alif import reading
    gains = {0: 0.03, 1: 0.031, 2: 0.029}
    rows = [grid_row("rsnn", "fashion-mnist", seed, 0.85, "lif") for seed in gains]
    rows += [grid_row("rsnn", "fashion-mnist", seed, 0.85 + gain, "alif") for seed, gain in gains.items()]
    text = reading(rows)
    assert "Source reported rsnn_alif_fashion-mnist 81.94%" in text and "here: 88.00%" in text
    assert "ALIF-over-LIF gain on Fashion-MNIST (+2.58%, one unseeded run each) holds here: +3.00%" in text
    rows[3] = {**rows[3], "test": {**rows[3]["test"], "accuracy": 0.80}}   # one seed reverses: the interval spans zero
    assert "is not supported here" in reading(rows)


def test_notebook_08_measures_the_mlp_on_spikes_on_spikes_and_the_mlp_on_images_on_images(tmp_path, no_env):
    """compare.test_inputs reads what the record's data says (its encoding), not the model's name: a fresh smoke study
    failed in notebook 08 when the MLP on spikes was handed images."""
    from common.study.compare import test_inputs
    data = write_image_dataset(tmp_path / "data", "MNIST", n_train=200, n_test=50)
    context = GridContext("smoke", data_root=str(data), output_root=str(tmp_path / "out"))
    shapes = {}
    for model, encoding in (("mlp_spikes", "rate"), ("mlp", None)):
        factors = {"dataset": "mnist", "model": model, "hidden": 8, "epochs": 1, "seed": 0,
                   **({"encoding": encoding} if encoding else {})}
        record = run_cell(lif_alif_cell(factors), context)
        shapes[model] = tuple(test_inputs(record, str(data), None)[0].shape)
    assert shapes["mlp_spikes"] == (profile_settings("lif_alif", "smoke")["n_steps"], 50, 784)
    assert shapes["mlp"] == (50, 1, 28, 28)
