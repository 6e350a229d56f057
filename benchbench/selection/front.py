"""The front door of the choosing side: one object over one results store.

`Selection.open(results, data)` opens the store once and reads every attempt as a typed
record; it keeps the comparable ones (one example set per task, examplesets.py), the metric
catalogue with the entries results recorded, and, when asked, each task's candidates and the
per-example statistics that pair its models (evidence.py). `recommend`, `report`,
`load_results`, `load_comparisons` and the table after a run all go through it, so each reads
the store once and every reader gets the same figures.

Statistics are read as the run stored them. A result stored before they were (an older
store) is scored once from its stored predictions, and what that gives is written back when
the store can be written, so the next reader finds it.
"""

from __future__ import annotations

import logging
import math
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

from benchbench.metrics.catalogue import CATALOGUE, Catalogue
from benchbench.metrics.external import EVALUATE_PREFIX
from benchbench.metrics.sums import ExampleStats
from benchbench.selection import figures
from benchbench.selection.constraints import Limits, check_request
from benchbench.selection.evidence import TaskEvidence, versus_best
from benchbench.selection.examplesets import choose_comparable
from benchbench.selection.ranking import Candidate, order_key
from benchbench.selection.recommend import Recommendation, recommend
from benchbench.store import ResultRecord, Status, Store, StoreError, database_path
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import Scoring

log = logging.getLogger("benchbench")


class Selection:
    """The comparable results of a store, ready to choose from (the module docstring says what it holds)."""

    def __init__(self, store: Store, data: str = "complete") -> None:
        self.store = store
        self.attempts: list[ResultRecord] = store.results()
        self.records, self.example_sets = choose_comparable(self.attempts, data)
        self.runs = store.runs()
        self.catalogue: Catalogue = CATALOGUE.with_recorded(r.settings.recorded_scores for r in self.attempts)

    @classmethod
    def open(cls, results: str | Path, data: str = "complete") -> "Selection":
        """The results folder (or its .sqlite file). Raises FileNotFoundError where there is no
        store, StoreError where it cannot be read, BenchbenchError for a `data` no result has."""
        if not database_path(results).exists():
            raise FileNotFoundError(f"no benchbench results at {database_path(results)}; run `benchbench run SUITE "
                                    f"--results {Path(results)}` first")
        store = Store.for_reading(results)
        try:
            return cls(store, data)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Selection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- what is stored ---------------------------------------------------------------------
    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(r.task for r in self.records))

    def of_task(self, task: str) -> list[ResultRecord]:
        return [r for r in self.records if r.task == task]

    def primary_metric(self, task: str) -> str:
        """The metric a task is ranked by unless another is asked for: its type's primary metric,
        or, where the suite asked for other metrics only, the first of them that has a score."""
        task_type = next(r.task_type for r in self.records if r.task == task)
        primary = TASK_TYPES[task_type].primary_metric if task_type in TASK_TYPES else "accuracy"
        scored = self.scored_metrics(task)
        if primary in scored or not scored:
            return primary
        asked = [m for r in self.of_task(task) for m in r.metrics if m in scored]
        return asked[0] if asked else scored[0]

    def scored_metrics(self, task: str | None = None) -> list[str]:
        """The metrics that have a score in the results (of one task, or of any), catalogue order."""
        found = {name for r in self.records if task is None or r.task == task
                 for name, value in r.metrics.items() if value is not None}
        return [name for name in self.catalogue if name in found]

    def limits(self, budget_gib: float | None = None, max_latency_ms: float | None = None,
               min_scores: Iterable[str] = (), max_cost_per_1k: float | None = None, task: str | None = None,
               metric: str | None = None) -> Limits:
        """Limits from command-line values, --task/--metric/--min-score checked against what is stored."""
        scored = {None: self.scored_metrics(), **{t: self.scored_metrics(t) for t in self.tasks}}
        thresholds = check_request(self.tasks, scored, task, metric, list(min_scores),
                                   {t: self.primary_metric(t) for t in self.tasks})
        return Limits(budget_gib, max_latency_ms, thresholds, max_cost_per_1k)

    # --- choosing ---------------------------------------------------------------------------
    def candidates(self, task: str | None = None, metric: str | None = None) -> dict[str, list[Candidate]]:
        """Per task (one, or every task), its candidates before any limit. Latency is in one unit
        per task: the fixed-length probe's only where every model of the task measured it."""
        out = {}
        for name in [task] if task else self.tasks:
            records = self.of_task(name)
            ok = [r for r in records if r.ok]
            probe = bool(ok) and all(figures.has_probe(r) for r in ok)
            out[name] = [self._candidate(r, metric or self.primary_metric(name), probe) for r in records]
        return out

    def _candidate(self, record: ResultRecord, metric: str, probe: bool) -> Candidate:
        memory, memory_source = figures.memory_of(r for r in self.records if r.model == record.model)
        latency = figures.latency_of(record, probe)
        interval = record.intervals.get(metric) or {}
        score = record.metrics.get(metric)
        parameters = record.model_info.get("parameters")
        candidate = Candidate(
            model=record.model, task=record.task, metric=metric, score=float("nan") if score is None else float(score),
            ci_low=interval.get("low"), ci_high=interval.get("high"), memory_gib=memory, memory_source=memory_source,
            latency_ms=latency.ms, latency_source=latency.source, latency_low=latency.low, latency_high=latency.high,
            latency_unit=latency.unit, raw_latency_ms=latency.raw_ms, parameters=int(parameters) if parameters else None,
            n=record.examples, cost_per_1k=figures.cost_per_1k(record), ttft_ms=figures.request_p50(record, "ttft"),
            tpot_ms=figures.request_p50(record, "tpot"),
            scores={name: float(v) for name in self.catalogue if (v := record.metrics.get(name)) is not None
                    and math.isfinite(v)},
            baseline=record.baselines.get(metric), flags=list(record.output_flags))
        if record.status is not Status.OK:
            candidate.excluded.append(f"status {record.status}: {record.first_reason_line}")
        elif not math.isfinite(candidate.score):
            candidate.excluded.append(f"no {metric} score" + (" (random weights)" if "random" in str(record.reason)
                                                              else ""))
        return candidate

    @cached_property
    def evidence(self) -> dict[str, TaskEvidence]:
        """Per task, the per-example statistics of its ok results (read, or scored once and kept)."""
        ok = [r for r in self.records if r.ok and r.task_type in TASK_TYPES]
        stored = self.store.example_stats(r.result_id for r in ok)
        computed: dict[int, dict[str, ExampleStats]] = {}
        out: dict[str, TaskEvidence] = {}
        for record in ok:
            stats = {row.metric: found for row in stored.get(record.result_id, [])
                     if (found := ExampleStats.from_stored(row)) is not None}
            if not stats:
                stats = computed[record.result_id] = self._rescored(record)
            if not stats:  # random weights store no predictions
                continue
            task = out.setdefault(record.task, TaskEvidence(record.task, {}, catalogue=self.catalogue))
            task.stats[record.model] = stats
            resamples, seed = record.settings.bootstrap
            task.bootstrap[record.model] = (resamples, Scoring.seed if seed is None else int(seed))
        self._write_back(computed)
        return out

    def _rescored(self, record: ResultRecord) -> dict[str, ExampleStats]:
        """The statistics of a result stored without them, from its stored predictions (the
        suite's metrics but `evaluate:` modules, which have no per-example statistics and may
        need the hub)."""
        stored = self.predictions(record)
        if not stored:
            return {}
        results = [ExampleResult.stored(p) for p in stored]
        metrics = tuple(m for m in record.settings.metrics if not m.startswith(EVALUATE_PREFIX))
        if record.settings.metrics and not metrics:
            return {}
        scoring = Scoring(metrics, record.settings.metric_options, 0, Scoring.seed)
        scored = TASK_TYPES[record.task_type].score(results, record.settings.task_settings, scoring)
        return scored.example_stats([r.index for r in results])

    def _write_back(self, stats: dict[int, dict[str, ExampleStats]] | None = None,
                    scores: dict[int, dict[int, float]] | None = None) -> None:
        """Keep what was scored here (statistics, example scores) for the next reader, where the
        store can be written."""
        rows = {result_id: [s for metric, found in by_metric.items() if (s := found.stored(metric)) is not None]
                for result_id, by_metric in (stats or {}).items() if by_metric}
        if not rows and not scores:
            return
        try:
            writer = Store(self.store.path)
        except StoreError as exc:
            log.debug("scores not written back: %s", exc)
            return
        try:
            for result_id, stored in rows.items():
                writer.add_example_stats(result_id, stored)
            for result_id, by_example in (scores or {}).items():
                writer.set_example_scores(result_id, by_example)
        finally:
            writer.close()

    def recommend(self, limits: Limits = Limits(), task: str | None = None, metric: str | None = None) -> Recommendation:
        """The models ranked under `limits` (one task, or every task and overall)."""
        return recommend(self.candidates(task, metric), limits, self.catalogue, self.evidence, metric,
                         several_tasks=not task,
                         example_sets=[s for s in self.example_sets if not task or s.task == task])

    def comparisons(self) -> list[dict[str, Any]]:
        """For every task and metric with per-example statistics, each model against the best
        (load_comparisons' rows)."""
        rows = []
        for task, evidence in self.evidence.items():
            ok = [r for r in self.of_task(task) if r.ok and r.model in evidence.stats]
            for metric in self.catalogue:
                scores = {r.model: float(v) for r in ok if (v := r.metrics.get(metric)) is not None and math.isfinite(v)}
                if not scores:
                    continue
                candidates = {c.model: c for c in self.candidates(task, metric)[task]}
                higher = self.catalogue.higher_is_better(metric)
                ranked = sorted(scores, key=lambda m: order_key(candidates[m], higher))  # recommend's order
                for model, verdict in versus_best(evidence, ranked, metric).items():
                    if model != verdict["best"]:
                        rows.append({"task": task, "metric": metric, "model": model, "best": verdict["best"],
                                     "n": verdict["n"], "difference": verdict["difference"], "ci_low": verdict["low"],
                                     "ci_high": verdict["high"], "p_value": verdict["p_value"],
                                     "p_holm": verdict["p_holm"], "test": verdict["test"], "tied": verdict["tied"]})
        return rows

    # --- examples ---------------------------------------------------------------------------
    def predictions(self, record: ResultRecord) -> list[dict[str, Any]]:
        return self.store.predictions(record.result_id)

    def example_rows(self, record: ResultRecord, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """A result's examples with an index in [start, stop) for display: index, input,
        prediction and reference (still JSON text) and each one's own score (its `score` column;
        where an older run did not store it, the task's example_score, written back for the next
        reader)."""
        rows = [dict(row) for row in self.store.example_rows(record.result_id, start, stop)]
        if any(row["score"] is None for row in rows):
            task_type = TASK_TYPES[record.task_type]
            missing = {p["example_index"]: task_type.example_score(p["prediction"], p["reference"], p["details"] or {})
                       for p in self.predictions(record)}
            self._write_back(scores={record.result_id: missing})
            for row in rows:
                row["score"] = missing[row["example_index"]]
        return rows

