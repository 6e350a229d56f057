"""Run a suite: the driver loads each task's examples once, plans each model (plan.py), hands
the planned tasks to an executor (executors/) and applies the events the worker sends back.

The driver is the only writer of the results store: results are opened, predictions stored
and outcomes recorded here, as the events arrive, so a worker killed mid-task loses only
what was in flight. When a worker dies, the task it was on is recorded as ``crashed`` (its
stored predictions stay, for a later resume) and the model's remaining tasks go to a new
worker. The driver also keeps the progress bar and the run's summary.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

from tqdm.auto import tqdm

from benchbench.data import Examples, load_examples
from benchbench.errors import DatasetUnavailable
from benchbench.run.events import Event, Log, Predictions, Progress, ResultOpened, TaskFinished, TaskStarted
from benchbench.run.executors import executor_for
from benchbench.run.job import ModelJob, TaskPlan
from benchbench.run.plan import failure_signature, plan_model
from benchbench.spec import ModelSpec, Suite, TaskSpec
from benchbench.store import Store
from benchbench.tasks import TASK_TYPES

LogLine = Callable[[str], None]


@dataclass
class RunSummary:
    run_id: str
    database: str
    statuses: dict[str, int] = field(default_factory=dict)
    result_ids: list[int] = field(default_factory=list)  # this run's results, reused ones included
    reused: int = 0  # finished results found in the store and not recomputed
    resumed_examples: int = 0  # examples of interrupted results that were not recomputed

    @property
    def all_ok(self) -> bool:
        return set(self.statuses) <= {"ok"}

    def count(self, status: str, result_id: int) -> None:
        self.result_ids.append(result_id)
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class _ModelState:
    """The driver's view of one worker: which result each task writes to, what finished,
    and how far the task in flight moved the progress bar."""

    model: ModelSpec
    plans: dict[str, TaskPlan]
    result_ids: dict[str, int] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    advanced: int = 0


class Driver:
    def __init__(self, suite: Suite, output: str, progress: bool = True, command: str = "",
                 log: LogLine = tqdm.write, fresh: bool = False) -> None:
        from benchbench.backends.hf.loading import resolve_device

        self.suite, self.progress, self.command, self.log, self.fresh = suite, progress, command, log, fresh
        self.device = resolve_device(suite.runtime.device)
        self.executor = executor_for(suite.runtime)
        self.store = Store(output)
        self.run_id = uuid.uuid4().hex[:12]
        self.summary = RunSummary(self.run_id, str(self.store.path))
        self.bar: tqdm | None = None

    def run(self) -> RunSummary:
        from benchbench.measure import environment

        suite = self.suite
        self.store.begin_run(self.run_id, suite.name, suite.path, self.command,
                             environment(self.device) | {"isolation": suite.runtime.isolation})
        status = "interrupted"
        try:
            examples = {task.name: self._examples(task) for task in suite.tasks}
            total = sum(len(e) for e in examples.values() if isinstance(e, Examples)) * len(suite.models)
            with tqdm(total=total, unit="ex", disable=not self.progress, dynamic_ncols=True) as self.bar:
                for model in suite.models:
                    self._run_model(model, examples)
            status = "finished"
        finally:
            self.store.finish_run(self.run_id, status)
            self.store.close()
        return self.summary

    def _examples(self, task: TaskSpec) -> Examples | DatasetUnavailable:
        try:
            return load_examples(task.dataset, TASK_TYPES[task.type].fields, self.suite.runtime.seed, task.name)
        except DatasetUnavailable as exc:
            self.log(str(exc))
            return exc

    def _run_model(self, model: ModelSpec, examples: dict[str, Examples | DatasetUnavailable]) -> None:
        """Reuse, record what cannot run, then run the rest: one worker, plus one more after
        each crash for the tasks still to run (a suite whose results are all stored starts none)."""
        plan = plan_model(self.suite, model, examples, self.store, self.device, self.fresh)
        for task in self.suite.tasks:
            if task.name in plan.reused:
                result_id, count = plan.reused[task.name]
                self.log(f"{model.name} / {task.name}: reusing finished result {result_id} "
                         f"(same settings signature; --fresh recomputes)")
                self.summary.count("ok", result_id)
                self.summary.reused += 1
                self._advance(count)
            elif task.name in plan.missing:
                self._record(model, task, None, "unavailable", str(plan.missing[task.name]))
        self._advance(plan.merged_rows)
        remaining = plan.pending
        while remaining:
            state = _ModelState(model, {p.task.name: p for p in remaining})
            crash = self.executor.run(ModelJob(model, self.suite.runtime, self.device, remaining),
                                      lambda event: self.apply(state, event))
            remaining = [p for p in remaining if p.task.name not in state.finished]
            if remaining:
                in_flight, remaining = remaining[0], remaining[1:]
                reason = crash or "the model's worker ended without finishing this task"
                self._record(model, in_flight.task, state.result_ids.get(in_flight.task.name), "crashed", reason,
                             {"settings": {"signature": in_flight.fields}})
                self._advance(max(0, len(in_flight.rows) - state.advanced))  # the bar still ends full

    def apply(self, state: _ModelState, event: Event) -> None:
        """One event from a worker, applied to the store, the bar and the summary."""
        match event:
            case Log(message):
                self.log(message)
            case Progress(examples):
                state.advanced += examples
                self._advance(examples)
            case TaskStarted(task):
                state.advanced = 0
                if self.bar is not None:
                    self.bar.set_description(f"{state.model.name} / {task}")
            case ResultOpened(task):
                state.result_ids[task] = self._open_result(state.model, state.plans[task])
            case Predictions(task, rows):
                self.store.add_predictions(state.result_ids[task], rows)
            case TaskFinished(task, status, reason, fields):
                state.finished.add(task)
                state.advanced = 0
                plan = state.plans[task]  # a failure still says which data and settings it was for
                self._record(state.model, plan.task, state.result_ids.get(task), status, reason,
                             fields or {"settings": {"signature": plan.fields}})

    def _open_result(self, model: ModelSpec, plan: TaskPlan) -> int:
        """Continue the interrupted result the plan named, or start a new one."""
        if plan.resume_id is None:
            return self.store.begin_result(self.run_id, plan.signature, self.suite.name, model.name,
                                           plan.task.name, plan.task.type)
        self.store.adopt_result(plan.resume_id, self.run_id)
        self.summary.resumed_examples += len(plan.done)
        self.log(f"{model.name} / {plan.task.name}: resuming interrupted result {plan.resume_id} "
                 f"({len(plan.done)} of {len(plan.rows)} examples already scored)")
        return plan.resume_id

    def _record(self, model: ModelSpec, task: TaskSpec, result_id: int | None, status: str, reason: str | None,
                fields: dict | None = None) -> None:
        """A task's outcome: into its open result, or a new result row for a task that
        failed before it was opened."""
        if result_id is None:
            result_id = self.store.begin_result(self.run_id, failure_signature(model, task), self.suite.name,
                                                model.name, task.name, task.type)
        if status != "ok":
            self.log(f"{model.name} / {task.name}: {status}: {str(reason).splitlines()[0]}")
        self.store.finish_result(result_id, status, reason, **(fields or {}))
        self.summary.count(status, result_id)

    def _advance(self, examples: int) -> None:
        if self.bar is not None and examples:
            self.bar.update(examples)
