"""Two models of one task compared on the examples both scored, from their stored examples.

The task's own scoring turns each model's examples into per-example statistics (the ones its
95% interval was drawn from), and statistics.py compares them. Used by comparisons.py (the
results a store holds) and by racing (run/race.py, between rounds of a run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchbench.metrics import DIRECTION
from benchbench.metrics.bootstrap import ScoreFromSums
from benchbench.statistics import ALPHA, PairedDifference, compare, holm
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.base import ExampleResult, Scoring, TaskScores

TIE_RULE = f"paired: tied unless the Holm-adjusted p-value of the difference from the best is below {ALPHA:.2g}"


@dataclass
class TaskEvidence:
    """One task's stored examples per model, and how the task scores them: enough to compare
    any two of its models on the examples both scored."""

    task: str
    task_type: str
    examples: dict[str, dict[int, ExampleResult]]  # model: example index: stored example
    settings: dict[str, dict[str, Any]]  # model: the task's resolved settings for it
    scoring: dict[str, Scoring]  # model: its metrics, metric options, resamples and seed
    _scored: dict[tuple[str, tuple[int, ...]], TaskScores] = field(default_factory=dict, repr=False)
    _compared: dict[tuple[Any, ...], PairedDifference | None] = field(default_factory=dict, repr=False)

    def compare(self, model: str, reference: str, metric: str,
                among: tuple[int, ...] | None = None) -> PairedDifference | None:
        """`model` minus `reference` on `metric`, over the examples both scored (of `among`,
        when given); None when they share fewer than 2 or the metric has no per-example
        statistics. Kept: recommend and the report's pairs ask for the same comparisons."""
        common = set(self.examples.get(model, {})) & set(self.examples.get(reference, {}))
        common = tuple(sorted(common if among is None else common & set(among)))
        key = (model, reference, metric, common)
        if key not in self._compared:
            a, b = self.statistics_of(model, metric, common), self.statistics_of(reference, metric, common)
            scoring = self.scoring[reference]
            self._compared[key] = None if a is None or b is None else \
                compare(a, b, scoring.resamples or 1000, scoring.seed)  # (the permutation test draws its own count)
        return self._compared[key]

    def score(self, model: str, metric: str, indices: tuple[int, ...]) -> float | None:
        """The model's `metric` over the examples `indices` (all stored for it; None for
        fewer than 2 or a metric without per-example statistics)."""
        found = self.statistics_of(model, metric, tuple(sorted(indices)))
        if found is None:
            return None
        stats, score_from_sums = found
        return float(score_from_sums(np.asarray(stats, dtype=np.float64).reshape(len(indices), -1).sum(axis=0)[None, :])[0])

    def statistics_of(self, model: str, metric: str, indices: tuple[int, ...]) -> tuple[np.ndarray, ScoreFromSums] | None:
        """The per-example statistics of `metric` for `model` over `indices`, and their scoring."""
        return self.scored(model, indices).stats.get(metric) if len(indices) >= 2 else None

    def scored(self, model: str, indices: tuple[int, ...]) -> TaskScores:
        """The task's figures for `model` over the examples `indices` (no intervals), kept."""
        key = (model, indices)
        if key not in self._scored:
            results = [self.examples[model][i] for i in indices]
            scoring = self.scoring[model]
            no_intervals = Scoring(scoring.metrics, scoring.metric_options, 0, scoring.seed)
            self._scored[key] = TASK_TYPES[self.task_type].score(results, self.settings[model], no_intervals)
        return self._scored[key]


def versus_best(evidence: TaskEvidence, scores: dict[str, float], metric: str) -> dict[str, dict[str, Any]]:
    """Each model of `scores` (model: its score) against the best of them on `metric`: the
    paired difference, its interval, p-values (raw and Holm-adjusted over these comparisons)
    and the verdict. Models that cannot be paired are left out; the best is tied with itself."""
    higher = DIRECTION.get(metric, True)
    ranked = sorted(scores, key=lambda m: -scores[m] if higher else scores[m])
    if not ranked:
        return {}
    best = ranked[0]
    paired = {model: d for model in ranked[1:] if (d := evidence.compare(model, best, metric)) is not None}
    adjusted = dict(zip(paired, holm([d.p_value for d in paired.values()])))
    out = {model: {**d.to_dict(), "best": best, "p_holm": adjusted[model], "tied": adjusted[model] >= ALPHA}
           for model, d in paired.items()}
    out[best] = {"best": best, "difference": 0.0, "tied": True}
    return out
