"""What the terminal shows: the comparison table after a run, and `recommend`'s ranking."""

from __future__ import annotations

from typing import Any

from benchbench.metrics.catalogue import Catalogue
from benchbench.selection import Recommendation
from benchbench.selection.figures import REMOTE_MEMORY
from benchbench.selection.ranking import TIED_DESPITE_INTERVAL, Candidate
from benchbench.selection.results import frame_of
from benchbench.selection.statistics import ALPHA
from benchbench.store import ResultRecord

# served models' request figures (p50 over requests) and cost, shown when a task has them
_SERVED_COLUMNS = {"request_latency_ttft_p50_ms": "ttft_ms", "request_latency_tpot_p50_ms": "tpot_ms",
                   "cost_per_1k_examples": "cost/1k"}


def comparison_table(records: list[ResultRecord], catalogue: Catalogue) -> str:
    """One block per task: models as rows, that task's scores and speed as columns."""
    frame = frame_of(records)
    blocks = []
    for task, group in frame.groupby("task", sort=False):
        metric_columns = [m for m in catalogue if m in group.columns and group[m].notna().any()]
        columns = ["model", "status", *metric_columns, "examples", "examples_per_second", "load_seconds",
                   *[c for c in _SERVED_COLUMNS if c in group.columns and group[c].notna().any()]]
        shown = group[[c for c in columns if c in group.columns]].copy()
        shown = shown.rename(columns={"examples_per_second": "ex/s", "load_seconds": "load_s", **_SERVED_COLUMNS})
        blocks.append(f"task: {task} ({group['task_type'].iloc[0]})\n"
                      + shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n\n".join(blocks)


def p_text(p: float) -> str:
    """A p-value as every output writes it (the page's script too: rank.js pyG(p, 2))."""
    return f"{p:.2g}"


def versus_best_text(versus: dict[str, Any]) -> str:
    """A paired difference from the best as people read it: "-2.1 [-3.4, -0.8] vs best, p=0.01"."""
    return (f"{versus['difference']:+.3g} [{versus['low']:+.3g}, {versus['high']:+.3g}] vs best, "
            f"p={p_text(versus['p_holm'])}")


def _tie_text(c: Candidate) -> str:
    """" =best", explained where the interval alone would say otherwise: on few examples the
    exact test decides, and the bootstrap interval is only approximate."""
    if not (c.tied_with_best and c.rank and c.rank > 1):
        return ""
    v = c.vs_best
    if v and (v["low"] > 0 or v["high"] < 0):
        return " =best (" + TIED_DESPITE_INTERVAL.format(test=v["test"], n=v["n"], p=p_text(v["p_holm"]),
                                                          alpha=f"{ALPHA:.2g}") + ")"
    return " =best"


def _line(c: Candidate) -> str:
    ci = f" [{c.ci_low:.4g}, {c.ci_high:.4g}]" if c.ci_low is not None else ""
    memory = "remote" if c.memory_source == REMOTE_MEMORY else "?" if c.memory_gib is None \
        else f"{c.memory_gib:.2f} GiB" + (" (estimate)" if c.memory_source == "estimated" else "")
    cost = "" if c.cost_per_1k is None else f"  cost {c.cost_per_1k:.4g}/1k ex"
    latency = "?" if c.latency_ms is None else f"{c.latency_ms:.4g} {c.latency_unit}".rstrip()
    if c.latency_ms is not None and c.latency_low is not None:
        latency += f" [{c.latency_low:.4g}, {c.latency_high:.4g}]"
    raw = "" if c.raw_latency_ms is None or c.raw_latency_ms == c.latency_ms else f" (raw {c.raw_latency_ms:.4g} ms)"
    baseline = "" if c.baseline is None else f" (majority class {c.baseline:.4g})"
    n = "n=?" if c.n is None else f"n={c.n}"
    versus = f"  {versus_best_text(c.vs_best)}" if c.vs_best else ""
    flags = "".join(f"  ! {flag}" for flag in c.flags)
    return (f"  {c.rank:>2}. {c.model:<28} {c.score:.4g}{ci}{baseline} {n}{versus}  mem {memory}  latency {latency}{raw}"
            f"{cost}{_tie_text(c)}{' pareto' if c.pareto else ''}{flags}")


def format_table(result: Recommendation) -> str:
    lines = []
    budget = result.limits.budget_gib
    for task, candidates in result.tasks.items():
        metric = candidates[0].metric if candidates else "?"
        unit = next((c.latency_unit for c in candidates if c.latency_ms is not None), "")
        lines.append(f"task: {task} (ranked by {metric}" + (f"; latency in {unit}" if unit else "")
                     + (f"; budget {budget:g} GiB)" if budget else ")"))
        lines += [_line(c) for c in candidates if c.rank is not None]
        if task in result.nothing_fits:
            lines.append("  no model fits the constraints:")
        lines += [f"   excluded {c.model}: {'; '.join(c.excluded)}" for c in candidates if c.excluded]
        lines += [f"  caution: {text}" for text in result.cautions.get(task, [])]
        lines.append("")
    if result.overall:
        lines.append("overall (mean rank over tasks where the model is eligible):")
        for row in result.overall:
            if row["rank"] is not None:
                lines.append(f"  {row['rank']:>2}. {row['model']:<28} mean rank {row['mean_rank']:.2f} "
                             f"({row['tasks_ranked']}/{row['tasks_total']} tasks)")
        lines += [f"  caution: {text}" for text in result.cautions.get(None, [])]
    lines += _nearest_flips(result.decision_map)
    lines += [f"note: {note}" for note in result.to_dict()["data"]["notes"]]
    lines.append(LEGEND)
    return "\n".join(lines)


LEGEND = (
    "legend: score [95% interval]; n: examples scored; majority class: the accuracy of always answering the most "
    "common label. vs best: the paired difference from the best model on the examples both scored, its 95% interval "
    "and Holm-adjusted p-value. =best: tied with the best (that p-value is 0.05 or more; where predictions cannot be "
    "paired, the 95% intervals overlap). pareto: no model is better on quality, latency, memory and cost at once "
    "(latencies count as different only when their intervals are apart and one is at least 10% lower). mem: peak GPU "
    "memory in GiB (estimate: from the model's shape, not measured; remote: a served model). latency: p50 with its 95% "
    "interval, per the unit each task names: ms per output token for generating tasks (a batch's time over its "
    "decoding steps), ms per example for the others, or ms for a fixed-length request where the probe ran; raw: "
    "the whole batch's (or request's) p50. Equal scores rank by lower latency, then memory, cost and name. cost: per "
    "1,000 examples in the price's currency. !: degenerate outputs.")


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
