"""`recommend`: the models ranked under the user's limits (ranking.py), the decision map
(decision.py), how ties were judged, which examples each task was compared on, and the
cautions a careful reader would add (few examples, a pick tied with others, a score no better
than a trivial answer, degenerate outputs, a thin overall margin), as one typed result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchbench.metrics.bootstrap import CONFIDENCE
from benchbench.metrics.catalogue import Catalogue
from benchbench.selection.constraints import Limits
from benchbench.selection.decision import decision_map
from benchbench.selection.evidence import TIE_RULE, TaskEvidence
from benchbench.selection.examplesets import ExampleSet, example_set_notes
from benchbench.selection.ranking import OVERLAP_RULE, SPEED_TOLERANCE, TIE_BREAK, Candidate, overall, rank_under

FEW_EXAMPLES = 30  # below this many examples a pick is said to rest on few
THIN_MARGIN = 0.5  # an overall lead in mean rank below this is called thin
UNITS = {"memory": "GiB", "latency": "ms (per task: its ranking latency, see latency_unit)",
         "cost": "per 1,000 examples, in the price's currency"}


@dataclass
class Recommendation:
    """What `recommend` answers: per task its candidates ranked (the excluded last, with the
    reasons), the overall ranking, the tasks where nothing fits, the decision map, cautions
    per task (and under None, overall), and the example sets compared."""

    limits: Limits
    metric: str | None
    tasks: dict[str, list[Candidate]]
    overall: list[dict[str, Any]] | None
    decision_map: list[dict[str, Any]]
    cautions: dict[str | None, list[str]] = field(default_factory=dict)
    example_sets: list[ExampleSet] = field(default_factory=list)

    @property
    def nothing_fits(self) -> list[str]:
        return [name for name, cs in self.tasks.items() if not any(c.rank for c in cs)]

    def pick(self, task: str | None = None) -> str | None:
        """The recommended model of a task, or overall (None) where there are several tasks."""
        if task is None and self.overall:
            return next((row["model"] for row in self.overall if row["rank"] == 1), None)
        name = task if task is not None else next(iter(self.tasks), None)
        return next((c.model for c in self.tasks.get(name, []) if c.rank == 1), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as `recommend --format json` prints it."""
        return {
            "constraints": {**self.limits.to_dict(), "metric": self.metric, "units": UNITS},
            "tasks": {name: [c.to_dict() for c in cs] for name, cs in self.tasks.items()},
            "overall": self.overall,
            "nothing_fits": self.nothing_fits,
            "decision_map": self.decision_map,
            "cautions": {name or "overall": lines for name, lines in self.cautions.items() if lines},
            "statistics": {"tie_rule": TIE_RULE, "fallback": OVERLAP_RULE, "confidence": CONFIDENCE,
                           "multiple_comparisons": "Holm, over the models compared with the best of each task",
                           "tests": "McNemar exact for right/wrong metrics, paired permutation test otherwise; "
                                    "intervals: paired bootstrap",
                           "tie_break": TIE_BREAK,
                           "speed": f"latencies differ only when their 95% intervals are apart and one is at least "
                                    f"{SPEED_TOLERANCE:.0%} lower"},
            "data": {"notes": example_set_notes(self.example_sets),
                     "selections": [s.to_dict() for s in self.example_sets]},
        }


def recommend(base: dict[str, list[Candidate]], limits: Limits, catalogue: Catalogue,
              evidence: dict[str, TaskEvidence], metric: str | None = None, several_tasks: bool = True,
              example_sets: list[ExampleSet] | None = None) -> Recommendation:
    """Rank `base` (each task's candidates before any limit) under `limits`; the overall ranking
    where `several_tasks`."""
    per_task = rank_under(base, limits, catalogue, evidence)
    ranked_overall = overall(per_task) if several_tasks else None
    cautions: dict[str | None, list[str]] = {name: task_cautions(cs) for name, cs in per_task.items()}
    if ranked_overall:
        cautions[None] = overall_cautions(ranked_overall, per_task)
    return Recommendation(limits, metric, per_task, ranked_overall, decision_map(base, limits, catalogue), cautions,
                          list(example_sets or []))


def task_cautions(candidates: list[Candidate]) -> list[str]:
    """What to keep in mind about a task's pick."""
    pick = next((c for c in candidates if c.rank == 1), None)
    if pick is None:
        return []
    out = []
    if pick.n is not None and pick.n < FEW_EXAMPLES:
        out.append(f"the pick rests on only {pick.n} examples: a few examples either way can change it")
    tied = [c.model for c in candidates if c.rank and c.rank > 1 and c.tied_with_best]
    if tied:
        out.append(f"{pick.model} is tied with {', '.join(tied)}: the data cannot tell them apart on {pick.metric}")
    if pick.baseline is not None and pick.score <= pick.baseline:
        out.append(f"{pick.metric} {pick.score:.4g} is no better than always answering the most common label "
                   f"({pick.baseline:.4g})")
    out += [f"{pick.model}: {flag}" for flag in pick.flags]
    return out


def overall_cautions(rows: list[dict[str, Any]], per_task: dict[str, list[Candidate]]) -> list[str]:
    """A thin overall lead: the runner-up (ranked on as many tasks) within THIN_MARGIN of the
    pick's mean rank, or tied with the pick in every task where both are ranked."""
    ranked = [row for row in rows if row["rank"] is not None]
    if len(ranked) < 2 or ranked[1]["tasks_ranked"] != ranked[0]["tasks_ranked"]:
        return []  # ranked on fewer tasks, the runner-up is not compared on the same footing
    first, second = ranked[0], ranked[1]
    gap = second["mean_rank"] - first["mean_rank"]
    both = [cs for cs in per_task.values() if {c.model for c in cs if c.rank} >= {first["model"], second["model"]}]
    tied_everywhere = both and all(next(c for c in cs if c.model == second["model"]).tied_with_best
                                   and next(c for c in cs if c.model == first["model"]).rank == 1 for cs in both)
    if gap < THIN_MARGIN or tied_everywhere:
        return [f"the overall pick {first['model']} leads {second['model']} by {gap:.2g} in mean rank "
                f"({first['mean_rank']:.2f} vs {second['mean_rank']:.2f}), a margin the data cannot support on its "
                f"own: choose by the task that matters most"]
    return []
