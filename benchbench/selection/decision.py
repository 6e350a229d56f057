"""The decision map: for each constraint, the values at which the recommended model changes.

Holding the other constraints where the user put them, each constraint is swept from its
most permissive value to its strictest. The pick can only change where a model starts or
stops fitting, so the values worth trying are the models' own figures on that constraint
(their memory, latency, cost or score). Just past one figure, up to the next, every model
fits or not as at that next figure, so the pick is computed once at each figure, and once
just past the strictest, with the same ranking `recommend` uses; every place where it
changes from one value to the next is a flip. A flip says: with the limit at `at` (or looser, up to the next flip) the
pick is `pick`; stricter than `at`, it is `then` (None: nothing fits). Computed per task and
for the overall ranking (task None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchbench.metrics.catalogue import Catalogue
from benchbench.selection.constraints import CONSTRAINTS, Limits
from benchbench.selection.figures import REMOTE_MEMORY
from benchbench.selection.ranking import Candidate, picks, rank_under


@dataclass(frozen=True)
class Sweep:
    """One constraint the map sweeps: a row of constraints.CONSTRAINTS, or a score limit
    (`metric` set), with which way is stricter (-1: lower limits are stricter)."""

    key: str
    label: str
    unit: str
    field: str
    stricter: int
    metric: str | None = None
    positive: bool = True  # the limit must stay above 0 (the command line refuses 0 and below)

    def figure(self, c: Candidate) -> float | None:
        if self.metric:
            return c.scores.get(self.metric)
        if self.key == "budget_gib" and c.memory_source == REMOTE_MEMORY:
            return None
        return getattr(c, self.field)

    def current(self, limits: Limits) -> float | None:
        return limits.value(self.key, self.metric)

    def with_value(self, limits: Limits, value: float) -> Limits:
        return limits.with_value(self.key, value, self.metric)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "metric": self.metric, "label": self.label, "unit": self.unit,
                "stricter": "below" if self.stricter < 0 else "above"}


def _min_score(metric: str, catalogue: Catalogue) -> Sweep:
    higher = catalogue.higher_is_better(metric)
    return Sweep("min_score", f"{'minimum' if higher else 'maximum'} {metric}", "", "scores", +1 if higher else -1,
                 metric, positive=False)


def constraints_of(base: dict[str, list[Candidate]], limits: Limits, catalogue: Catalogue) -> list[Sweep]:
    """The constraints the page offers for these candidates: memory, latency, cost where some
    model has one or the limit is set, and a minimum score for each metric a task is ranked
    by or that has a limit."""
    everyone = [c for cs in base.values() for c in cs]
    by_key = {c.key: c for c in CONSTRAINTS}
    sweep = [Sweep(c.key, c.label, c.unit, c.field, c.stricter) for c in (by_key[k] for k in MAP_ORDER)]
    metrics = dict.fromkeys([*(cs[0].metric for cs in base.values() if cs), *limits.min_scores])
    return [c for c in sweep + [_min_score(m, catalogue) for m in metrics]
            if c.current(limits) is not None or any(c.figure(x) is not None for x in everyone)]


MAP_ORDER = ("budget_gib", "max_latency_ms", "max_cost_per_1k")  # the map's (and the page's) order of limits


def _sweep(constraint: Sweep, figures: list[float]) -> list[float]:
    """The models' figures from the most permissive to the strictest, then a value past the
    strictest (none where the limit must stay above 0 and the strictest figure is not)."""
    ordered = sorted(set(figures), reverse=constraint.stricter < 0)
    if not ordered:
        return []
    last = ordered[-1]
    if not constraint.positive:
        return ordered + [last + constraint.stricter * max(abs(last), 1.0) / 2]
    return ordered + [last / 2] if last > 0 else ordered


def decision_map(base: dict[str, list[Candidate]], limits: Limits, catalogue: Catalogue) -> list[dict[str, Any]]:
    """Per constraint: its current value and every flip of a task's pick (or the overall
    pick, task None) as the constraint alone tightens (the module docstring says how)."""
    out = []
    for constraint in constraints_of(base, limits, catalogue):
        figures = [f for cs in base.values() for c in cs if not c.excluded and (f := constraint.figure(c)) is not None]
        values = _sweep(constraint, figures)
        chosen = [picks(rank_under(base, constraint.with_value(limits, value), catalogue, order_only=True))
                  for value in values]
        flips = [{"task": task, "at": at, "pick": model, "then": after[task],
                  "text": flip_text(constraint.stricter, at, constraint.unit, task, after[task])}
                 for at, before, after in zip(values, chosen, chosen[1:])
                 for task, model in before.items() if after[task] != model]
        out.append({"constraint": constraint.key, "metric": constraint.metric, "label": constraint.label,
                    "unit": constraint.unit, "stricter": "below" if constraint.stricter < 0 else "above",
                    "current": constraint.current(limits), "flips": flips})
    return out


def flip_text(stricter: int, at: float, unit: str, task: str | None, then: str | None) -> str:
    """"sentiment: under 1.2 GiB the pick becomes smollm2": a flip in words."""
    where = f"{'under' if stricter < 0 else 'above'} {at:.4g}{' ' + unit if unit else ''}"
    becomes = f"the pick becomes {then}" if then else "no model fits"
    return f"{task or 'overall'}: {where} {becomes}"


def possible_picks(candidates: list[Candidate], catalogue: Catalogue) -> list[Candidate]:
    """The candidates that some setting of the constraints makes the pick: those with no better
    ranked candidate that fits whenever they fit. The report pairs every other model with
    each of them, so the page can judge ties for whichever one its inputs make the pick."""
    ranked = [c for c in rank_under({"": candidates}, Limits(), catalogue, order_only=True)[""] if c.rank is not None]
    return [b for i, b in enumerate(ranked) if not any(_fits_whenever(a, b, catalogue) for a in ranked[:i])]


def _fits_whenever(a: Candidate, b: Candidate, catalogue: Catalogue) -> bool:
    """Every memory, latency, cost and score limit that `b` meets, `a` meets too."""
    a_remote, b_remote = a.memory_source == REMOTE_MEMORY, b.memory_source == REMOTE_MEMORY
    memory = a_remote or (not b_remote and (b.memory_gib is None or (
        a.memory_gib is not None and a.memory_gib <= b.memory_gib)))
    latency = a.latency_ms is None or (b.latency_ms is not None and a.latency_ms <= b.latency_ms)
    cost = b.cost_per_1k is None or (a.cost_per_1k is not None and a.cost_per_1k <= b.cost_per_1k)
    scores = all(a.scores.get(m) is None or (b.scores.get(m) is not None and (
        a.scores[m] >= b.scores[m] if catalogue.higher_is_better(m) else a.scores[m] <= b.scores[m]))
        for m in set(a.scores) | set(b.scores))
    return memory and latency and cost and scores
