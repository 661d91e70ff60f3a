import json
import shutil

from common.config import PROJECT_ROOT
from common.report import END, START, results_table, section, update_readme
from common.results import load_results


def test_readme_agrees_with_the_results_files():
    """The README's table is exactly what the committed results files generate."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    shown = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == section(load_results()).strip()


def test_update_rewrites_only_the_marked_section(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    record = {"run": "toy-quick", "config": {"dataset": "mnist", "model": "cnn", "profile": "quick"},
              "test": {"accuracy": 0.987654, "n_samples": 10000}, "parameters": 1234,
              "train_seconds": 12.3, "device": "cpu", "machine": {"torch_threads": 2},
              "date": "2026-11-23T12:00:00+00:00"}
    (results / "toy-quick.json").write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nstale\n{END}\noutro\n")
    assert update_readme(readme, results) is True
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale" not in text
    assert "| toy-quick | mnist | cnn | quick | 98.77% | 10,000 | 1,234 | 12 s | cpu (2) | 2026-11-23 |" in text
    assert update_readme(readme, results) is False          # idempotent
    assert results_table([record]).count("\n") == 2
