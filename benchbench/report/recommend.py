"""`benchbench recommend`: the ranking for a memory budget, as a table or JSON."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchbench.report.rank import (
    Candidate,
    apply_constraints,
    candidates_for_task,
    overall,
    rank,
)


def recommend(frame: pd.DataFrame, budget_gb: float | None = None, task: str | None = None,
              metric: str | None = None, max_latency_ms: float | None = None,
              min_score: float | None = None) -> dict[str, Any]:
    """Per-task rankings under the constraints, and an overall ranking across tasks."""
    tasks = [task] if task else list(dict.fromkeys(frame["task"]))
    per_task: dict[str, list[Candidate]] = {}
    for name in tasks:
        candidates = candidates_for_task(frame, name, metric)
        apply_constraints(candidates, budget_gb, max_latency_ms, min_score)
        per_task[name] = rank(candidates)
    return {
        "constraints": {"budget_gib": budget_gb, "max_latency_ms": max_latency_ms, "min_score": min_score,
                        "metric": metric, "units": {"memory": "GiB", "latency": "ms"}},
        "tasks": {name: [c.to_dict() for c in cs] for name, cs in per_task.items()},
        "overall": overall(per_task) if not task else None,
    }


def format_table(result: dict[str, Any]) -> str:
    lines = []
    budget = result["constraints"]["budget_gib"]
    for task, candidates in result["tasks"].items():
        metric = candidates[0]["metric"] if candidates else "?"
        lines.append(f"task: {task} (ranked by {metric}" + (f"; budget {budget:g} GiB)" if budget else ")"))
        for c in candidates:
            if c["rank"] is None:
                continue
            ci = f" [{c['ci_low']:.4g}, {c['ci_high']:.4g}]" if c["ci_low"] is not None else ""
            memory = "?" if c["memory_gib"] is None else f"{c['memory_gib']:.2f} GiB" + (
                " (estimate)" if c["memory_source"] == "estimated" else "")
            latency = "?" if c["latency_ms"] is None else f"{c['latency_ms']:.1f} ms"
            marks = "".join([" =best" if c["tied_with_best"] and c["rank"] > 1 else "",
                             " pareto" if c["pareto"] else ""])
            lines.append(f"  {c['rank']:>2}. {c['model']:<28} {c['score']:.4g}{ci}  mem {memory}  "
                         f"latency {latency}{marks}")
        for c in candidates:
            if c["excluded"]:
                lines.append(f"   excluded {c['model']}: {'; '.join(c['excluded'])}")
        lines.append("")
    if result["overall"]:
        lines.append("overall (mean rank over tasks where the model is eligible):")
        for row in result["overall"]:
            if row["rank"] is not None:
                lines.append(f"  {row['rank']:>2}. {row['model']:<28} mean rank {row['mean_rank']:.2f} "
                             f"({row['tasks_ranked']}/{row['tasks_total']} tasks)")
    lines.append("=best: 95% interval overlaps the best model's; pareto: no model is better on quality, "
                 "latency and memory at once; memory in GiB (estimate: from the model's shape, not measured)")
    return "\n".join(lines)
