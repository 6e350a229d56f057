"""The environment a result was measured in, and process memory."""

from __future__ import annotations

import os
import platform
import resource
import sys
from importlib import metadata
from typing import Any

import torch

from benchbench.measure.allocator import host_allocator, release_freed_memory

_LIBRARIES = ("torch", "transformers", "datasets", "tokenizers", "accelerate", "gguf", "numpy",
              "scikit-learn", "sacrebleu", "rouge-score", "nvidia-ml-py", "benchbench")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(device: str) -> dict[str, Any]:
    """Versions, platform and device facts, recorded with every run."""
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "host_allocator": host_allocator(),
        "device": device,
        "cuda_available": torch.cuda.is_available(),
        "libraries": {name: _version(name) for name in _LIBRARIES},
    }
    if device == "cuda":
        env |= {"cuda_version": torch.version.cuda, "cudnn_version": torch.backends.cudnn.version(),
                "cuda_device_order": os.environ.get("CUDA_DEVICE_ORDER")} | _gpu_identity()
    return env


def _gpu_identity() -> dict[str, Any]:
    """Name, memory and driver of the GPU the run uses ("cuda" is cuda:0), from NVML, which
    does not create a CUDA context: with process isolation the parent process stays off
    the GPU, so it neither holds GPU memory nor shows up as another process there. Without
    NVML, torch's device properties (this does initialise CUDA in this process)."""
    try:
        from benchbench.measure.nvml import gpu_facts

        return gpu_facts(0)
    except Exception as exc:  # NVML missing or not usable: say so, use torch's facts
        props = torch.cuda.get_device_properties(0)
        return {"gpu_name": props.name, "gpu_memory_mib": props.total_memory / 1024**2,
                "nvml": f"unavailable: {exc}"}


def reset_peak_rss() -> bool:
    """Reset this process's resident-memory high-water mark to its current size, so the
    next :func:`peak_rss_mib` covers only what follows (Linux >= 4.0: "5" written to
    /proc/self/clear_refs resets VmHWM). Memory the allocator keeps after an earlier task
    freed it is handed back first, so that it does not count. False where the reset is not
    possible: the peak is then the process's since it started."""
    release_freed_memory()
    if _vm_hwm_kib() is None:  # the reset is only visible through VmHWM
        return False
    try:
        with open("/proc/self/clear_refs", "w") as control:
            control.write("5")
    except OSError:
        return False
    return True


def peak_rss_mib() -> float:
    """Peak resident memory of this process since the last successful :func:`reset_peak_rss`
    (or since it started), in MiB.

    Read from VmHWM in /proc/self/status, which the reset acts on. Not from
    ``getrusage().ru_maxrss``: the kernel also raises that from the high-water mark when any
    thread of the process exits, so a reset peak would come back whenever a thread ends.
    Elsewhere (macOS), ru_maxrss: process-wide (bytes on macOS, KiB on Linux)."""
    hwm = _vm_hwm_kib()
    if hwm is not None:
        return hwm / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024**2


def _vm_hwm_kib() -> int | None:
    """VmHWM (peak resident set, KiB) from /proc/self/status; None where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
