"""The machine a run ran on: what a record keeps as its provenance, and what the convolution-layout cache
(:mod:`common.networks.layout`) is keyed on, read in one place so both name a machine alike; and the one setting
of the process that every forward pass asks for (:func:`keep_freed_memory`)."""
from __future__ import annotations

import ctypes
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


ENV_ALLOCATOR = "SNN_STUDY_MALLOC"   # "default": leave glibc's malloc as it is
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4   # glibc's mallopt parameters (malloc.h)


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for the next step instead of handing it back to the kernel.

    Why: a spiking layer run over all time bins allocates ``[T, B, ...]`` tensors of tens of MB every training step
    (membrane, spikes, their gradients). Above glibc's mmap threshold (at most 32 MB) each one is mapped afresh and
    page-faulted in again, page by page: ~35,000 page faults per batch-128 step of the N-MNIST spiking CNN, whose
    element-wise neuron updates then ran ~4x slower than on memory already touched (torch.profiler). PyTorch's CPU
    tuning guide suggests jemalloc or tcmalloc for the same reason; this needs no extra library. It changes where
    memory comes from, never a number. Linux with glibc only; elsewhere, or with ``SNN_STUDY_MALLOC=default``,
    nothing changes. Returns whether it applied (once per process)."""
    if os.environ.get(ENV_ALLOCATOR) == "default" or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # no mmap for large blocks (they come from the heap and are reused), and the heap's top is not trimmed below 1 GB
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
