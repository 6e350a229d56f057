"""Rank models against the user's constraints: memory budget, latency, minimum score.

Inputs are `load_results` rows. For each task the primary metric (the task type's, or the
one asked for) orders the models; lower-is-better metrics (perplexity, TER) are handled.
Memory is the measured GPU peak of the process (NVML) where a GPU run measured it, else
torch's reserved peak, else an estimate from the recorded model shape (flagged as such).
Latency is the fixed-length probe's batch-1 p50 where measured, else a served model's
end-to-end request p50, else the p50 batch latency. A served model uses no local GPU memory
(it fits any budget); its cost per 1,000 examples comes from the server's token counts and
the suite's price, and a cost limit excludes models whose cost is unknown. Each eligible
model is compared with the best eligible one *paired*, on the examples both scored
(comparisons.py): it is tied with the best unless the Holm-adjusted p-value of the
difference is below 0.05. Where the predictions cannot be paired (random weights, no
stored predictions), overlapping 95% intervals count as tied, and the result says which
rule was used. The Pareto set holds the models no other model beats on quality, latency and
memory at once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

import pandas as pd

from benchbench.errors import BenchbenchError
from benchbench.estimate import estimate_from_shape
from benchbench.metrics import DIRECTION
from benchbench.numbers import finite_or_none, finite_tree
from benchbench.schema import did_you_mean
from benchbench.spec import REMOTE_DEVICE
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.paired import TIE_RULE, TaskEvidence, versus_best

MIB_PER_GIB = 1024.0
OVERLAP_RULE = "intervals: tied when the 95% intervals overlap (no stored predictions to pair)"
REMOTE_MEMORY = "remote (runs on the server)"
DEFAULT_WINDOW = 512  # input tokens assumed for an estimate when the settings cap none


@dataclass
class Candidate:
    model: str
    task: str
    metric: str
    score: float
    ci_low: float | None
    ci_high: float | None
    memory_gib: float | None
    memory_source: str  # "measured (NVML process peak)", "measured (torch reserved)", "estimated"
    latency_ms: float | None
    latency_source: str
    parameters: int | None
    n: int | None  # examples the score is over
    cost_per_1k: float | None = None  # per 1,000 examples, in the price's currency (served models with a price)
    ttft_ms: float | None = None  # served models: time to first token, p50 over requests
    tpot_ms: float | None = None  # served models: time per output token after the first, p50
    scores: dict[str, float] = field(default_factory=dict)  # every metric of the result (thresholds apply)
    rank: int | None = None
    tied_with_best: bool = False
    vs_best: dict[str, Any] | None = None  # paired difference from the best: difference, low, high, p_value, p_holm, test, n
    tie_rule: str | None = None
    pareto: bool = False
    excluded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return finite_tree(asdict(self))


def _value(row: pd.Series, column: str) -> float | None:
    try:
        return finite_or_none(float(row.get(column)))
    except (TypeError, ValueError):
        return None


def _score_or_nan(row: pd.Series, metric: str) -> float:
    value = _value(row, metric)
    return float("nan") if value is None else value


def memory_of(rows: pd.DataFrame) -> tuple[float | None, str]:
    """Peak GPU memory of a model over its tasks (GiB), and where the number came from."""
    if "device" in rows and (rows["device"] == REMOTE_DEVICE).any():
        return None, REMOTE_MEMORY
    for column, source in (("gpu_process_peak_mib", "measured (NVML process peak)"),
                           ("torch_max_reserved_mib", "measured (torch reserved)")):
        if column in rows:
            values = pd.to_numeric(rows[column], errors="coerce").dropna()
            if len(values):
                return float(values.max()) / MIB_PER_GIB, source
    estimates = []
    for _, row in rows.iterrows():
        settings, shape = row.get("settings") or {}, row.get("shape")
        if not isinstance(shape, dict) or not _value(row, "parameters"):
            continue
        task_type = TASK_TYPES.get(row["task_type"])
        if task_type is None:  # stored by a benchbench with a task type this one does not know
            continue
        cap, new_tokens = task_type.sequence_lengths(settings.get("resolved", {}))
        window = int(cap or DEFAULT_WINDOW)
        longest = _value(row, "max_example_prompt_tokens")
        generating = new_tokens > 0
        seq = min(int(longest) if longest else window, window) + new_tokens
        dtype = row.get("dtype") if row.get("dtype") in ("float32", "float16", "bfloat16") else "float32"
        estimates.append(estimate_from_shape(int(row["parameters"]), shape, dtype, int(settings.get("batch_size") or 1),
                                             seq, logits_positions=1 if generating else None).total_gib)
    return (max(estimates), "estimated") if estimates else (None, "unknown")


def latency_of(row: pd.Series) -> tuple[float | None, str]:
    probe = _value(row, "latency_probe_batch_1_total_p50_ms")
    if probe is not None:
        return probe, "probe: batch 1, fixed lengths, p50"
    request = _value(row, "request_latency_e2e_p50_ms")
    if request is not None:
        return request, f"request end to end, p50, {_value(row, 'concurrency') or '?':g} in flight"
    batch = _value(row, "batch_latency_p50_ms")
    return (batch, "p50 batch latency at the task's batch size") if batch is not None else (None, "unknown")


def candidates_for_task(frame: pd.DataFrame, task: str, metric: str | None = None) -> list[Candidate]:
    rows = frame[frame["task"] == task]
    metric = metric or primary_metric(frame, task)
    out = []
    for _, row in rows.iterrows():
        memory, memory_source = memory_of(frame[frame["model"] == row["model"]])
        latency, latency_source = latency_of(row)
        candidate = Candidate(
            model=row["model"], task=task, metric=metric, score=_score_or_nan(row, metric),
            ci_low=_value(row, f"{metric}_ci_low"), ci_high=_value(row, f"{metric}_ci_high"),
            memory_gib=memory, memory_source=memory_source, latency_ms=latency, latency_source=latency_source,
            parameters=int(row["parameters"]) if _value(row, "parameters") else None,
            n=int(row["examples"]) if _value(row, "examples") is not None else None,
            cost_per_1k=_value(row, "cost_per_1k_examples"), ttft_ms=_value(row, "request_latency_ttft_p50_ms"),
            tpot_ms=_value(row, "request_latency_tpot_p50_ms"),
            scores={name: v for name in DIRECTION if (v := _value(row, name)) is not None})
        if row["status"] != "ok":
            candidate.excluded.append(f"status {row['status']}: {str(row['reason']).splitlines()[0]}")
        elif not math.isfinite(candidate.score):
            candidate.excluded.append(f"no {metric} score" + (" (random weights)" if "random" in str(row["reason"]) else ""))
        out.append(candidate)
    return out


def apply_constraints(candidates: list[Candidate], budget_gb: float | None, max_latency_ms: float | None,
                      min_scores: dict[str, float] | None = None, max_cost_per_1k: float | None = None) -> None:
    """Exclude, with the reason, what does not fit. `min_scores`: per metric, the worst score
    accepted (a ceiling for lower-is-better metrics); a task without that metric is not
    concerned. `max_cost_per_1k`: per 1,000 examples; a model without a cost is excluded."""
    for c in candidates:
        if max_cost_per_1k is not None:
            if c.cost_per_1k is None:
                c.excluded.append("cost unknown (no price_per_million_tokens for this model, or no token counts)")
            elif c.cost_per_1k > max_cost_per_1k:
                c.excluded.append(f"costs {c.cost_per_1k:.4g} per 1k examples > {max_cost_per_1k:g}")
        if budget_gb is not None and c.memory_source != REMOTE_MEMORY:
            if c.memory_gib is None:
                c.excluded.append("memory unknown (not measured, no shape recorded to estimate it)")
            elif c.memory_gib > budget_gb:
                c.excluded.append(f"needs {c.memory_gib:.4g} GiB > {budget_gb:g} GiB ({c.memory_source})")
        if max_latency_ms is not None and c.latency_ms is not None and c.latency_ms > max_latency_ms:
            c.excluded.append(f"latency {c.latency_ms:.0f} ms > {max_latency_ms:g} ms ({c.latency_source})")
        for metric, threshold in (min_scores or {}).items():
            score, higher = c.scores.get(metric), DIRECTION.get(metric, True)
            if score is not None and ((higher and score < threshold) or (not higher and score > threshold)):
                c.excluded.append(f"{metric} {score:.4g} {'<' if higher else '>'} {threshold:g}")


def stored_metrics(frame: pd.DataFrame, task: str | None = None) -> list[str]:
    """The metrics that have a score in the results (of one task, or of any)."""
    rows = frame if task is None else frame[frame["task"] == task]
    return [name for name in DIRECTION if name in rows.columns and rows[name].notna().any()]


def check_request(frame: pd.DataFrame, task: str | None, metric: str | None,
                  min_score_args: Sequence[str]) -> dict[str, float]:
    """--task, --metric and --min-score checked against what is stored; the thresholds per
    metric. A bare number applies to the ranking metric, so it needs --task or --metric
    (a score of 30 means something else for BLEU, accuracy and bits per byte)."""
    tasks = sorted(set(frame["task"]))
    if task is not None and task not in tasks:
        raise BenchbenchError(f"--task: no task named {task!r} in the results; "
                              + did_you_mean(task, tasks, "tasks with results"))
    known = stored_metrics(frame, task)
    thresholds: dict[str, float] = {}
    for given in min_score_args:
        name, _, number = given.rpartition("=")
        if not name:
            if not (metric or task):
                raise BenchbenchError(f"--min-score {given}: every task has its own metric and scale; write "
                                      f"METRIC=VALUE (e.g. accuracy=0.7), or add --task or --metric")
            name = metric or primary_metric(frame, task)  # type: ignore[arg-type]
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


def primary_metric(frame: pd.DataFrame, task: str) -> str:
    """The metric a task is ranked by unless another is asked for."""
    task_type = frame.loc[frame["task"] == task, "task_type"].iloc[0]
    return TASK_TYPES[task_type].primary_metric if task_type in TASK_TYPES else "accuracy"


def rank(candidates: list[Candidate], evidence: TaskEvidence | None = None) -> list[Candidate]:
    """Order eligible candidates best first, mark ties with the best (paired, from `evidence`,
    where the models' examples can be paired) and the Pareto set."""
    eligible = [c for c in candidates if not c.excluded]
    if not eligible:
        return candidates
    higher = DIRECTION.get(eligible[0].metric, True)
    eligible.sort(key=lambda c: -c.score if higher else c.score)
    best = eligible[0]
    paired = versus_best(evidence, {c.model: c.score for c in eligible}, best.metric) if evidence else {}
    for position, c in enumerate(eligible, start=1):
        c.rank = position
        verdict = paired.get(c.model) if best.model in paired else None
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


def _dominates(a: Candidate, b: Candidate, higher: bool) -> bool:
    """a is at least as good as b on quality, latency, memory and cost (where both are known),
    and better on one."""
    def pairs():
        yield (a.score, b.score) if higher else (-a.score, -b.score)
        for x, y in ((a.latency_ms, b.latency_ms), (a.memory_gib, b.memory_gib), (a.cost_per_1k, b.cost_per_1k)):
            if x is not None and y is not None:
                yield -x, -y
    comparisons = list(pairs())
    return all(x >= y for x, y in comparisons) and any(x > y for x, y in comparisons)


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


@dataclass(frozen=True)
class Limits:
    """The user's constraints: memory budget (GiB), latency limit (ms), the worst score
    accepted per metric, and the cost limit per 1,000 examples; None: no limit."""

    budget_gb: float | None = None
    max_latency_ms: float | None = None
    min_scores: dict[str, float] = field(default_factory=dict)
    max_cost_per_1k: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"budget_gib": self.budget_gb, "max_latency_ms": self.max_latency_ms, "min_scores": self.min_scores,
                "max_cost_per_1k": self.max_cost_per_1k}


def task_candidates(frame: pd.DataFrame, task: str | None = None, metric: str | None = None) -> dict[str, list[Candidate]]:
    """Per task (one, or every task of `frame`), its candidates before any constraint: the
    figures each constraint is checked against. Costly (it reads the frame); `rank_under`
    ranks them under any number of constraints cheaply."""
    tasks = [task] if task else list(dict.fromkeys(frame["task"]))
    return {name: candidates_for_task(frame, name, metric) for name in tasks}


def rank_under(base: dict[str, list[Candidate]], limits: Limits,
               evidence: dict[str, TaskEvidence] | None = None) -> dict[str, list[Candidate]]:
    """`base` (task_candidates) ranked under `limits`, on copies: `base` is left as it was."""
    per_task = {}
    for name, candidates in base.items():
        copies = [replace(c, excluded=list(c.excluded)) for c in candidates]
        apply_constraints(copies, limits.budget_gb, limits.max_latency_ms, limits.min_scores, limits.max_cost_per_1k)
        per_task[name] = rank(copies, (evidence or {}).get(name))
    return per_task


def picks(per_task: dict[str, list[Candidate]]) -> dict[str | None, str | None]:
    """The recommended model of each task (rank 1; None when nothing fits) and, under the key
    None when there are several tasks, the first of the overall ranking."""
    chosen: dict[str | None, str | None] = {name: next((c.model for c in cs if c.rank == 1), None)
                                            for name, cs in per_task.items()}
    if len(per_task) > 1:
        chosen[None] = next((row["model"] for row in overall(per_task) if row["rank"] == 1), None)
    return chosen
