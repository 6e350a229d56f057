"""Wall-clock timing with perf_counter, synchronising CUDA first so GPU work is counted."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch


class Stopwatch:
    """Context manager: ``with Stopwatch(device) as sw: ...; sw.seconds``."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.seconds = 0.0
        self._start = 0.0

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def __enter__(self) -> "Stopwatch":
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._start


@dataclass(frozen=True)
class TaskMeasurement:
    """Cost of one model x task: how long loading and scoring took and at what rate."""

    load_seconds: float
    task_seconds: float
    examples: int
    examples_per_second: float
    peak_rss_mib: float
    gpu_memory: str  # why GPU memory is absent, until NVML sampling records it

    @classmethod
    def from_values(cls, load_seconds: float, task_seconds: float, examples: int,
                    peak_rss_mib: float, device: str) -> "TaskMeasurement":
        rate = examples / task_seconds if task_seconds > 0 else float("nan")
        reason = ("not measured: device is cpu" if device == "cpu"
                  else "not measured yet: NVML sampling is not implemented in this version")
        return cls(load_seconds, task_seconds, examples, rate, peak_rss_mib, reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
