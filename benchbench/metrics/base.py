"""What every metric returns: scores, a signature, and the statistics for intervals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from benchbench.metrics.bootstrap import Interval, ScoreFromSums, bootstrap_interval
from benchbench.metrics.catalogue import MetricInfo
from benchbench.schema import Key

References = Sequence[Any]  # per example: a string/label, or the list of all its references


@dataclass(frozen=True)
class MetricResult:
    """Headline scores, the signature that makes them comparable, and per score the
    per-example sufficient statistics plus how to score resampled sums (for intervals)."""

    scores: dict[str, float]
    signature: str
    stats: dict[str, tuple[np.ndarray, ScoreFromSums]] = field(default_factory=dict)
    info: dict[str, MetricInfo] = field(default_factory=dict)  # entries of scores the catalogue lacks (evaluate:)

    def intervals(self, resamples: int, seed: int) -> dict[str, Interval]:
        out = {}
        for name, (stats, scorer) in self.stats.items():
            interval = bootstrap_interval(stats, scorer, resamples, seed)
            if interval is not None:
                out[name] = interval
        return out


@dataclass(frozen=True)
class Metric:
    fn: Callable[..., MetricResult]
    description: str
    outputs: tuple[str, ...]  # score names it produces (their direction and scale: catalogue.py)
    options: dict[str, Key] = field(default_factory=dict)


def as_reference_lists(references: References) -> list[list[str]]:
    """One list of reference strings per example (a bare string is one reference)."""
    return [[str(r) for r in ref] if isinstance(ref, (list, tuple)) else [str(ref)] for ref in references]
