"""Rank models against the user's limits (constraints.py), per task and across tasks.

For each task the ranking metric (the task type's primary one, or the one asked for) orders the
models, in its direction (catalogue.py). Models with equal scores are ordered by latency, then
memory, then cost, then name, so a faster copy of the same model comes first. Each eligible
model is compared with the best eligible one *paired*, on the examples both scored
(evidence.py): tied with the best unless the Holm-adjusted p-value of the difference is below
0.05; where examples cannot be paired (random weights, no stored statistics), overlapping 95%
intervals count as tied, and the candidate says which rule was used. The Pareto set holds the
models no other model beats on quality, latency, memory and cost at once, where latency counts
only beyond its noise (figures.py; docs/methodology.md).
"""

from __future__ import annotations

import math
from copy import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from benchbench.metrics.catalogue import Catalogue
from benchbench.numbers import finite_tree
from benchbench.selection.constraints import Limits, exclusions
from benchbench.selection.evidence import TIE_RULE, TaskEvidence, versus_best
from benchbench.selection.figures import REMOTE_MEMORY

OVERLAP_RULE = "intervals: tied when the 95% intervals overlap (no stored predictions to pair)"
SPEED_TOLERANCE = 0.10  # two latencies closer than this (relative) are never called different
TIE_BREAK = "equal scores: lower latency first, then less memory, then lower cost, then the model's name"
# why a model is tied with the best although its paired interval excludes 0 (the terminal and the page fill it in)
TIED_DESPITE_INTERVAL = ("the interval excludes 0, but {test} on n={n} gives Holm p={p} >= {alpha}: too few examples "
                         "to call it worse; the bootstrap interval is only approximate on so few")


@dataclass
class Candidate:
    """A model on a task, with every figure a limit or the ranking reads."""

    model: str
    task: str
    metric: str
    score: float
    ci_low: float | None
    ci_high: float | None
    memory_gib: float | None
    memory_source: str
    latency_ms: float | None  # the ranking latency (figures.Latency), p50
    latency_source: str
    parameters: int | None
    n: int | None  # examples the score is over
    latency_low: float | None = None  # its 95% interval
    latency_high: float | None = None
    latency_unit: str = ""
    raw_latency_ms: float | None = None  # the whole batch's or request's p50, beside it
    cost_per_1k: float | None = None  # per 1,000 examples, in the price's currency (served models with a price)
    ttft_ms: float | None = None  # served models: time to first token, p50 over requests
    tpot_ms: float | None = None  # served models: time per output token after the first, p50
    scores: dict[str, float] = field(default_factory=dict)  # every score of the result (thresholds apply)
    baseline: float | None = None  # what a trivial answer scores on the ranking metric (majority class)
    flags: list[str] = field(default_factory=list)  # degenerate outputs
    rank: int | None = None
    tied_with_best: bool = False
    vs_best: dict[str, Any] | None = None  # paired difference from the best: difference, low, high, p_value, p_holm, test, n
    tie_rule: str | None = None
    pareto: bool = False
    excluded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return finite_tree(asdict(self))


def _known(value: float | None) -> float:
    return math.inf if value is None else value


def order_key(c: Candidate, higher: bool) -> tuple[Any, ...]:
    """Best first: the score, then the tie-break (TIE_BREAK)."""
    memory = 0.0 if c.memory_source == REMOTE_MEMORY else _known(c.memory_gib)
    return (-c.score if higher else c.score, _known(c.latency_ms), memory, _known(c.cost_per_1k), c.model)


def speed_order(a: Candidate, b: Candidate) -> int:
    """-1 when `a` is faster than `b` beyond the noise (their intervals apart and at least
    SPEED_TOLERANCE faster), +1 when slower, 0 when they cannot be told apart (or either is unknown)."""
    if a.latency_ms is None or b.latency_ms is None:
        return 0
    for sign, fast, slow in ((-1, a, b), (1, b, a)):
        apart = fast.latency_high is None or slow.latency_low is None or fast.latency_high < slow.latency_low
        if apart and fast.latency_ms <= slow.latency_ms * (1 - SPEED_TOLERANCE):
            return sign
    return 0


def _dominates(a: Candidate, b: Candidate, higher: bool) -> bool:
    """a is at least as good as b on quality, latency (beyond noise), memory and cost (where both
    are known), and better on one."""
    quality = (a.score > b.score) - (a.score < b.score) if higher else (a.score < b.score) - (a.score > b.score)
    orders = [quality, -speed_order(a, b)]
    for x, y in ((a.memory_gib, b.memory_gib), (a.cost_per_1k, b.cost_per_1k)):
        if x is not None and y is not None:
            orders.append((x < y) - (x > y))
    return all(o >= 0 for o in orders) and any(o > 0 for o in orders)


def rank(candidates: list[Candidate], catalogue: Catalogue, evidence: TaskEvidence | None = None,
         order_only: bool = False) -> list[Candidate]:
    """Order eligible candidates best first, mark ties with the best (paired, from `evidence`,
    where the models' examples can be paired) and the Pareto set; the excluded follow.
    `order_only`: ranks alone (what a pick needs: the decision map's sweeps)."""
    eligible = [c for c in candidates if not c.excluded]
    if not eligible:
        return candidates
    higher = catalogue.higher_is_better(eligible[0].metric)
    eligible.sort(key=lambda c: order_key(c, higher))
    if order_only:
        for position, c in enumerate(eligible, start=1):
            c.rank = position
        return eligible + [c for c in candidates if c.excluded]
    best = eligible[0]
    paired = versus_best(evidence, [c.model for c in eligible], best.metric) if evidence else {}
    for position, c in enumerate(eligible, start=1):
        c.rank = position
        verdict = paired.get(c.model)
        if verdict is not None:
            c.tied_with_best, c.tie_rule = bool(verdict["tied"]), TIE_RULE
            c.vs_best = None if position == 1 else {k: v for k, v in verdict.items() if k not in ("best", "tied")}
        else:
            c.tied_with_best, c.tie_rule = position == 1 or _overlap(best, c), OVERLAP_RULE
        c.pareto = not any(_dominates(other, c, higher) for other in eligible if other is not c)
    return eligible + [c for c in candidates if c.excluded]


def _overlap(a: Candidate, b: Candidate) -> bool:
    if None in (a.ci_low, a.ci_high, b.ci_low, b.ci_high):
        return a.score == b.score
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def rank_under(base: dict[str, list[Candidate]], limits: Limits, catalogue: Catalogue,
               evidence: dict[str, TaskEvidence] | None = None, order_only: bool = False) -> dict[str, list[Candidate]]:
    """`base` (each task's candidates before any limit) ranked under `limits`, on copies."""
    per_task = {}
    for name, candidates in base.items():
        copies = [copy(c) for c in candidates]
        for c in copies:
            c.excluded = c.excluded + exclusions(c, limits, catalogue)
        per_task[name] = rank(copies, catalogue, (evidence or {}).get(name), order_only)
    return per_task


def overall(per_task: dict[str, list[Candidate]]) -> list[dict[str, Any]]:
    """Across tasks: mean rank of each model over the tasks where it is eligible."""
    ranks: dict[str, list[int]] = {}
    excluded: dict[str, list[str]] = {}
    for task, candidates in per_task.items():
        for c in candidates:
            if c.rank is not None:
                ranks.setdefault(c.model, []).append(c.rank)
            else:
                excluded.setdefault(c.model, []).append(f"{task}: {'; '.join(c.excluded)}")
    rows = [{"model": m, "mean_rank": sum(r) / len(r), "tasks_ranked": len(r), "tasks_total": len(per_task),
             "excluded_from": excluded.get(m, [])} for m, r in ranks.items()]
    rows.sort(key=lambda r: (-r["tasks_ranked"], r["mean_rank"]))
    for position, row in enumerate(rows, start=1):
        row["rank"] = position
    never = [{"model": m, "mean_rank": None, "tasks_ranked": 0, "tasks_total": len(per_task), "excluded_from": why,
              "rank": None} for m, why in excluded.items() if m not in ranks]
    return rows + never


def picks(per_task: dict[str, list[Candidate]]) -> dict[str | None, str | None]:
    """The recommended model of each task (rank 1; None when nothing fits) and, under the key
    None when there are several tasks, the first of the overall ranking."""
    chosen: dict[str | None, str | None] = {name: next((c.model for c in cs if c.rank == 1), None)
                                            for name, cs in per_task.items()}
    if len(per_task) > 1:
        chosen[None] = next((row["model"] for row in overall(per_task) if row["rank"] == 1), None)
    return chosen
