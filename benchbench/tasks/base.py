"""The small protocol every task type implements, and the per-example record it yields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Protocol

from benchbench.metrics.bootstrap import Interval
from benchbench.models.loading import LoadedModel
from benchbench.schema import Key


@dataclass
class ExampleResult:
    """One scored example: what went in, what came out, the gold answer, and the numbers
    the metrics are computed from (so figures can be recomputed from stored rows)."""

    index: int
    input: str
    prediction: Any
    reference: Any
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TaskScores:
    """A task's corpus-level figures, their 95% intervals, and each metric's signature."""

    scores: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)

    def add(self, other: "TaskScores") -> None:
        self.scores |= other.scores
        self.intervals |= other.intervals
        self.signatures |= other.signatures


def score_metrics(names: tuple[str, ...] | list[str], predictions: list[Any], references: list[Any],
                  settings: dict[str, Any], **extra: Any) -> TaskScores:
    """Registry metrics over the predictions, with intervals (settings['bootstrap']) and
    the suite's per-metric options (settings['metric_options'])."""
    from benchbench import metrics

    bootstrap = settings.get("bootstrap", {"resamples": 1000, "seed": 12345})
    out = TaskScores()
    for name in names:
        options = {**extra, **settings.get("metric_options", {}).get(name, {})}
        result = metrics.score(name, predictions, references, **options)
        intervals = result.intervals(bootstrap["resamples"], bootstrap["seed"]) if bootstrap["resamples"] else {}
        out.add(TaskScores(dict(result.scores), intervals, {name: result.signature}))
    return out


def prepared_rows(task_type: "TaskType", rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a task scores, one result each: the task's optional ``prepare_rows(rows,
    options)`` (e.g. perplexity's `join` makes one document of all rows), else the rows."""
    prepare = getattr(task_type, "prepare_rows", None)
    return prepare(rows, options) if prepare else rows


class TaskType(Protocol):
    """A task type: how examples become model inputs, predictions and metrics.

    `fields` are the canonical example fields (the suite maps dataset columns onto them);
    `metrics` the metric names it can report; `options` its option schema. A task whose
    results do not map one to one onto the dataset's rows also defines
    ``prepare_rows(rows, options)``, returning the rows it scores (see prepared_rows):
    predictions, resume and progress then count those.
    """

    name: str
    description: str
    fields: dict[str, Key]
    metrics: tuple[str, ...]
    options: dict[str, Key]

    def head(self, options: dict[str, Any], config: Any, family: str) -> str:
        """Which model head (models.HEADS key) this task needs for this model."""

    def settings(self, loaded: LoadedModel, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Options resolved against the model and data: recorded with the figures and
        passed to predict. Raises TaskConfigError when the combination cannot work."""

    def predict(self, loaded: LoadedModel, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        """Yield scored examples batch by batch (the runner stores each batch at once)."""

    def score(self, results: list[ExampleResult], settings: dict[str, Any],
              metrics: tuple[str, ...]) -> TaskScores:
        """Corpus-level metrics from the per-example results (`metrics` empty: defaults)."""
