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

from dataclasses import dataclass, replace
from typing import Any, Callable

from benchbench.metrics import DIRECTION
from benchbench.ranking import REMOTE_MEMORY, Candidate, Limits, picks, rank_under


@dataclass(frozen=True)
class Constraint:
    """One constraint the map sweeps: how to read a candidate's figure for it, how to set it in
    Limits, and which way is stricter (-1: lower limits are stricter, +1: higher ones)."""

    key: str
    label: str
    unit: str
    figure: Callable[[Candidate], float | None]
    with_value: Callable[[Limits, float], Limits]
    stricter: int
    metric: str | None = None
    positive: bool = True  # the limit must stay above 0 (the command line refuses 0 and below)

    def current(self, limits: Limits) -> float | None:
        return limits.min_scores.get(self.metric) if self.metric else getattr(limits, _LIMIT_FIELDS[self.key])


_LIMIT_FIELDS = {"budget_gib": "budget_gb", "max_latency_ms": "max_latency_ms", "max_cost_per_1k": "max_cost_per_1k"}


def _memory(c: Candidate) -> float | None:
    return None if c.memory_source == REMOTE_MEMORY else c.memory_gib


def _min_score(metric: str) -> Constraint:
    higher = DIRECTION.get(metric, True)
    return Constraint("min_score", f"{'minimum' if higher else 'maximum'} {metric}", "", lambda c: c.scores.get(metric),
                      lambda limits, v: replace(limits, min_scores={**limits.min_scores, metric: v}),
                      +1 if higher else -1, metric, positive=False)


def constraints_of(base: dict[str, list[Candidate]], limits: Limits) -> list[Constraint]:
    """The constraints the page offers for these candidates: memory, latency, cost where some
    model has one or the limit is set, and a minimum score for each metric a task is ranked
    by or that has a limit."""
    everyone = [c for cs in base.values() for c in cs]
    sweep = [Constraint("budget_gib", "memory budget", "GiB", _memory, lambda lim, v: replace(lim, budget_gb=v), -1),
             Constraint("max_latency_ms", "latency limit", "ms", lambda c: c.latency_ms,
                        lambda lim, v: replace(lim, max_latency_ms=v), -1),
             Constraint("max_cost_per_1k", "cost limit", "per 1k examples", lambda c: c.cost_per_1k,
                        lambda lim, v: replace(lim, max_cost_per_1k=v), -1)]
    metrics = dict.fromkeys([*(cs[0].metric for cs in base.values() if cs), *limits.min_scores])
    return [c for c in sweep + [_min_score(m) for m in metrics]
            if c.current(limits) is not None or any(c.figure(x) is not None for x in everyone)]


def _sweep(constraint: Constraint, figures: list[float]) -> list[float]:
    """The models' figures from the most permissive to the strictest, then a value past the
    strictest (none where the limit must stay above 0 and the strictest figure is not)."""
    ordered = sorted(set(figures), reverse=constraint.stricter < 0)
    if not ordered:
        return []
    last = ordered[-1]
    if not constraint.positive:
        return ordered + [last + constraint.stricter * max(abs(last), 1.0) / 2]
    return ordered + [last / 2] if last > 0 else ordered


def decision_map(base: dict[str, list[Candidate]], limits: Limits) -> list[dict[str, Any]]:
    """Per constraint: its current value and every flip of a task's pick (or the overall
    pick, task None) as the constraint alone tightens (the module docstring says how)."""
    out = []
    for constraint in constraints_of(base, limits):
        figures = [f for cs in base.values() for c in cs if not c.excluded and (f := constraint.figure(c)) is not None]
        values = _sweep(constraint, figures)
        chosen = [picks(rank_under(base, constraint.with_value(limits, value))) for value in values]
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


def possible_picks(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates that some setting of the constraints makes the pick: those with no better
    ranked candidate that fits whenever they fit. The report pairs every other model with
    each of them, so the page can judge ties for whichever one its inputs make the pick."""
    ranked = [c for c in rank_under({"": candidates}, Limits())[""] if c.rank is not None]
    return [b for i, b in enumerate(ranked) if not any(_fits_whenever(a, b) for a in ranked[:i])]


def _fits_whenever(a: Candidate, b: Candidate) -> bool:
    """Every memory, latency, cost and score limit that `b` meets, `a` meets too."""
    a_remote, b_remote = a.memory_source == REMOTE_MEMORY, b.memory_source == REMOTE_MEMORY
    memory = a_remote or (not b_remote and (b.memory_gib is None or (
        a.memory_gib is not None and a.memory_gib <= b.memory_gib)))
    latency = a.latency_ms is None or (b.latency_ms is not None and a.latency_ms <= b.latency_ms)
    cost = b.cost_per_1k is None or (a.cost_per_1k is not None and a.cost_per_1k <= b.cost_per_1k)
    scores = all(a.scores.get(m) is None or (b.scores.get(m) is not None and (
        a.scores[m] >= b.scores[m] if DIRECTION.get(m, True) else a.scores[m] <= b.scores[m]))
        for m in set(a.scores) | set(b.scores))
    return memory and latency and cost and scores
