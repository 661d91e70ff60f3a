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


def test_epoch_metrics_are_over_the_whole_epoch():
    """The epoch's loss and accuracy weigh every sample once: with 256 samples in batches of 100 (the last one 56),
    a mean over batches, or the last batch's value, is not the answer. The learning rate is 0, so the model the
    loop sees is the one this test scores, with torch's own cross-entropy over all 256 samples at once."""
    x, y = separable()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    row = train_one_epoch(model, TensorLoader(x, y, 100, shuffle=True, seed=0), CROSS_ENTROPY, optimizer, "cpu")
    with torch.no_grad():
        logits = model(x)
        batch_means = [torch.nn.functional.cross_entropy(logits[i:i + 100], y[i:i + 100]).item() for i in (0, 100, 200)]
    whole_loss = torch.nn.functional.cross_entropy(logits, y).item()
    whole_accuracy = int((logits.argmax(1) == y).sum()) / 256
    assert abs(sum(batch_means) / 3 - whole_loss) > 1e-4            # the two readings differ on this data
    assert row["n_samples"] == 256
    assert abs(row["loss"] - whole_loss) < 1e-5 and abs(row["accuracy"] - whole_accuracy) < 1e-9


def test_evaluate_returns_every_prediction_and_their_accuracy(tmp_path):
    """Predictions are the model's argmax on every test sample, in order, and the accuracy counts them: recomputed
    here by calling the model once on the whole test set (the loader gives it two batches of 50)."""
    _, model, _, test, _, _ = setup(tmp_path)
    inputs, labels = separable(100, seed=1)
    with torch.no_grad():
        model.eval()
        expected = model(inputs).argmax(1)
    result = evaluate(model, test, CROSS_ENTROPY)
    assert torch.equal(result["predictions"], expected) and torch.equal(result["labels"], labels)
    right = sum(int(p == label) for p, label in zip(expected.tolist(), labels.tolist()))
    assert result["n_samples"] == 100 and abs(result["accuracy"] - right / 100) < 1e-6   # float32 mean


def counting_epochs(monkeypatch):
    """How many epochs fit trains: train_one_epoch wrapped to count its calls."""
    import common.runs.train as train_module

    calls, real = [], train_module.train_one_epoch
    monkeypatch.setattr(train_module, "train_one_epoch", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_resume_after_a_kill_continues_where_it_stopped(tmp_path, monkeypatch, capsys):
    """A run killed after epoch 1 of 3 trains only epochs 2 and 3, keeps epoch 1's row as it was written, and ends
    with the very weights of the run that was never stopped (weights, optimizer, schedule and both random states
    restored). A fresh start would train 3 epochs; a resume that dropped the optimizer or the random state would
    end elsewhere."""
    config, model, train, test, optimizer, scheduler = setup(tmp_path, epochs=3)
    full = fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    # Same run again, but "killed" after epoch 1: rewrite the checkpoint as unfinished at epoch 1.
    config1, model1, train1, test1, optimizer1, scheduler1 = setup(tmp_path / "b", epochs=3)
    config1.epochs = 1
    killed = fit(model1, config1, train1, test1, CROSS_ENTROPY, optimizer1, scheduler1)
    path = config1.path("models", ".pth")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["training_state"]["finished"] = False
    checkpoint["meta"]["config"]["epochs"] = 3
    torch.save(checkpoint, path)
    config2, model2, train2, test2, optimizer2, scheduler2 = setup(tmp_path / "b", epochs=3)
    capsys.readouterr()
    epochs = counting_epochs(monkeypatch)
    resumed = fit(model2, config2, train2, test2, CROSS_ENTROPY, optimizer2, scheduler2)
    assert len(epochs) == 2 and f"Resuming {path.name} at epoch 1/3" in capsys.readouterr().out
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3]
    assert resumed["history"][0] == killed["history"][0]             # epoch 1 not trained again
    assert [r["train_loss"] for r in resumed["history"]] == [r["train_loss"] for r in full["history"]]
    assert all(torch.equal(a, b) for a, b in zip(model2.state_dict().values(), model.state_dict().values()))


def test_a_finished_run_is_reused_or_retrained(tmp_path, monkeypatch, capsys):
    """``reuse_trained=True`` trains nothing and says it reuses the finished run (not "Resuming ... 1/1");
    without it the run is trained again."""
    config, model, train, test, optimizer, scheduler = setup(tmp_path, epochs=1)
    fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    name = config.path("models", ".pth").name
    capsys.readouterr()
    epochs = counting_epochs(monkeypatch)
    reused = fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler, reuse_trained=True)
    out = capsys.readouterr().out
    assert epochs == [] and len(reused["history"]) == 1
    assert f"{name}: reusing the finished run (1 epoch)" in out and "Resuming" not in out
    config, model, train, test, optimizer, scheduler = setup(tmp_path, epochs=1)
    fit(model, config, train, test, CROSS_ENTROPY, optimizer, scheduler)
    assert len(epochs) == 1 and "reusing" not in capsys.readouterr().out
