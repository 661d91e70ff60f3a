import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # the fixture writers beside this file

from idx_fixtures import write_image_dataset  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent


def mirror_path() -> Path | None:
    """The real-data mirror: $SNN_DATA_MIRROR, else ../shared/datasets beside the clone."""
    for candidate in (os.environ.get("SNN_DATA_MIRROR"), PROJECT.parent / "shared" / "datasets"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


# Read once at start-up, before any test's monkeypatch (e.g. ``no_env``) clears the environment.
MIRROR = mirror_path()


@pytest.fixture
def mirror():
    path = MIRROR
    if path is None:
        pytest.skip("no dataset mirror (set SNN_DATA_MIRROR or place shared/datasets beside the clone)")
    return path


@pytest.fixture
def mnist_root(tmp_path):
    return write_image_dataset(tmp_path / "data")


@pytest.fixture
def no_env(monkeypatch):
    """Keep the caller's data/output settings out of a test."""
    for name in ("SNN_DATA_MIRROR", "SNN_DATA_ROOT", "SNN_OUTPUT_ROOT", "SNN_DEVICE"):
        monkeypatch.delenv(name, raising=False)
