"""What a run needs of the machine, checked before any work starts: each failure is one sentence and the fix.

Without these checks a read-only output root fails after a whole epoch (the first checkpoint), a full
disk inside torch (``unexpected pos``), ``SNN_DEVICE=cuda`` without a GPU after the data has loaded,
and ``SNN_DATA_ROOT`` pointing at a file deep in a dataset reader. :func:`preflight` is called by
:func:`common.runs.specs.setup` (a notebook's first cell), :func:`common.runs.runner.run` and
:func:`common.runs.grid.run_grid`.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from common.config import ENV_DATA_ROOT, ENV_DEVICE, ENV_OUTPUT
from common.files import StudyError

# Below this, a run is refused before it starts: a checkpoint or a frame cache alone can take more.
MIN_FREE_BYTES = 200 * 2**20


class PreflightError(StudyError, RuntimeError):
    """The machine cannot do the run as asked; the message says what and what to do."""


def check_output_root(output_root: str | Path, min_free: int = MIN_FREE_BYTES) -> None:
    """``output_root`` is a folder this process can write in, with ``min_free`` bytes free."""
    root = Path(output_root)
    if root.exists() and not root.is_dir():
        raise PreflightError(f"The output root {root} is a file, not a folder: set ${ENV_OUTPUT} (or output_root) "
                             f"to a folder.")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as error:
        raise PreflightError(f"The output root {root} is not writable ({error.strerror or error}): make it "
                             f"writable, or set ${ENV_OUTPUT} to a folder you can write in.") from None
    free = shutil.disk_usage(root).free
    if free < min_free:
        raise PreflightError(f"The disk of the output root {root} has {free / 2**20:.0f} MB free, less than the "
                             f"{min_free / 2**20:.0f} MB a run needs: free some space, or set ${ENV_OUTPUT} to a "
                             f"folder on another disk.")


def check_device(device: str | torch.device | None) -> None:
    """The requested device exists here (``SNN_DEVICE=cuda`` on a machine without a GPU fails now, not at
    the first batch). None: the device $SNN_DEVICE asks for, if any."""
    device = device or os.environ.get(ENV_DEVICE)
    if not device:
        return
    asked = f"{device!r}" + (f" (${ENV_DEVICE})" if os.environ.get(ENV_DEVICE) == str(device) else "")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise PreflightError(f"The device {asked} is not one torch knows: use cpu, cuda, cuda:<n> or mps.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise PreflightError(f"The device {asked} was asked for, but torch sees {count} CUDA GPU(s) here: "
                                 f"unset ${ENV_DEVICE} (or set it to cpu), or run on a machine with that GPU.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise PreflightError(f"The device {asked} was asked for, but Apple's MPS is not available here: unset "
                             f"${ENV_DEVICE} (or set it to cpu).")


def check_data_root(data_root: str | Path | None) -> None:
    """The data root, if it exists, is a folder (downloads and frame caches go there)."""
    if data_root and Path(data_root).exists() and not Path(data_root).is_dir():
        raise PreflightError(f"The data root {data_root} is a file, not a folder: point ${ENV_DATA_ROOT} (or "
                             f"data_root) at a folder, or unset it to use ./data.")


def preflight(output_root=None, device=None, data_root=None, min_free: int = MIN_FREE_BYTES) -> None:
    """Every check above for what is given: output root, device, data root."""
    check_data_root(data_root)
    check_device(device)
    if output_root is not None:
        check_output_root(output_root, min_free)


def project_errors() -> tuple[type, ...]:
    """The errors the study raises on purpose, each a sentence naming the problem and the fix."""
    from common.data.errors import DatasetCorruptError, DatasetNotFoundError

    return (StudyError, DatasetNotFoundError, DatasetCorruptError)


def command_line(main, argv: list[str] | None = None) -> int:
    """``main(argv)`` of a command-line entry point (``python -m common.study``, the grids, the report): the study's
    own errors are printed as their sentence, exit code 2, no traceback; ``--debug`` keeps the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        return main(argv)
    except project_errors() as error:
        if debug:
            raise
        print(f"error: {error}\n(--debug shows where)", file=sys.stderr)
        return 2
