"""Run a suite: load each task's examples once, then run the models one after another,
each in a child process of its own (benchbench.isolation) or, with
`runtime.isolation: none`, in this process (benchbench.model_runner).

Results and per-example predictions are written to the store while the run goes; this
module keeps the progress bar and the run's summary.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

from tqdm.auto import tqdm

from benchbench.data import Examples, load_examples
from benchbench.errors import DatasetUnavailable
from benchbench.isolation import run_model_isolated
from benchbench.measure import environment
from benchbench.model_runner import ModelRunner, examples_count
from benchbench.models.loading import resolve_device
from benchbench.store import Store
from benchbench.suite import Suite, TaskSpec
from benchbench.tasks import TASK_TYPES

Log = Callable[[str], None]


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


class ProgressEvents:
    """RunEvents of this process: a progress bar, log lines and the run's summary."""

    def __init__(self, bar: tqdm, log: Log, summary: RunSummary) -> None:
        self.bar, self._log, self.summary = bar, log, summary

    def log(self, message: str) -> None:
        self._log(message)

    def advance(self, examples: int) -> None:
        self.bar.update(examples)

    def describe(self, text: str) -> None:
        self.bar.set_description(text)

    def result(self, task_name: str, status: str, result_id: int, reused: bool) -> None:
        self.summary.result_ids.append(result_id)
        self.summary.statuses[status] = self.summary.statuses.get(status, 0) + 1
        self.summary.reused += reused

    def resumed(self, examples: int) -> None:
        self.summary.resumed_examples += examples


class Runner:
    def __init__(self, suite: Suite, output: str, progress: bool = True, command: str = "",
                 log: Log = tqdm.write, fresh: bool = False) -> None:
        self.suite, self.progress, self.command, self.log, self.fresh = suite, progress, command, log, fresh
        self.device = resolve_device(suite.runtime.device)
        self.store = Store(output)
        self.run_id = uuid.uuid4().hex[:12]
        self.summary = RunSummary(self.run_id, str(self.store.path))

    def run(self) -> RunSummary:
        suite = self.suite
        self.store.begin_run(self.run_id, suite.name, suite.path, self.command,
                             environment(self.device) | {"isolation": suite.runtime.isolation})
        status = "interrupted"
        try:
            examples = {task.name: self._examples(task) for task in suite.tasks}
            total = sum(examples_count(e) for e in examples.values()) * len(suite.models)
            with tqdm(total=total, unit="ex", disable=not self.progress, dynamic_ncols=True) as bar:
                events = ProgressEvents(bar, self.log, self.summary)
                for model in suite.models:
                    if suite.runtime.isolation == "process":
                        run_model_isolated(suite, self.store, self.run_id, self.device, self.fresh, model,
                                           examples, events)
                    else:
                        ModelRunner(suite, self.store, self.run_id, self.device, self.fresh, events).run(
                            model, examples, list(suite.tasks))
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
