"""The machine a run ran on: what a record keeps as its provenance, and what the convolution-layout cache
(:mod:`common.networks.layout`) is keyed on, read in one place so both name a machine alike."""
from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch


@functools.lru_cache(maxsize=None)
def cpu_description() -> str:
    """The CPU model and its vector extensions (AVX, AVX-512, AMX, FMA), read once per process."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        first_line = lambda field: text.split(field, 1)[1].splitlines()[0]
        name = first_line("model name").strip(" :\t")
        flags = sorted({f for f in first_line("flags").split() if f.startswith(("avx", "amx", "fma"))})
        return f"{name} [{' '.join(flags)}]"
    except (OSError, IndexError):
        return f"{platform.processor() or platform.machine()} []"


def machine() -> dict:
    """Platform, CPU, cores, torch's threads and the Python release, as a record stores them."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu": cpu_description(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version()}
