"""What the terminal shows: the comparison table after a run, and `recommend`'s ranking."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchbench.metrics import DIRECTION
from benchbench.ranking import REMOTE_MEMORY

# served models' request figures (p50 over requests) and cost, shown when a task has them
_SERVED_COLUMNS = {"request_latency_ttft_p50_ms": "ttft_ms", "request_latency_tpot_p50_ms": "tpot_ms",
                   "cost_per_1k_examples": "cost/1k"}


def comparison_table(frame: pd.DataFrame) -> str:
    """One block per task: models as rows, that task's metrics and speed as columns."""
    blocks = []
    for task, group in frame.groupby("task", sort=False):
        metric_columns = sorted({k for s in group["result_id"] for k in _metric_names(frame, s)})
        columns = ["model", "status", *metric_columns, "examples", "examples_per_second", "load_seconds",
                   *[c for c in _SERVED_COLUMNS if c in group.columns and group[c].notna().any()]]
        shown = group[[c for c in columns if c in group.columns]].copy()
        shown = shown.rename(columns={"examples_per_second": "ex/s", "load_seconds": "load_s", **_SERVED_COLUMNS})
        blocks.append(f"task: {task} ({group['task_type'].iloc[0]})\n"
                      + shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n\n".join(blocks)


def _metric_names(frame: pd.DataFrame, result_id: int) -> list[str]:
    row = frame[frame["result_id"] == result_id].iloc[0]
    return [name for name in DIRECTION if name in frame.columns and pd.notna(row.get(name))]


def versus_best_text(versus: dict[str, Any]) -> str:
    """A paired difference from the best as people read it: "-2.1 [-3.4, -0.8] vs best, p=0.01"."""
    return (f"{versus['difference']:+.3g} [{versus['low']:+.3g}, {versus['high']:+.3g}] vs best, "
            f"p={versus['p_holm']:.2g}")


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
            memory = "remote" if c["memory_source"] == REMOTE_MEMORY else "?" if c["memory_gib"] is None \
                else f"{c['memory_gib']:.2f} GiB" + (" (estimate)" if c["memory_source"] == "estimated" else "")
            cost = "" if c["cost_per_1k"] is None else f"  cost {c['cost_per_1k']:.4g}/1k ex"
            latency = "?" if c["latency_ms"] is None else f"{c['latency_ms']:.1f} ms"
            marks = "".join([" =best" if c["tied_with_best"] and c["rank"] > 1 else "",
                             " pareto" if c["pareto"] else ""])
            n = "n=?" if c["n"] is None else f"n={c['n']}"
            versus = f"  {versus_best_text(c['vs_best'])}" if c["vs_best"] else ""
            lines.append(f"  {c['rank']:>2}. {c['model']:<28} {c['score']:.4g}{ci} {n}{versus}  mem {memory}  "
                         f"latency {latency}{cost}{marks}")
        if task in result["nothing_fits"]:
            lines.append("  no model fits the constraints:")
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
    lines += _nearest_flips(result["decision_map"])
    lines += [f"note: {note}" for note in result["data"]["notes"]]
    lines.append("vs best: the paired difference from the best model on the examples both scored, its 95% interval "
                 "and Holm-adjusted p-value; =best: tied with the best (that p-value is 0.05 or more; where "
                 "predictions cannot be paired, the 95% intervals overlap); pareto: no model is better on quality, "
                 "latency and memory at once; n: examples scored; memory in GiB (estimate: from the model's shape, not measured; "
                 "remote: a served model); cost per 1,000 examples in the price's currency")
    return "\n".join(lines)


def _nearest_flips(entries: list[dict[str, Any]]) -> list[str]:
    """For each limit the user set: per task (and overall), the nearest value on either side
    where the pick would change (the whole map: --format json)."""
    lines = []
    for entry in entries:
        current = entry["current"]
        if current is None:
            continue
        tighter = {}
        looser = {}
        for flip in entry["flips"]:  # ordered from the loosest limit to the strictest
            task = flip["task"]
            if (flip["at"] <= current) == (entry["stricter"] == "below"):
                tighter.setdefault(task, flip)
            else:
                looser[task] = flip
        for task in dict.fromkeys([*looser, *tighter]):
            parts = [tighter[task]["text"].split(": ", 1)[1]] if task in tighter else []
            if task in looser:
                flip = looser[task]
                side = "from" if entry["stricter"] == "below" else "up to"
                parts.append(f"{side} {flip['at']:.4g}{' ' + entry['unit'] if entry['unit'] else ''} it is {flip['pick']}")
            lines.append(f"where the pick changes ({entry['label']} now {current:g}) {task or 'overall'}: {'; '.join(parts)}")
    return lines
