"""The driver's writing side: worker events applied to the results store, the progress bar and
the run's summary, as they arrive. The driver (driver.py) is the store's only writer, and this
is the one place it writes results from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tqdm.auto import tqdm

from benchbench.errors import readable
from benchbench.run.events import (
    Event,
    Log,
    Predictions,
    Progress,
    ResultOpened,
    RoundFinished,
    TaskFinished,
    TaskStarted,
)
from benchbench.run.job import TaskPlan
from benchbench.run.plan import failure_signature
from benchbench.spec import ModelSpec, TaskSpec
from benchbench.store import Outcome, ResultSettings, Status, Store, StoredStats

LogLine = Callable[[str], None]
REASON_SHOWN = 300  # characters of a reason shown on the terminal (the store keeps it whole)


@dataclass
class RunSummary:
    run_id: str
    database: str
    statuses: dict[str, int] = field(default_factory=dict)
    result_ids: list[int] = field(default_factory=list)  # this run's results, reused ones included
    reused: int = 0  # finished results found in the store and not recomputed
    resumed_examples: int = 0  # examples of interrupted results that were not recomputed
    race: dict[str, int] | None = None  # racing: model-examples a full run scores, and those its stops saved
    workers_started: int = 0  # model workers started (a race keeps each model's across rounds)
    problems: list[str] = field(default_factory=list)  # "model / task: status: reason", for the summary
    missing_metrics: list[str] = field(default_factory=list)  # "model / task: metric: why" (asked for, not computed)

    @property
    def all_ok(self) -> bool:
        """Every result is ok (or stopped by racing, as it should be) with every metric asked for."""
        return set(self.statuses) <= {Status.OK.value, Status.ELIMINATED.value} and not self.missing_metrics

    def count(self, status: Status, result_id: int) -> None:
        self.result_ids.append(result_id)
        self.statuses[status.value] = self.statuses.get(status.value, 0) + 1


@dataclass
class ModelState:
    """The driver's view of one model: the tasks its worker runs next, what finished in the
    current call, how far the task in flight moved the bar, and the worker kept for it."""

    model: ModelSpec
    remaining: list[TaskPlan]  # the tasks no worker has finished yet, in order
    plans: dict[str, TaskPlan] = field(default_factory=dict)  # the current call's, by task name
    finished: set[str] = field(default_factory=set)
    advanced: int = 0
    started: bool = False  # the current call's worker turned to a task
    worker: object | None = None  # executors.Worker, kept between calls (a race's rounds)


class Recorder:
    """Applies a run's events (the module docstring says where to)."""

    def __init__(self, store: Store, run_id: str, suite: str, summary: RunSummary, log: LogLine) -> None:
        self.store, self.run_id, self.suite, self.summary, self.log = store, run_id, suite, summary, log
        self.bar: tqdm | None = None
        self.active: dict[str, str] = {}  # model name: the task its worker is on (the bar's description)
        self.rounds: dict[tuple[str, str], RoundFinished] = {}  # racing: (model, task): its last round
        self.started: set[int] = set()  # results a worker turned to in this run (a race's later rounds keep the time)

    def apply(self, state: ModelState, event: Event) -> None:
        """One event from a worker, applied to the store, the bar and the summary."""
        match event:
            case Log(message):
                self.log(message)
            case Progress(examples):
                state.advanced += examples
                self.advance(examples)
            case TaskStarted(task):
                state.advanced, state.started = 0, True
                result_id = state.plans[task].result_id
                if result_id not in self.started:
                    self.started.add(result_id)
                    self.store.mark_started(result_id)
                self.active[state.model.name] = task
                self.describe_bar()
            case ResultOpened(task):
                self._opened(state.model, state.plans[task])
            case Predictions(task, rows):
                self.store.add_predictions(state.plans[task].result_id, rows)
            case RoundFinished(task):
                state.finished.add(task)
                state.advanced = 0
                self.rounds[(state.model.name, task)] = event
            case TaskFinished(task, outcome, stats, scores):
                state.finished.add(task)
                state.advanced = 0
                self.record(state.model, state.plans[task], outcome, stats, scores)

    def _opened(self, model: ModelSpec, plan: TaskPlan) -> None:
        """The worker starts scoring: say so when it continues an interrupted result."""
        if plan.resumed:
            self.summary.resumed_examples += len(plan.done)
            self.log(f"{model.name} / {plan.task.name}: resuming interrupted result {plan.result_id} "
                     f"({len(plan.done)} of {len(plan.rows)} examples already scored)")

    def record(self, model: ModelSpec, plan: TaskPlan, outcome: Outcome, stats: list[StoredStats] = (),
               example_scores: dict[int, float | None] | None = None) -> None:
        """A planned task's outcome; a failure still says which data and settings it was for."""
        if not outcome.settings.fields:
            outcome = Outcome(outcome.status, outcome.reason, outcome.metrics, outcome.intervals, outcome.measurements,
                              ResultSettings(plan.fields, outcome.settings.resolved), outcome.counts,
                              outcome.model_info)
        assert plan.result_id is not None
        if stats:
            self.store.add_example_stats(plan.result_id, stats)
        if example_scores:
            self.store.set_example_scores(plan.result_id, example_scores)
        self._finish(model, plan.task, plan.result_id, outcome)

    def record_missing(self, model: ModelSpec, task: TaskSpec, reason: str) -> None:
        """A task whose data could not be loaded (nothing was claimed for it): a result of its own."""
        result_id = self.store.begin_result(self.run_id, failure_signature(model, task), self.suite, model.name,
                                            task.name, task.type)
        self._finish(model, task, result_id, Outcome(Status.UNAVAILABLE, reason))

    def _finish(self, model: ModelSpec, task: TaskSpec, result_id: int, outcome: Outcome) -> None:
        self.store.finish_result(result_id, outcome)
        self.count(model.name, task.name, outcome.status, result_id, outcome.reason,
                   outcome.settings.failures)

    def count(self, model: str, task: str, status: Status, result_id: int, reason: str | None,
              metric_failures: dict[str, str] | None = None) -> None:
        """A result of this run (recorded or reused) in the summary, and its problems on the terminal."""
        self.summary.count(status, result_id)
        if status not in (Status.OK, Status.ELIMINATED):
            line = f"{model} / {task}: {status}: {shorten(reason)}"
            self.summary.problems.append(line)
            self.log(line)
        for metric, why in (metric_failures or {}).items():
            line = f"{model} / {task}: metric {metric} was not computed: {shorten(why)}"
            self.summary.missing_metrics.append(line)
            self.summary.problems.append(line)

    def crashed(self, state: ModelState, crash: str | None) -> None:
        """A worker died: the task it was on, if any, is recorded as crashed; the rest remain. A
        worker that never turned to a task (its environment could not start) would fail the same
        way again: then every remaining task is recorded with its reason."""
        remaining = [p for p in state.remaining if p.task.name not in state.finished]
        failed, state.remaining = (remaining, []) if not state.started else (remaining[:1], remaining[1:])
        for in_flight in failed:
            reason = crash or "the model's worker ended without finishing this task"
            self.record(state.model, in_flight, Outcome(Status.CRASHED, reason))
            self.advance(max(0, len(in_flight.rows) - in_flight.shown - state.advanced))  # the bar still ends full
            state.advanced = 0

    def call_ended(self, state: ModelState) -> None:
        self.active.pop(state.model.name, None)
        self.describe_bar()

    def describe_bar(self) -> None:
        """The bar names the task each running model is on."""
        if self.bar is not None:
            self.bar.set_description(", ".join(f"{model} / {task}" for model, task in self.active.items()))

    def advance(self, examples: int) -> None:
        if self.bar is not None and examples:
            self.bar.update(examples)


def shorten(reason: str | None) -> str:
    """A reason's first line, cut to a readable length for the terminal."""
    return readable(str(reason).splitlines()[0], REASON_SHOWN) if reason else ""
