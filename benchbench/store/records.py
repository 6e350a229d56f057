"""The typed records of the results store: what a worker writes and the choosing side reads.

A result's row holds JSON columns (metrics, intervals, measurements, settings, counts, model
info). They are written from and read into these dataclasses only, so every field has one
name and one parser: nothing outside this module digs into the settings blob with `.get()`.
``Status`` names every state a result can be in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any


class Status(str, Enum):
    """A result's state. `running` belongs to a live run (lease.py); the others are final for
    the run that wrote them, and RESUMABLE ones are continued by the next run."""

    RUNNING = "running"
    OK = "ok"
    UNAVAILABLE = "unavailable"  # the model (or the task's data) could not be loaded
    UNSUPPORTED = "unsupported"  # the model cannot do what the task needs
    ERROR = "error"
    OOM = "oom"
    CRASHED = "crashed"  # the worker died during the task
    INCOMPLETE = "incomplete"  # too many of a served model's requests failed
    ELIMINATED = "eliminated"  # stopped by racing: its figures are over the examples it scored

    def __str__(self) -> str:
        return self.value

    @property
    def resumable(self) -> bool:
        """A later run continues the result from the examples it stored (an eliminated one: a
        run without racing scores the rest)."""
        return self in RESUMABLE


RESUMABLE = frozenset({Status.RUNNING, Status.CRASHED, Status.INCOMPLETE, Status.ELIMINATED})


@dataclass(frozen=True)
class RaceVerdict:
    """Why racing stopped a model on a task (or, round 0, why it never started): the round, the
    examples then scored, and the paired evidence against the round's leader."""

    round: int
    examples: int | None = None
    metric: str | None = None
    leader: str | None = None
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    test: str | None = None
    n: int | None = None
    one_sided_p: float | None = None
    level: float | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RaceVerdict":
        return cls(**{k: v for k, v in raw.items() if k in _FIELDS[cls]})


@dataclass(frozen=True)
class ResultSettings:
    """What a result was computed with. `fields`: what the signature hashes (model, task, data,
    metrics, ...); `resolved`: the task's options resolved against the model, with the metric
    options and the bootstrap; the batch size asked for and used; each metric's own
    signature and any metric that failed; racing's verdict for an eliminated result."""

    fields: dict[str, Any] = field(default_factory=dict)
    # None: not recorded (a failure before the settings were resolved); read through the properties below
    resolved: dict[str, Any] | None = None
    batch_size: Any = None
    batch_size_used: int | None = None
    batch_size_retries: int | None = None
    metric_signatures: dict[str, str] | None = None
    metric_failures: dict[str, str] | None = None
    race: RaceVerdict | None = None
    score_info: dict[str, dict[str, Any]] | None = None  # catalogue entries of scores the catalogue lacks

    @property
    def data_fingerprint(self) -> str | None:
        """The fingerprint of the exact examples scored (None for a failure before any data was read)."""
        return (self.fields.get("dataset") or {}).get("fingerprint")

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics the suite asked for (empty: the task type's defaults)."""
        return tuple((self.fields.get("task") or {}).get("metrics") or ())

    @property
    def metric_options(self) -> dict[str, dict[str, Any]]:
        return dict(self.task_settings.get("metric_options") or {})

    @property
    def bootstrap(self) -> tuple[int, int | None]:
        """(resamples, seed) of the result's intervals (seed None: the store did not say)."""
        bootstrap = self.task_settings.get("bootstrap") or {}
        return int(bootstrap.get("resamples", 1000)), bootstrap.get("seed")

    @property
    def task_settings(self) -> dict[str, Any]:
        """The resolved settings as the task type reads them back (scoring, sequence lengths)."""
        return dict(self.resolved or {})

    @property
    def failures(self) -> dict[str, str]:
        """Per metric that could not be computed, why."""
        return dict(self.metric_failures or {})

    @property
    def recorded_scores(self) -> dict[str, dict[str, Any]]:
        """The catalogue entries this result recorded for scores the built-in catalogue lacks."""
        return dict(self.score_info or {})

    def to_dict(self) -> dict[str, Any]:
        """As stored: the signature's fields under "signature"; what was not recorded left out."""
        out: dict[str, Any] = {"signature": self.fields}
        for name in ("resolved", "batch_size", "batch_size_used", "batch_size_retries", "metric_signatures",
                     "metric_failures", "score_info"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.race is not None:
            out["race"] = {k: v for k, v in asdict(self.race).items() if v is not None}
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> "ResultSettings":
        raw = raw or {}
        race = raw.get("race")
        return cls(fields=dict(raw.get("signature") or {}), resolved=raw.get("resolved"),
                   batch_size=raw.get("batch_size"), batch_size_used=raw.get("batch_size_used"),
                   batch_size_retries=raw.get("batch_size_retries"), metric_signatures=raw.get("metric_signatures"),
                   metric_failures=raw.get("metric_failures"), score_info=raw.get("score_info"),
                   race=RaceVerdict.from_dict(race) if isinstance(race, dict) else None)


@dataclass(frozen=True)
class Outcome:
    """What a finished task records: its status and reason, and the result's JSON columns."""

    status: Status
    reason: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    intervals: dict[str, dict[str, Any]] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)
    settings: ResultSettings = field(default_factory=ResultSettings)
    counts: dict[str, Any] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, Any]:
        """The JSON columns as the store writes them."""
        return {"metrics": self.metrics, "intervals": self.intervals, "measurements": self.measurements,
                "settings": self.settings.to_dict(), "counts": self.counts, "model_info": self.model_info}


@dataclass(frozen=True)
class ResultRecord:
    """One stored model x task attempt, read back. `environment`: where it was measured (a
    remote worker's own, else its run's)."""

    result_id: int
    run_id: str
    signature: str
    suite: str
    model: str
    task: str
    task_type: str
    status: Status
    reason: str | None
    metrics: dict[str, float | None]
    intervals: dict[str, dict[str, Any]]
    measurements: dict[str, Any]
    settings: ResultSettings
    counts: dict[str, Any]
    model_info: dict[str, Any]
    started_at: str
    finished_at: str | None
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def examples(self) -> int | None:
        """How many examples the figures are over."""
        value = self.counts.get("examples")
        return None if value is None else int(value)

    @property
    def baselines(self) -> dict[str, float]:
        """What a trivial answer scores on this data, per metric (classification: the majority class)."""
        return dict(self.counts.get("baselines") or {})

    @property
    def output_flags(self) -> list[str]:
        """Degenerate outputs the task noticed (one label for every example, empty or copied outputs)."""
        return list(self.counts.get("output_flags") or [])

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def first_reason_line(self) -> str:
        return str(self.reason).splitlines()[0] if self.reason else ""


@dataclass(frozen=True)
class StoredStats:
    """One metric's per-example statistics as the store keeps them: the rule that scores their
    sums (metrics.sums.SumScore as a dict), and the example indices and the statistics matrix
    (examples x columns) as compressed bytes (metrics.sums.ExampleStats encodes and decodes)."""

    metric: str
    scorer: dict[str, Any]
    examples: int
    columns: int
    indices: bytes
    values: bytes


_FIELDS = {cls: {f.name for f in fields(cls)} for cls in (RaceVerdict,)}
