"""common/machine.py: the machine's description, and the process keeping its freed memory."""
import json
import os
import platform
import subprocess
import sys

import pytest

from common import machine

# a process that frees and re-allocates, again and again, a 48 MB tensor (above glibc's largest mmap threshold, like a batch-128
# membrane [T, B, 12, 15, 15]) and counts the page faults that cost, with or without keep_freed_memory
FAULTS = """
import json, resource, sys, torch
from common.machine import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
for _ in range(15):      # glibc's heap settles on blocks that fit the aligned request, then reuses them
    torch.empty(12_000_000).fill_(1.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.empty(12_000_000).fill_(1.0)
print(json.dumps({"applied": applied, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def faults(mode: str, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True,
                          env={**os.environ, **env})
    return json.loads(done.stdout)


def test_cpu_description_names_the_model_and_its_vector_flags():
    description = machine.cpu_description()
    assert description.endswith("]") and "[" in description
    assert machine.machine()["cpu"] == description


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_kept_memory_is_reused_without_page_faults():
    default, kept = faults("default"), faults("keep")
    assert kept["applied"] and not default["applied"]
    # 5 fresh 48 MB blocks fault in ~58,000 pages; reused ones fault in (nearly) none
    assert default["faults"] > 10_000 and kept["faults"] < default["faults"] / 10


def test_the_environment_can_leave_malloc_as_it_is():
    assert faults("keep", SNN_STUDY_MALLOC="default")["applied"] is False
