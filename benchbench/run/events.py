"""What a worker tells the driver while it runs a model's tasks: typed, picklable records.

Workers never open the results store; the driver (driver.py) is its single writer and
applies each event as it arrives, so a worker in another process, or on another machine,
needs nothing but a way to send these. Events of one task come in this order:
``TaskStarted``, then ``ResultOpened`` (only when the task gets as far as scoring), any
number of ``Predictions``, ``Progress`` and ``Log``, and last ``TaskFinished`` (or, for a race's
round, ``RoundFinished``: the task goes on in the next round).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Union

from benchbench.errors import readable
from benchbench.measure.segment import MeterSegment
from benchbench.metrics.sums import ExampleStats
from benchbench.store.records import Outcome, StoredStats


@dataclass(frozen=True)
class Log:
    """A line for the user (a model loaded, a task failed), cut to a readable length."""

    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", readable(self.message))


@dataclass(frozen=True)
class Progress:
    """Examples done, for the progress bar."""

    examples: int


@dataclass(frozen=True)
class TaskStarted:
    """The worker turns to a task (the model may load next)."""

    task: str


@dataclass(frozen=True)
class ResultOpened:
    """The task's examples start being scored: the driver opens its result (or resumes the
    interrupted one the plan named) so that predictions can be stored under it."""

    task: str


@dataclass(frozen=True)
class Predictions:
    """Scored examples of a task (ExampleResult.to_dict rows), stored at once."""

    task: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class TaskFinished:
    """A task's outcome (store.Outcome: status, reason, the result's JSON columns), with the
    per-example statistics of its scores and each example's own score, stored with it."""

    task: str
    outcome: Outcome
    stats: list[StoredStats] = field(default_factory=list)
    example_scores: dict[int, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every reason a worker sends is stored and shown: cut it to a readable length here,
        whatever raised it (a library's message may quote a whole input)."""
        if self.outcome.reason is not None:
            object.__setattr__(self, "outcome", replace(self.outcome, reason=readable(self.outcome.reason)))


@dataclass(frozen=True)
class RoundFinished:
    """A race's round ended for a task: the examples asked for are stored. With it, what the
    driver needs to decide who goes on and to record a stopped model: the settings resolved,
    the scores and per-example statistics over the examples scored so far, and the round's
    measurement (the next round, or the final one, continues from it)."""

    task: str
    resolved: dict[str, Any]
    scores: dict[str, float]
    stats: dict[str, ExampleStats]
    segment: MeterSegment
    model_info: dict[str, Any] = field(default_factory=dict)  # the model as loaded (ModelInfo.to_dict)
    context: dict[str, Any] = field(default_factory=dict)  # where it was measured (threads, a remote environment)


Event = Union[Log, Progress, TaskStarted, ResultOpened, Predictions, TaskFinished, RoundFinished]
Emit = Callable[[Event], None]


class EmitFailed(BaseException):
    """The driver could not apply an event (e.g. its store cannot be written): not a failure
    of the task, so the worker does not record it as one; the run stops. A BaseException,
    as RunInterrupted is, so that no `except Exception` between the emit and the driver (a
    task's failure, a batch's out-of-memory retry) takes it for the task's own error."""
