"""Paired comparisons between the models of a task, from their per-example statistics.

Every model of a task answered the same examples, so two models are compared example by
example (statistics.py), on the examples both scored, from the per-example sufficient
statistics stored when the task was scored (the same statistics its 95% interval was drawn
from). The comparisons are a pure function of those statistics and the run's seed, so every
reader (`load_comparisons`, `recommend`, the report) and racing between rounds get the same
figures. The verdict "tied with the best" is Holm's rule over the comparisons of one task and
metric: tied unless the Holm-adjusted p-value is below 0.05 (docs/statistics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchbench.metrics.catalogue import Catalogue
from benchbench.metrics.sums import ExampleStats
from benchbench.selection.statistics import ALPHA, PairedDifference, compare_with, holm
from benchbench.spec import DEFAULT_SEED

TIE_RULE = f"paired: tied unless the Holm-adjusted p-value of the difference from the best is below {ALPHA:.2g}"
DEFAULT_RESAMPLES = 1000


@dataclass
class TaskEvidence:
    """One task's per-example statistics per model and metric, and each model's bootstrap
    (resamples, seed): enough to compare any two of its models on the examples both scored."""

    task: str
    stats: dict[str, dict[str, ExampleStats]]  # model: metric: its per-example statistics
    bootstrap: dict[str, tuple[int, int]] = field(default_factory=dict)  # model: (resamples, seed)
    catalogue: Catalogue = field(default_factory=Catalogue)
    _compared: dict[tuple[Any, ...], PairedDifference | None] = field(default_factory=dict, repr=False)

    @property
    def models(self) -> list[str]:
        return list(self.stats)

    def examples_of(self, model: str) -> set[int]:
        """The examples a model has statistics for (those of its first metric)."""
        found = next(iter(self.stats.get(model, {}).values()), None)
        return set() if found is None else set(found.indices.tolist())

    def compare(self, model: str, reference: str, metric: str,
                among: tuple[int, ...] | None = None) -> PairedDifference | None:
        """`model` minus `reference` on `metric`, over the examples both scored (of `among`,
        when given); None when they share fewer than 2 or either lacks the metric's statistics."""
        return self.compare_with([model], reference, metric, among)[model]

    def compare_with(self, models: list[str], reference: str, metric: str,
                     among: tuple[int, ...] | None = None) -> dict[str, PairedDifference | None]:
        """Each of `models` against `reference`, as `compare` does one (models that share their
        examples with the reference are compared together: statistics.compare_with). Kept:
        recommend, the decision map and the report's pairs ask for the same comparisons."""
        wanted = [m for m in models if (m, reference, metric, among) not in self._compared]
        b = self.stats.get(reference, {}).get(metric)
        groups: dict[bytes, list[tuple[str, np.ndarray]]] = {}
        for model in wanted:
            a = self.stats.get(model, {}).get(metric)
            if a is None or b is None:
                self._compared[(model, reference, metric, among)] = None
                continue
            common = np.intersect1d(a.indices, b.indices)
            if among is not None:
                common = np.intersect1d(common, np.asarray(among, dtype=np.int64))
            groups.setdefault(common.tobytes(), []).append((model, common))
        resamples, seed = self.bootstrap.get(reference, (DEFAULT_RESAMPLES, DEFAULT_SEED))
        for members in groups.values():
            common = members[0][1]
            found = [None] * len(members) if len(common) < 2 else compare_with(
                (b.rows(common), b.scorer), [(self.stats[m][metric].rows(common), self.stats[m][metric].scorer)
                                             for m, _ in members], resamples or DEFAULT_RESAMPLES, seed)
            for (model, _), difference in zip(members, found):
                self._compared[(model, reference, metric, among)] = difference
        return {m: self._compared[(m, reference, metric, among)] for m in models}

    def score(self, model: str, metric: str, indices: tuple[int, ...]) -> float | None:
        """The model's `metric` over the examples `indices` (all must be among its statistics;
        None for fewer than 2 or a metric without statistics)."""
        found = self.stats.get(model, {}).get(metric)
        if found is None or len(indices) < 2:
            return None
        return found.score(tuple(sorted(indices)))


def versus_best(evidence: TaskEvidence, ranked: list[str], metric: str) -> dict[str, dict[str, Any]]:
    """Each model of `ranked` (best first) against the first on `metric`: the paired
    difference, its interval, p-values (raw and Holm-adjusted over these comparisons) and the
    verdict. Models that cannot be paired are left out; the best is tied with itself."""
    if not ranked:
        return {}
    best = ranked[0]
    paired = {model: d for model, d in evidence.compare_with(ranked[1:], best, metric).items() if d is not None}
    adjusted = dict(zip(paired, holm([d.p_value for d in paired.values()])))
    out = {model: {**d.to_dict(), "best": best, "p_holm": adjusted[model], "tied": adjusted[model] >= ALPHA}
           for model, d in paired.items()}
    out[best] = {"best": best, "difference": 0.0, "tied": True}
    return out
