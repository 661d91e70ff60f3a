"""One record shape (issue #40): every committed record carries the full typed config or says it was migrated, and a
migrated model, re-evaluated as a resumed study would, gives its committed numbers bit for bit and leaves its files
as they are."""
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from common.runs.migrate_records import SKIP, TYPED

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


def committed_records():
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        if "config" in record and not path.name.startswith(SKIP):
            yield path.name, record
    for path in sorted(RESULTS.glob("*.jsonl")):
        if not path.name.startswith(SKIP):
            for i, line in enumerate(path.read_text().splitlines()):
                yield f"{path.name}:{i + 1}", json.loads(line)


def test_every_committed_record_and_card_has_the_typed_config_or_is_marked_migrated():
    missing = [where for where, record in committed_records()
               if [k for k in TYPED if k not in record["config"]] or "extra" in record["config"]
               or "training" not in record]
    assert not missing, missing[:5]
    migrated = [(where, record["migrated"]) for where, record in committed_records() if "migrated" in record]
    assert migrated and all(m["spec_from"] and set(m["added"]) <= set(TYPED) for _, m in migrated)
    # a row without a commit says so, and says where its spec came from instead
    unknown = [(where, m) for where, m in migrated if m["commit"] is None]
    assert all("unknown" in m["note"] and m["spec_from"] for _, m in unknown), unknown[:2]
    for card in sorted((ROOT / "models").glob("*.json")):
        config = json.loads(card.read_text())["meta"]["config"]
        assert all(k in config for k in TYPED), card.name


def test_the_migration_reproduces_the_typed_fields_of_records_that_have_them():
    """The rule that fills a row in (the spec at its commit) gives, for every row written with the typed config,
    exactly the fields that row recorded: so the rows it filled in are as their runs would have written them."""
    from common.runs.migrate_records import spec_name, specs_at, typed

    checked = 0
    for where, record in committed_records():
        if "migrated" in record or not record.get("git_commit"):
            continue
        specs = specs_at(record["git_commit"])
        filled = typed(record["config"], specs, spec_name(record, specs))
        assert {k: filled[k] for k in TYPED if k != "precision"} == \
               {k: record["config"][k] for k in TYPED if k != "precision"}, where
        checked += 1
    assert checked >= 10


def files_of(paths):
    return {p: p.read_bytes() for p in paths}


# One committed model of each kind: (spec or LIF/ALIF headline kind, its results record)
KINDS = {"cnn": "cnn_mnist", "cnn_events": "cnn_nmnist_time_bins", "scnn": "scnn_nmnist_beta0.8",
         "slstm": "slstm_nmnist_small", "rsnn": ("rsnn", "lif", "mnist"), "mlp": ("mlp", None, "mnist")}


def resolved(kind):
    """The run as a resumed study resolves it now (its spec, or its LIF/ALIF cell), and its committed record."""
    from common.runs.records import ResultsTable
    from common.runs.specs import profile_settings, resolve
    from common.study.lif_alif import headline_cells, lif_alif_cell

    if isinstance(KINDS[kind], str):
        return resolve(KINDS[kind], "quick"), json.loads((RESULTS / f"{KINDS[kind]}-quick.json").read_text())
    model, neuron, dataset = KINDS[kind]
    from common.runs.cells import GridContext
    cell = headline_cells(profile_settings("lif_alif", "quick"), dataset)[neuron or model]
    spec = lif_alif_cell(cell).resolve(GridContext("quick"))
    row = next(r for r in ResultsTable(RESULTS / "lif_alif-quick.jsonl").rows()
               if r["config"]["run_name"] == spec.config.run_name)
    return spec, row


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_migrated_model_evaluates_to_its_committed_numbers_bit_for_bit(kind, mirror, monkeypatch):
    """Loaded for the run a resumed study resolves now (its identity checked against the migrated card), evaluated
    on the run's test split, it gives the committed accuracy and every committed prediction; its checkpoint and card
    are byte-identical afterwards (a card that disagreed with its checkpoint would have been rewritten)."""
    from common.runs.checkpoint import load_run_model
    from common.runs.runner import load_data
    from common.runs.train import evaluate

    monkeypatch.chdir(ROOT)
    spec, record = resolved(kind)
    config = replace(spec.config, output_root=str(ROOT), mirror=str(mirror), device="cpu")
    model_file = Path(config.path("models", ".pth"))
    before = files_of([model_file, model_file.with_suffix(".json")])
    assert "migrated" in json.loads(model_file.with_suffix(".json").read_text())["meta"]
    model, _ = load_run_model(config)              # refused if the migrated config were another run's
    # the test split only: a small training split changes nothing of it, and spares framing 10,000 recordings
    data = load_data(replace(config, data=replace(config.data, train_limit=64)))
    torch.set_num_threads(1)
    test = evaluate(model, data.test_loader, spec.build_objective(), "cpu", desc="test", precision=config.precision)
    assert test["n_samples"] == record["test"]["n_samples"]
    assert test["accuracy"] == record["test"]["accuracy"]
    assert [int(p) for p in test["predictions"]] == record["test"]["predictions"]
    assert files_of(before) == before


@pytest.mark.slow
def test_a_resumed_run_of_a_migrated_model_leaves_its_files_byte_identical(tmp_path, mirror):
    """The study resumed over a migrated run (here the MNIST CNN, copied with its record): it reuses the checkpoint,
    re-evaluates it, and writes nothing (the marker is provenance: common.runs.records.PROVENANCE)."""
    import shutil

    from common.runs.runner import load_data, run
    from common.runs.specs import resolve

    for folder, pattern in (("models", "cnn_mnist-quick.*"), ("results", "cnn_mnist-quick.json")):
        (tmp_path / folder).mkdir(exist_ok=True)
        for path in (ROOT / folder).glob(pattern):
            shutil.copy(path, tmp_path / folder / path.name)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert "migrated" in json.loads((tmp_path / "results" / "cnn_mnist-quick.json").read_text())
    spec = resolve("cnn_mnist", "quick", output_root=str(tmp_path), mirror=str(mirror), device="cpu")
    torch.set_num_threads(1)
    record = run(spec, load_data(spec.config), reuse_trained=True, save=True)
    assert record["test"]["accuracy"] == json.loads(before[tmp_path / "results" / "cnn_mnist-quick.json"])["test"]["accuracy"]
    assert {p: p.read_bytes() for p in before} == before
