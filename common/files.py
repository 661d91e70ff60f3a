"""Files that survive a kill: every file the study writes (checkpoints, records, tables, frame caches,
videos) goes through :func:`atomic_file`, a temporary file renamed over the target."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_file(path: str | Path, suffix: str = ".tmp"):
    """Yield a temporary path in ``path``'s folder; on success rename it over ``path``, else delete it.

    The rename is atomic, so a kill mid-write leaves the previous file intact. The file gets the
    mode any new file gets (mkstemp's 0600 would hide results from other users); temporary files
    left by a killed write of the same target are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*{suffix}"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, write) -> None:
    """``write(handle)`` into ``path`` through :func:`atomic_file`, flushed to disk before the rename."""
    with atomic_file(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: str | Path, data: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))
