"""What the two executors that run on this machine share: the device is this machine's, and
jobs run one at a time."""

from __future__ import annotations

from typing import Any

SHARE_FOR_WEIGHTS = 0.9  # kept models' weights may fill this share of the memory they live in


def _memory_gib(device: str) -> tuple[float | None, str]:
    """The memory models live in on this machine, in GiB: the GPU's total, or the host's
    available memory (None where it cannot be read)."""
    if device == "cuda":
        try:
            from benchbench.measure.nvml import gpu_facts

            return gpu_facts(0)["gpu_memory_mib"] / 1024, "GPU"
        except Exception:  # noqa: BLE001 - no NVML: the weights are not judged
            return None, "GPU"
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            available = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:"))
        return available / 1024**2, "host memory available"
    except (OSError, StopIteration, ValueError, IndexError):
        return None, "host"


class OnThisMachine:
    """Base of the local executors (process.py, inline.py)."""

    parallel = False
    remote = False

    def device(self, requested: str) -> str:
        """This machine's: 'auto' is cuda when torch sees a GPU; cuda without one is an error."""
        from benchbench.backends.hf.loading import resolve_device

        return resolve_device(requested)

    def describe(self) -> dict[str, Any]:
        """The run's environment already describes this machine."""
        return {"executor": "local"}

    def holds_at_once(self, device: str, weights_gib: list[float]) -> str | None:
        """Whether models of these weights fit in this machine's memory together (a race keeps
        every racing model loaded): None when they do, else why not. The GPU's memory from NVML
        (the driver opens no CUDA context), the host's from what the system says is available."""
        needed = sum(weights_gib)
        have, what = _memory_gib(device)
        if have is None or needed <= SHARE_FOR_WEIGHTS * have:
            return None
        return (f"the racing models' weights need {needed:.1f} GiB together, more than {SHARE_FOR_WEIGHTS:.0%} of "
                f"the {what}'s {have:.1f} GiB")

    def close(self) -> None:
        """Nothing to let go of: each job ends its own worker (process.py) or runs here (inline.py)."""
