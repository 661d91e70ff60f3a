"""One record shape (issue #40): a one-off migration of the records and model cards written before the typed config.

Every record written now carries its full typed config (``data``, ``objective``, ``optimizer``, ``augmentation``,
``spec``, ``precision``: common.config.RunConfig) and its ``training`` (objective, optimizer, schedule,
augmentation: common.runs.specs.ResolvedSpec.training). Rows trained before that shape lack some of these. This script
fills them in once, from the spec **as it was at the row's recorded commit** (``git show <commit>:common/runs/specs.py``,
loaded beside the current package), never from today's spec, and marks each migrated record
``"migrated": {"commit": ..., "spec_from": ..., "added": [...]}``. A row whose commit is unknown says so
(``"commit": null``) and takes its spec from the earliest commit recorded in its own table, the nearest evidence there
is; ``"spec_from"`` names it. Fields a record already has are kept as they are.

A model card is derived from its checkpoint (common.runs.checkpoint.card_of), so a card is migrated by migrating the
checkpoint's ``meta`` (its weights and their checksum untouched) and writing the card from it again.

Run once, from the project root, and kept for the record::

    python -m common.runs.migrate_records            # what it would change
    python -m common.runs.migrate_records --write    # change it

Left alone: tables being written while this ran (``SKIP``), and efficiency/faithfulness files (not run records).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, fields
from functools import cache
from pathlib import Path

from common.config import DataSettings, RunConfig

TYPED = ("data", "objective", "optimizer", "augmentation", "spec", "precision")
SKIP = ("nmnist_folds_confirm-", "gestures_")     # written by runs in progress when this was run
BY = "common/runs/migrate_records.py"


@cache
def specs_at(commit: str):
    """common/runs/specs.py as it was at ``commit``, imported as its own module beside the current package."""
    source = subprocess.run(["git", "show", f"{commit}:common/runs/specs.py"], capture_output=True, text=True,
                            check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location(f"specs_at_{commit[:10]}", file.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def spec_name(record: dict, specs) -> str:
    """The spec a record's run resolved: its config says, or its fold-study variant, its LIF/ALIF cell, its name."""
    config = record["config"]
    if config.get("spec"):
        return config["spec"]
    cell = record.get("cell") or {}
    if "variant" in cell:
        from common.runs.specs import FOLD_VARIANTS
        # a variant run from a working tree ahead of its recorded commit is not in that commit's table: its spec's
        # name from today's table (the spec itself is still the commit's; the marker says so)
        return {**FOLD_VARIANTS, **getattr(specs, "FOLD_VARIANTS", {})}[cell["variant"]]
    if config["run_name"].startswith("lif_alif_"):
        return "lif_alif"
    if config["run_name"] in specs.SPECS:
        return config["run_name"]
    raise ValueError(f"{record.get('run')}: no spec of the table at its commit is named {config['run_name']!r}")


def typed(config: dict, specs, name: str) -> dict:
    """The typed fields of ``config`` as ``specs`` (the table at the run's commit) resolved them: the rule of
    common.runs.specs.resolve (augmentation from the profile's data settings and the spec's affine)."""
    spec = specs.SPECS[name]
    data = config.get("data") or asdict(DataSettings.of(config.get("extra") or {}))
    augmentation = ({"random_affine": spec.augment} if data.get("augment") and spec.augment else
                    {"random_shift_px": data["max_shift"]} if data.get("max_shift") else None)
    return {"data": data, "objective": dict(spec.objective), "optimizer": spec.optimizer,
            "augmentation": augmentation, "spec": name, "precision": "float32"}   # bfloat16 came with the field


def training(config: dict) -> dict:
    """The record's ``training`` block, as common.runs.specs.ResolvedSpec.training writes it."""
    return {"objective": dict(config["objective"]),
            "optimizer": {"name": "AdamW", "lr": config["lr"], "weight_decay": config["weight_decay"]},
            "schedule": {"name": "one_cycle", "max_lr": config["lr"], "stepped": "per batch", "epochs": config["epochs"]}
            if config["optimizer"] == "adamw_one_cycle" else None,
            "augmentation": config["augmentation"]}


def migrate_config(config: dict, commit: str | None, fallback: str | None, name_of) -> tuple[dict, dict | None]:
    """``config`` with its missing typed fields, in RunConfig's order, and the marker (None: nothing was missing)."""
    missing = [k for k in TYPED if k not in config]
    if not missing:
        return config, None
    source = commit or fallback
    if source is None:
        raise ValueError(f"{config['run_name']}: no commit recorded and none in its table to take the spec from")
    specs = specs_at(source)
    filled = typed(config, specs, name_of(specs))
    merged = {**config, **{k: filled[k] for k in missing}}
    merged.pop("extra", None)                       # its data settings now live in ``data``
    order = [f.name for f in fields(RunConfig)]
    merged = {**{k: merged[k] for k in order if k in merged}, **{k: v for k, v in merged.items() if k not in order}}
    marker = {"commit": commit, "spec_from": source, "added": missing, "by": BY}
    if filled["spec"] not in set(getattr(specs, "FOLD_VARIANTS", {}).values()) and "_fold" in config["run_name"]:
        marker["note"] = "its variant was not in the fold study's table at that commit: named from today's table"
    if commit is None:
        marker["note"] = "commit unknown: spec taken from the earliest commit recorded in its table"
    return merged, marker


def migrate_record(record: dict, fallback: str | None) -> dict | None:
    """The migrated record, or None when it has the full typed config already."""
    config, marker = migrate_config(record["config"], record.get("git_commit"), fallback,
                                    lambda specs: spec_name(record, specs))
    if marker is None:
        return None
    out = {**record, "config": config, "migrated": marker}
    out.setdefault("training", training(config))
    return out


def jsonl_text(rows: list[dict]) -> str:
    return "".join(json.dumps(row, default=str) + "\n" for row in rows)


def migrate_tables(results: Path, write: bool) -> dict[str, int]:
    """Every results table and record of ``results`` (but :data:`SKIP`); returns the rows migrated per file."""
    from common.files import atomic_write, write_json

    done = {}
    for path in sorted(results.glob("*.jsonl")):
        if path.name.startswith(SKIP):
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        commits = [r["git_commit"] for r in rows if r.get("git_commit")]
        earliest = min(commits, key=commit_time) if commits else None
        migrated = [migrate_record(r, earliest) for r in rows]
        done[path.name] = sum(m is not None for m in migrated)
        if write and done[path.name]:
            text = jsonl_text([m or r for m, r in zip(migrated, rows)])
            atomic_write(path, lambda f: f.write(text.encode()))
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text())
        if path.name.startswith(SKIP) or "config" not in record:    # efficiency, faithfulness: not run records
            continue
        migrated = migrate_record(record, None)
        done[path.name] = int(migrated is not None)
        if write and migrated:
            write_json(path, migrated)
    return done


@cache
def commit_time(commit: str) -> int:
    return int(subprocess.run(["git", "show", "-s", "--format=%ct", commit], capture_output=True, text=True,
                              check=True).stdout.strip())


def trained_commits(root: Path) -> dict[str, str]:
    """run name -> the commit its record says it was trained at (results files and every table's rows)."""
    found = {}
    for path in (root / "results").glob("*.json"):
        record = json.loads(path.read_text())
        if "config" in record and record.get("git_commit"):
            found[record["config"]["run_name"]] = record["git_commit"]
    for path in (root / "results").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("git_commit"):
                    found.setdefault(row["config"]["run_name"], row["git_commit"])
    return found


def migrate_checkpoints(root: Path, write: bool) -> dict[str, int]:
    """The checkpoints' ``meta["config"]`` (and so their cards), each from the commit its run's record names."""
    import torch

    from common.files import atomic_write, write_json
    from common.runs.checkpoint import card_of

    commits = trained_commits(root)
    done = {}
    for path in sorted((root / "models").glob("*.pth")):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        config = checkpoint["meta"].get("config")
        if not config:
            continue
        name = config["run_name"]
        new, marker = migrate_config(config, commits.get(name), None,
                                     lambda specs: spec_name({"config": config}, specs))
        done[path.name] = int(marker is not None)
        if write and marker:
            checkpoint["meta"] = {**checkpoint["meta"], "config": new, "migrated": marker}
            atomic_write(path, lambda f: torch.save(checkpoint, f))
            write_json(path.with_suffix(".json"), card_of(checkpoint))
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="change the files (default: only say what would change)")
    parser.add_argument("--root", default=".", help="the project root (results/ and models/ beneath it)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    for name, n in {**migrate_tables(root / "results", args.write), **migrate_checkpoints(root, args.write)}.items():
        if n:
            print(f"{name}: {n} record(s) {'migrated' if args.write else 'to migrate'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
