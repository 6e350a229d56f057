"""The host allocator setting for CPU runs (measure/allocator.py), checked in a fresh process:
freed large blocks are reused without page faults once kept, and handed back on release."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import pytest

from benchbench.measure.system import environment
from tests.helpers import load

CHILD = textwrap.dedent("""
    import json, resource, torch
    from benchbench.measure import allocator

    def faults_of_reused_block():
        torch.ones(64 * 1024**2 // 4)  # allocated and freed once before counting
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            torch.ones(64 * 1024**2 // 4)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    def resident_mib():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    out = {"default": allocator.host_allocator(), "faults_default": faults_of_reused_block()}
    out["kept"] = allocator.keep_freed_memory()
    out["faults_kept"] = faults_of_reused_block()
    out["described"] = allocator.host_allocator()
    torch.ones(512 * 1024**2 // 4)
    out["resident_kept"] = resident_mib()
    allocator.release_freed_memory()
    out["resident_released"] = resident_mib()
    print(json.dumps(out))
""")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting exists for glibc only")
def test_kept_memory_is_reused_without_page_faults_and_handed_back():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert seen["default"] == "glibc, default"
    # 64 MiB is 16,384 pages: by default each of the 10 reuses faults them in again; kept, the
    # block is reused (now and then a small allocation takes the start of the freed block and
    # the next one comes from fresh memory once)
    assert seen["faults_default"] > 10 * 16_000
    assert seen["kept"] is True and seen["described"].startswith("glibc, freed memory kept for reuse")
    assert seen["faults_kept"] < 2 * 16_384
    assert seen["resident_kept"] - seen["resident_released"] > 400  # the freed 512 MiB went back


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting exists for glibc only")
def test_a_model_loaded_on_the_cpu_keeps_freed_memory_and_its_results_say_so(tiny_llama):
    load(tiny_llama)
    assert environment("cpu")["host_allocator"].startswith("glibc, freed memory kept for reuse")
