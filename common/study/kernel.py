"""The notebooks' Jupyter kernel, "snn-study", belongs to one clone.

``make env`` registers it inside the clone's ``.venv`` (``ipykernel install --sys-prefix``), never for the user
account, then runs ``python -m common.study.kernel`` to check that a Jupyter started from that ``.venv`` resolves the
name to it: a kernel of the same name registered elsewhere (an older ``make jupyter`` registered one for the whole
account) would run another clone's environment and code without a word, so it stops the build with the way out.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

NAME = "snn-study"


class KernelElsewhere(RuntimeError):
    pass


def kernel_folder(name: str = NAME) -> Path:
    """The folder the kernel ``name`` resolves to for a Jupyter running on this Python, checked to lie inside this
    Python's environment (``sys.prefix``) and to start this Python."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise KernelElsewhere(f"No Jupyter kernel named {name!r} is registered for {sys.prefix}: run `make env` "
                              "in this clone.") from None
    folder = Path(spec.resource_dir).resolve()
    prefix = Path(sys.prefix).resolve()
    if prefix not in folder.parents:
        raise KernelElsewhere(f"The Jupyter kernel {name!r} resolves to {folder}, outside this clone's environment "
                              f"{prefix}, so the notebooks would run another environment's code: remove it with "
                              f"`jupyter kernelspec remove {name}` and run `make env` again.")
    python = spec.argv[0]    # compared unresolved: two clones' .venv/bin/python both link to one interpreter
    if os.path.isabs(python) and os.path.normpath(python) != os.path.normpath(sys.executable):
        raise KernelElsewhere(f"The Jupyter kernel {name!r} in {folder} starts {python}, not this environment's "
                              f"{sys.executable}: run `make env` again.")
    return folder


if __name__ == "__main__":
    try:
        print(f"Jupyter kernel {NAME!r}: {kernel_folder()}")
    except KernelElsewhere as error:
        sys.exit(str(error))
