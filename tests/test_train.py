import torch

from common.config import RunConfig
from common.data.loader import TensorLoader
from common.networks.objectives import CROSS_ENTROPY
from common.runs.checkpoint import read_checkpoint
from common.runs.train import adamw_one_cycle, evaluate, fit, train_one_epoch


def separable(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.randn(n, 1, 28, 28, generator=g) * 0.3
    images[labels == 1, :, :14] += 1.0
    return images, labels


def setup(tmp_path, epochs=2):
    x, y = separable()
    config = RunConfig("toy", "toy", "cnn", {"n_classes": 2}, profile="smoke", epochs=epochs,
                       batch_size=32, lr=3e-3, output_root=str(tmp_path), device="cpu")
    torch.manual_seed(0)
    from common.networks.registry import build_model
    model = build_model("cnn", n_classes=2)
    train = TensorLoader(x, y, 32, shuffle=True, seed=0)
    test = TensorLoader(*separable(100, seed=1), 50, shuffle=False)
    optimizer, scheduler = adamw_one_cycle(model, config, len(train))
    return config, model, train, test, optimizer, scheduler


def test_fit_learns_and_records_whole_epochs(tmp_path):
    config, model, train, test, optimizer, scheduler = setup(tmp_path)
    outcome = fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    history = outcome["history"]
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(r["train_samples_per_s"] > 0 and "test_accuracy" in r for r in history)
    assert outcome["test"]["n_samples"] == 100           # every test sample
    assert outcome["test"]["accuracy"] > 0.9              # learnable data is learnt
    saved = read_checkpoint(config.path("models", ".pth"))
    assert saved["training_state"]["finished"] and saved["meta"]["config"]["epochs"] == 2


def test_epoch_metrics_are_over_the_whole_epoch(tmp_path):
    config, model, train, test, optimizer, _ = setup(tmp_path)
    row = train_one_epoch(model, train, CROSS_ENTROPY, optimizer, "cpu")
    assert row["n_samples"] == 256


def test_evaluate_returns_predictions(tmp_path):
    _, model, _, test, _, _ = setup(tmp_path)
    result = evaluate(model, test, CROSS_ENTROPY)
    assert result["predictions"].shape == result["labels"].shape == (100,)
    assert result["accuracy"] == (result["predictions"] == result["labels"]).float().mean().item()


def test_resume_after_a_kill_continues_where_it_stopped(tmp_path):
    config, model, train, test, optimizer, scheduler = setup(tmp_path, epochs=3)
    full = fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    # Same run again, but "killed" after epoch 1: rewrite the checkpoint as unfinished at epoch 1.
    config1, model1, train1, test1, optimizer1, scheduler1 = setup(tmp_path / "b", epochs=3)
    config1.epochs = 1
    fit(model1, config1, train1, test1, CROSS_ENTROPY, optimizer1, scheduler1)
    path = config1.path("models", ".pth")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["training_state"]["finished"] = False
    checkpoint["meta"]["config"]["epochs"] = 3
    torch.save(checkpoint, path)
    config2, model2, train2, test2, optimizer2, scheduler2 = setup(tmp_path / "b", epochs=3)
    resumed = fit(model2, config2, train2, test2, CROSS_ENTROPY, optimizer2, scheduler2)
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3]
    assert abs(resumed["test"]["accuracy"] - full["test"]["accuracy"]) < 0.05


def test_finished_run_is_retrained_unless_reused(tmp_path, capsys):
    config, model, train, test, optimizer, scheduler = setup(tmp_path, epochs=1)
    fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    reused = fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler, reuse_trained=True)
    assert "Resuming" in capsys.readouterr().out and len(reused["history"]) == 1


def test_bfloat16_autocast_runs_the_forward_in_bf16_and_hands_back_float32():
    from common.runs.train import forward
    torch.manual_seed(0)
    conv, x = torch.nn.Conv2d(2, 4, 3), torch.randn(8, 2, 10, 10)
    exact = conv(x)
    assert torch.equal(forward(conv, x, "float32", "cpu"), exact)       # float32: untouched
    seen = []
    conv.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    rounded = forward(conv, x, "bfloat16", "cpu")
    assert seen[-1] == torch.bfloat16 and rounded.dtype == torch.float32
    assert not torch.equal(rounded, exact) and torch.allclose(rounded, exact, atol=0.05, rtol=0.02)


def test_a_bfloat16_run_trains_and_evaluates_at_its_precision(tmp_path):
    import dataclasses
    config, model, train, test, optimizer, scheduler = setup(tmp_path, epochs=1)
    config = dataclasses.replace(config, precision="bfloat16")
    outcome = fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    assert outcome["test"]["accuracy"] > 0.9
    assert read_checkpoint(config.path("models", ".pth"))["meta"]["config"]["precision"] == "bfloat16"
    assert all(p.dtype == torch.float32 for p in model.parameters())    # autocast leaves the weights float32
