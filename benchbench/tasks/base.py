"""The small protocol every task type implements, and the records it yields.

A task type knows its fields, options and metrics, which backend capability it needs,
how rows become requests and responses become scored examples, its primary metric, and
how one stored example is scored for the report. It knows models only through
:class:`benchbench.backends.base.ModelBackend` and the capability protocols it asks for
(``benchbench.backends.capabilities.require``): no task module imports torch or
transformers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Protocol

import numpy as np

from benchbench.backends.base import ModelBackend, Profile, RequestFailed
from benchbench.errors import first_line
from benchbench.metrics.bootstrap import Interval, ScoreFromSums
from benchbench.metrics.catalogue import MetricInfo
from benchbench.metrics.sums import ExampleStats, SumScore
from benchbench.schema import Key
from benchbench.spec import Runtime, TaskSpec


@dataclass
class ExampleResult:
    """One scored example: what went in, what came out, the gold answer, and the numbers
    the metrics are computed from (so figures can be recomputed from stored rows)."""

    index: int
    input: str
    prediction: Any
    reference: Any
    details: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None  # why no prediction: the request for it failed (the run retries it later)

    @classmethod
    def failed(cls, index: int, input: str, reference: Any, why: RequestFailed) -> "ExampleResult":
        """An example whose request the backend gave up on: not scored, not stored as a
        prediction; the run records it as failed and a later run retries it."""
        return cls(index, input, None, reference, {"attempts": why.attempts}, failure=why.reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def stored(cls, row: dict[str, Any]) -> "ExampleResult":
        """An example as the store gives it back (Store.predictions rows)."""
        return cls(row["example_index"], row["input"], row["prediction"], row["reference"], row["details"])


@dataclass
class TaskScores:
    """A task's corpus-level figures, their 95% intervals, each metric's signature, and per
    score the per-example sufficient statistics and how to score their sums (what the
    intervals and the paired comparisons between models resample)."""

    scores: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # metric name: why it could not be computed
    stats: dict[str, tuple[np.ndarray, ScoreFromSums]] = field(default_factory=dict)
    info: dict[str, MetricInfo] = field(default_factory=dict)  # entries of scores the catalogue lacks (evaluate:)
    # what a trivial answer scores on this data (classification: the majority class's accuracy)
    baselines: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # degenerate outputs (one label for all, empty, copied input)

    def add(self, other: "TaskScores") -> None:
        self.scores |= other.scores
        self.intervals |= other.intervals
        self.signatures |= other.signatures
        self.failures |= other.failures
        self.stats |= other.stats
        self.info |= other.info
        self.baselines |= other.baselines
        self.flags += other.flags

    def example_stats(self, indices: list[int]) -> dict[str, ExampleStats]:
        """The per-example statistics of each score that has them, for the examples `indices`
        (in the order the results were scored), as the store keeps them."""
        return {name: ExampleStats.of(indices, values, scorer) for name, (values, scorer) in self.stats.items()
                if isinstance(scorer, SumScore) and len(values) == len(indices)}


@dataclass(frozen=True)
class Scoring:
    """How a task's figures are computed: which metrics (empty: the task type's defaults),
    their options, and the bootstrap for the 95% intervals (0 resamples: none)."""

    metrics: tuple[str, ...] = ()
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    resamples: int = Runtime.bootstrap_resamples
    seed: int = Runtime.seed

    @classmethod
    def of(cls, task: TaskSpec, runtime: Runtime) -> "Scoring":
        return cls(task.metrics, task.metric_options, runtime.bootstrap_resamples, runtime.seed)

    def record(self) -> dict[str, Any]:
        """As stored beside the resolved settings."""
        return {"metric_options": self.metric_options, "bootstrap": {"resamples": self.resamples, "seed": self.seed}}


def score_metrics(names: tuple[str, ...] | list[str], predictions: list[Any], references: list[Any],
                  scoring: Scoring, **extra: Any) -> TaskScores:
    """Registry metrics over the predictions, with the suite's per-metric options and intervals.
    A metric that fails (an `evaluate:` module that cannot be loaded offline, say) is recorded
    in `failures`; the others are kept."""
    from benchbench import metrics

    out = TaskScores()
    for name in names:
        try:
            result = metrics.score(name, predictions, references, **{**extra, **scoring.metric_options.get(name, {})})
        except Exception as exc:  # one metric's failure must not lose the figures beside it
            out.failures[name] = f"{type(exc).__name__}: {first_line(exc)}"
            continue
        intervals = result.intervals(scoring.resamples, scoring.seed) if scoring.resamples else {}
        out.add(TaskScores(dict(result.scores), intervals, {name: result.signature}, stats=dict(result.stats),
                           info=dict(result.info)))
    return out


def prepared_rows(task_type: "TaskType", rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a task scores, one result each: the task's optional ``prepare_rows(rows,
    options)`` (e.g. perplexity's `join` makes one document of all rows), else the rows."""
    prepare = getattr(task_type, "prepare_rows", None)
    return prepare(rows, options) if prepare else rows


class TaskType(Protocol):
    """A task type: how examples become requests to a model, predictions and metrics.

    `fields` are the canonical example fields (the suite maps dataset columns onto them);
    `metrics` the metric names it can report; `options` its option schema;
    `primary_metric` the one rankings use by default. A task whose results do not map one
    to one onto the dataset's rows also defines ``prepare_rows(rows, options)``, returning
    the rows it scores (see prepared_rows): predictions, resume and progress count those.
    """

    name: str
    description: str
    fields: dict[str, Key]
    metrics: tuple[str, ...]
    options: dict[str, Key]
    primary_metric: str
    example_score_name: str

    def need(self, options: dict[str, Any], profile: Profile) -> str:
        """The backend capability this task needs from this model. Raises TaskConfigError
        when the model cannot serve the task."""

    def settings(self, backend: ModelBackend, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Options resolved against the loaded model and the data: recorded with the figures
        and passed to predict. Raises TaskConfigError when the combination cannot work."""

    def predict(self, backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        """Yield scored examples batch by batch (the run stores each batch at once)."""

    def score(self, results: list[ExampleResult], settings: dict[str, Any], scoring: Scoring) -> TaskScores:
        """Corpus-level metrics from the per-example results."""

    def example_score(self, prediction: Any, reference: Any, details: dict[str, Any]) -> float:
        """One example's own score for the report's side-by-side view (`example_score_name`
        says what it is); higher is better. Stored with the example when the task is scored."""

    def sequence_lengths(self, settings: dict[str, Any]) -> tuple[int | None, int]:
        """(the longest input the settings allow or None, tokens generated per example):
        what a memory estimate needs."""
