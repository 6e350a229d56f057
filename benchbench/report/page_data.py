"""What the report's page knows, as one JSON-ready dict embedded in the HTML: every model's
figures per task before any limit, the paired comparisons the page needs to judge ties for any
pick its inputs can make, the limits given on the command line, the decision map computed here,
the examples (examples.py), and the rules themselves: the table of constraints with the words
of each exclusion, every metric's direction, the tie rule and the speed tolerance. The page's
script (rank.js) only does the arithmetic with them (the browser tests check it agrees)."""

from __future__ import annotations

from typing import Any

from benchbench.numbers import finite_tree
from benchbench.report.examples import examples_of
from benchbench.selection import Limits, Recommendation, Selection
from benchbench.selection.constraints import CONSTRAINTS, SCORE_OVER, SOURCE_FIELDS, UNIT_FIELDS
from benchbench.selection.decision import constraints_of, possible_picks
from benchbench.selection.evidence import TIE_RULE, TaskEvidence
from benchbench.selection.figures import REMOTE_MEMORY
from benchbench.selection.ranking import OVERLAP_RULE, SPEED_TOLERANCE, TIED_DESPITE_INTERVAL, Candidate
from benchbench.selection.statistics import ALPHA

_CANDIDATE_FIELDS = ("model", "score", "ci_low", "ci_high", "n", "memory_gib", "memory_source", "latency_ms",
                     "latency_low", "latency_high", "latency_unit", "latency_source", "raw_latency_ms", "cost_per_1k",
                     "parameters", "scores", "baseline", "flags", "excluded")


def page_data(selection: Selection, base: dict[str, list[Candidate]], limits: Limits,
              ranking: Recommendation) -> dict[str, Any]:
    """The embedded data: `base` (the selection's candidates) unconstrained, `ranking` (under
    `limits`) for its decision map, and the examples."""
    catalogue, evidence = selection.catalogue, selection.evidence
    return finite_tree({
        "models": list(dict.fromkeys(r.model for r in selection.records)),
        "tasks": [_task(selection, name, candidates, evidence.get(name)) for name, candidates in base.items()],
        "limits": limits.to_dict(),
        "constraints": [c.to_dict() | {"field": c.field} for c in constraints_of(base, limits, catalogue)],
        "decision_map": ranking.decision_map,
        "examples": examples_of(selection, list(base)),
        "rules": {"alpha": ALPHA, "tie_rule": TIE_RULE, "overlap_rule": OVERLAP_RULE, "remote_memory": REMOTE_MEMORY,
                  "speed_tolerance": SPEED_TOLERANCE, "constraints": [c.to_dict() for c in CONSTRAINTS],
                  "tied_despite_interval": TIED_DESPITE_INTERVAL,
                  "score_over": SCORE_OVER, "source_fields": SOURCE_FIELDS, "unit_fields": UNIT_FIELDS,
                  "higher": {m: catalogue.higher_is_better(m) for m in catalogue}},
    })


def _task(selection: Selection, name: str, candidates: list[Candidate], evidence: TaskEvidence | None) -> dict[str, Any]:
    metric = candidates[0].metric if candidates else ""
    return {"name": name, "type": selection.of_task(name)[0].task_type, "metric": metric,
            "higher": selection.catalogue.higher_is_better(metric),
            "latency_unit": next((c.latency_unit for c in candidates if c.latency_ms is not None), ""),
            "candidates": [{k: getattr(c, k) for k in _CANDIDATE_FIELDS} for c in candidates],
            "pairs": _pairs(selection, candidates, evidence, metric) if evidence else {}}


def _pairs(selection: Selection, candidates: list[Candidate], evidence: TaskEvidence,
           metric: str) -> dict[str, dict[str, Any]]:
    """For each model some constraints can make the pick: every other eligible model's paired
    difference from it (raw p-value; the page adjusts by Holm over the models its inputs leave)."""
    eligible = [c.model for c in candidates if not c.excluded]
    return {best.model: {other: d.to_dict() for other, d in evidence.compare_with(
        [m for m in eligible if m != best.model], best.model, metric).items() if d is not None}
            for best in possible_picks(candidates, selection.catalogue)}
