"""The user's limits, and the one table of constraints every ranking applies.

Each constraint says which figure of a candidate it reads, which way is stricter, and the words
that explain an exclusion. `recommend`, the decision map and the report's page all apply this
table: the page gets it in its data (report/page_data.py) and fills the same templates with
the same number formatting, so an exclusion reads the same in the terminal and in the browser.

Template fields: {figure} (the candidate's figure, 4 significant digits), {limit} (the
limit, as Python's `g` format writes it), {unit}, {source} (where the figure came from),
{metric} and {op} (for score limits).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from benchbench.errors import BenchbenchError
from benchbench.metrics.catalogue import Catalogue
from benchbench.schema import did_you_mean
from benchbench.selection.figures import REMOTE_MEMORY


@dataclass(frozen=True)
class Limits:
    """The user's constraints: memory budget (GiB), latency limit (ms, on each task's ranking
    latency), the worst score accepted per metric, and the cost limit per 1,000 examples;
    None: no limit."""

    budget_gib: float | None = None
    max_latency_ms: float | None = None
    min_scores: dict[str, float] = field(default_factory=dict)
    max_cost_per_1k: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"budget_gib": self.budget_gib, "max_latency_ms": self.max_latency_ms,
                "min_scores": dict(self.min_scores), "max_cost_per_1k": self.max_cost_per_1k}

    def value(self, key: str, metric: str | None = None) -> float | None:
        return self.min_scores.get(metric) if metric else getattr(self, key)

    def with_value(self, key: str, value: float, metric: str | None = None) -> "Limits":
        if metric:
            return Limits(self.budget_gib, self.max_latency_ms, {**self.min_scores, metric: value},
                          self.max_cost_per_1k)
        return Limits(**{**asdict(self), key: value})


@dataclass(frozen=True)
class Constraint:
    """One kind of limit: the candidate field it reads, which way is stricter (-1: a lower limit
    is stricter), the exclusion texts, and candidates it does not concern (`exempt`: a value of
    the candidate's `exempt_field`, e.g. a served model's memory source)."""

    key: str
    label: str
    unit: str
    field: str
    stricter: int
    over: str
    unknown: str | None = None  # the exclusion of a candidate without the figure (None: it passes)
    exempt_field: str | None = None
    exempt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CONSTRAINTS = (  # in the order exclusions are listed
    Constraint("max_cost_per_1k", "cost limit", "per 1k examples", "cost_per_1k", -1,
               "costs {figure} per 1k examples > {limit}",
               unknown="cost unknown (no price_per_million_tokens for this model, or no token counts)"),
    Constraint("budget_gib", "memory budget", "GiB", "memory_gib", -1, "needs {figure} GiB > {limit} GiB ({source})",
               unknown="memory unknown (not measured, no shape recorded to estimate it)",
               exempt_field="memory_source", exempt=REMOTE_MEMORY),
    Constraint("max_latency_ms", "latency limit", "ms", "latency_ms", -1,
               "latency {figure} {unit} > {limit} ms ({source})"),
)
SCORE_OVER = "{metric} {figure} {op} {limit}"
SOURCE_FIELDS = {"memory_gib": "memory_source", "latency_ms": "latency_source"}
UNIT_FIELDS = {"latency_ms": "latency_unit"}


def figure_text(value: float) -> str:
    """A candidate's figure in an exclusion: 4 significant digits (report/rank.js: pyFormat)."""
    return f"{value:.4g}"


def limit_text(value: float) -> str:
    return f"{value:g}"


def exclusions(candidate: Any, limits: Limits, catalogue: Catalogue) -> list[str]:
    """Why `candidate` (any object with the constraint fields and `scores`) is outside `limits`."""
    why = []
    for constraint in CONSTRAINTS:
        limit = limits.value(constraint.key)
        if limit is None or (constraint.exempt_field and getattr(candidate, constraint.exempt_field) == constraint.exempt):
            continue
        figure = getattr(candidate, constraint.field)
        if figure is None:
            if constraint.unknown:
                why.append(constraint.unknown)
        elif figure > limit:
            why.append(constraint.over.format(
                figure=figure_text(figure), limit=limit_text(limit),
                source=getattr(candidate, SOURCE_FIELDS.get(constraint.field, ""), ""),
                unit=getattr(candidate, UNIT_FIELDS.get(constraint.field, ""), "")))
    for metric, threshold in limits.min_scores.items():
        score, higher = candidate.scores.get(metric), catalogue.higher_is_better(metric)
        if score is not None and ((higher and score < threshold) or (not higher and score > threshold)):
            why.append(SCORE_OVER.format(metric=metric, figure=figure_text(score), op="<" if higher else ">",
                                         limit=limit_text(threshold)))
    return why


def check_request(tasks: Sequence[str], scored: dict[str | None, list[str]], task: str | None, metric: str | None,
                  min_score_args: Sequence[str], primary: dict[str, str]) -> dict[str, float]:
    """--task, --metric and --min-score checked against what is stored (`scored`: the metrics
    with a score, per task and under None for any task); the thresholds per metric. A bare
    number applies to the ranking metric, so it needs --task or --metric (a score of 30 means
    something else for BLEU, accuracy and bits per byte)."""
    if task is not None and task not in tasks:
        raise BenchbenchError(f"--task: no task named {task!r} in the results; "
                              + did_you_mean(task, list(tasks), "tasks with results"))
    known = scored.get(task, [])
    thresholds: dict[str, float] = {}
    for given in min_score_args:
        name, _, number = given.rpartition("=")
        if not name:
            if not (metric or task):
                raise BenchbenchError(f"--min-score {given}: every task has its own metric and scale; write "
                                      f"METRIC=VALUE (e.g. accuracy=0.7), or add --task or --metric")
            name = metric or primary[task]  # type: ignore[index]
        try:
            value = float(number)
        except ValueError:
            raise BenchbenchError(f"--min-score {given}: {number!r} is not a number") from None
        if not math.isfinite(value):
            raise BenchbenchError(f"--min-score {given}: give a finite number")
        thresholds[name] = value
    for name, flag in [(metric, "--metric"), *((n, "--min-score") for n in thresholds)]:
        if name is not None and name not in known:
            raise BenchbenchError(f"{flag}: no {name!r} score in the results"
                                  + (f" of task {task!r}" if task else "") + "; "
                                  + did_you_mean(name, known, "metrics with scores"))
    return thresholds
