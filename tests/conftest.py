import os
import sys
import tempfile
from pathlib import Path

import pytest

# The layout calibrations the tests make (tiny shapes, on a machine busy with other tests) stay out of the user's
# cache (common.networks.layout.CACHE, under $XDG_CACHE_HOME): set before anything imports common, and inherited by
# the notebooks' kernels.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="snn-study-tests-")

sys.path.insert(0, str(Path(__file__).parent))   # the fixture writers beside this file

from idx_fixtures import write_image_dataset  # noqa: E402


def mirror_path() -> Path | None:
    """The real-data mirror, found as the study finds it (common.config.resolve_locations: $SNN_DATA_MIRROR,
    else the shared/datasets folder beside the repository)."""
    from common.config import resolve_locations

    mirror = resolve_locations()[1]
    return Path(mirror) if mirror and Path(mirror).is_dir() else None


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
    """Keep the caller's data/output settings out of a test (the environment's and the default mirror)."""
    for name in ("SNN_DATA_MIRROR", "SNN_DATA_ROOT", "SNN_OUTPUT_ROOT", "SNN_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    # and the mirror found beside the repository (in this process and in the notebooks' kernels), so a test that
    # expects a dataset to be missing sees it missing
    monkeypatch.setenv("SNN_DATA_MIRROR", "none")


@pytest.fixture
def any_span(monkeypatch):
    """Let hand-made N-MNIST recordings of a few ms through: the description's whole-recording span (280 ms and up)
    would refuse them as truncated."""
    from dataclasses import replace

    from common.data.datasets import datasets, describe
    monkeypatch.setitem(datasets(), "nmnist", replace(describe("nmnist"), span_us=(0, 1_000_000)))
