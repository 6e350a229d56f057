"""`recommend`: the models ranked under the user's constraints (ranking.py), the decision map
(decision.py), how ties were judged and which data each task was compared on, as one
JSON-ready dict that `benchbench recommend` prints and the report embeds."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from benchbench.comparable import DataSelection, selection_notes
from benchbench.decision import decision_map
from benchbench.metrics.bootstrap import CONFIDENCE
from benchbench.ranking import OVERLAP_RULE, Candidate, Limits, overall, rank_under, task_candidates
from benchbench.tasks.paired import TIE_RULE, TaskEvidence


def recommend(frame: pd.DataFrame, budget_gb: float | None = None, task: str | None = None,
              metric: str | None = None, max_latency_ms: float | None = None,
              min_scores: dict[str, float] | None = None, selections: Sequence[DataSelection] = (),
              max_cost_per_1k: float | None = None, evidence: dict[str, TaskEvidence] | None = None,
              candidates: dict[str, list[Candidate]] | None = None) -> dict[str, Any]:
    """Per-task rankings under the constraints, an overall ranking across tasks, and the
    decision map (decision.py: where each constraint would change the pick).
    `selections`: the data selections the frame was chosen from (comparable.py), reported;
    `evidence`: per task, the stored examples that pair the models (comparisons.load_evidence);
    `candidates`: ranking.task_candidates of the frame, when the caller has them already."""
    limits = Limits(budget_gb, max_latency_ms, dict(min_scores or {}), max_cost_per_1k)
    base = candidates if candidates is not None else task_candidates(frame, task, metric)
    per_task = rank_under(base, limits, evidence)
    return {
        "constraints": {**limits.to_dict(), "metric": metric,
                        "units": {"memory": "GiB", "latency": "ms", "cost": "per 1,000 examples, in the price's currency"}},
        "tasks": {name: [c.to_dict() for c in cs] for name, cs in per_task.items()},
        "overall": overall(per_task) if not task else None,
        "nothing_fits": [name for name, cs in per_task.items() if not any(c.rank for c in cs)],
        "decision_map": decision_map(base, limits),
        "statistics": {"tie_rule": TIE_RULE, "fallback": OVERLAP_RULE, "confidence": CONFIDENCE,
                       "multiple_comparisons": "Holm, over the models compared with the best of each task",
                       "tests": "McNemar exact for right/wrong metrics, paired permutation test otherwise; "
                                "intervals: paired bootstrap"},
        "data": {"notes": selection_notes(list(selections)),
                 "selections": [s.to_dict() for s in selections if not task or s.task == task]},
    }
