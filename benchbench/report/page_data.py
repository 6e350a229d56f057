"""What the report's page knows, as one JSON-ready dict embedded in the HTML: every model's
figures per task before any constraint, the paired comparisons the page needs to judge ties
for any pick its inputs can make, the constraints given on the command line, the decision map
computed here, and the examples (examples.py). The page's script ranks from this data alone,
with the rules of ranking.py (the browser tests check the two agree)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchbench.decision import constraints_of, possible_picks
from benchbench.metrics import DIRECTION
from benchbench.numbers import finite_tree
from benchbench.ranking import OVERLAP_RULE, REMOTE_MEMORY, Candidate, Limits
from benchbench.report.examples import examples_of
from benchbench.statistics import ALPHA
from benchbench.store import Store
from benchbench.tasks.paired import TIE_RULE, TaskEvidence

_CANDIDATE_FIELDS = ("model", "score", "ci_low", "ci_high", "n", "memory_gib", "memory_source", "latency_ms",
                     "latency_source", "cost_per_1k", "parameters", "scores", "excluded")


def page_data(store: Store, frame: pd.DataFrame, base: dict[str, list[Candidate]], limits: Limits,
              ranking: dict[str, Any], evidence: dict[str, TaskEvidence]) -> dict[str, Any]:
    """The embedded data: `base` (ranking.task_candidates of `frame`) unconstrained, `ranking`
    (recommendation.recommend under `limits`) for its decision map, the examples from `store`."""
    return finite_tree({
        "models": list(dict.fromkeys(frame["model"])),
        "tasks": [_task(name, candidates, frame, evidence.get(name)) for name, candidates in base.items()],
        "limits": limits.to_dict(),
        "constraints": [{"key": c.key, "metric": c.metric, "label": c.label, "unit": c.unit,
                         "stricter": "below" if c.stricter < 0 else "above"} for c in constraints_of(base, limits)],
        "decision_map": ranking["decision_map"],
        "examples": examples_of(store, frame, list(base)),
        "rules": {"alpha": ALPHA, "tie_rule": TIE_RULE, "overlap_rule": OVERLAP_RULE, "remote_memory": REMOTE_MEMORY,
                  "higher": {m: DIRECTION[m] for m in DIRECTION}},
    })


def _task(name: str, candidates: list[Candidate], frame: pd.DataFrame, evidence: TaskEvidence | None) -> dict[str, Any]:
    rows = frame[frame["task"] == name]
    metric = candidates[0].metric if candidates else ""
    return {"name": name, "type": str(rows["task_type"].iloc[0]), "metric": metric,
            "higher": DIRECTION.get(metric, True),
            "candidates": [{k: getattr(c, k) for k in _CANDIDATE_FIELDS} for c in candidates],
            "pairs": _pairs(candidates, evidence, metric) if evidence else {}}


def _pairs(candidates: list[Candidate], evidence: TaskEvidence, metric: str) -> dict[str, dict[str, Any]]:
    """For each model some constraints can make the pick: every other eligible model's paired
    difference from it (raw p-value; the page adjusts by Holm over the models its inputs leave)."""
    eligible = [c.model for c in candidates if not c.excluded]
    return {best.model: {other: d.to_dict() for other in eligible if other != best.model
                         and (d := evidence.compare(other, best.model, metric)) is not None}
            for best in possible_picks(candidates)}
