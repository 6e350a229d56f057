"""Latency distributions: mean, percentiles and spread of a list of durations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Durations in milliseconds. Percentiles use linear interpolation (numpy default);
    stdev is the sample standard deviation (ddof=1; 0 for a single value)."""

    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> "LatencyStats | None":
        if not len(seconds):
            return None
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        p50, p90, p95, p99 = np.percentile(ms, [50, 90, 95, 99])
        return cls(count=len(ms), mean_ms=float(ms.mean()), p50_ms=float(p50), p90_ms=float(p90),
                   p95_ms=float(p95), p99_ms=float(p99), stdev_ms=float(ms.std(ddof=1)) if len(ms) > 1 else 0.0,
                   min_ms=float(ms.min()), max_ms=float(ms.max()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
