"""Run a suite: the driver loads each task's examples once, plans each model (plan.py), runs the
planned tasks on the models' workers (dispatch.py; a race's rounds: racing.py), and writes
what the workers report (recorder.py).

The driver is the only writer of the results store: results are opened, predictions stored
and outcomes recorded in this process, as the events arrive, so a worker killed mid-task loses
only what was in flight. When a worker dies, the task it was on is recorded as ``crashed`` (its
stored predictions stay, for a later resume) and the model's remaining tasks go to a new worker.
At the end it waits for the results other live runs were computing, and reuses them.
"""

from __future__ import annotations

import time
import uuid
from typing import Iterator

from tqdm.auto import tqdm

from benchbench.data import Examples, load_examples
from benchbench.errors import DatasetUnavailable
from benchbench.run.dispatch import Dispatcher
from benchbench.run.executors import Executor, executor_for
from benchbench.run.plan import plan_model
from benchbench.run.racing import Race
from benchbench.run.recorder import LogLine, ModelState, Recorder, RunSummary
from benchbench.spec import ModelSpec, Suite, TaskSpec
from benchbench.store import Status, Store
from benchbench.store.lease import HEARTBEAT_SECONDS, Heartbeat, Owner
from benchbench.tasks import TASK_TYPES

WAIT_SECONDS = HEARTBEAT_SECONDS  # how often a run looks again at results another run is computing


class Driver:
    def __init__(self, suite: Suite, output: str, progress: bool = True, command: str = "",
                 log: LogLine = tqdm.write, fresh: bool = False, up_front: dict[str, str] | None = None,
                 executor: Executor | None = None) -> None:
        """`up_front`: racing's models that stop before the first round, by name, with the reason
        (estimate.weights_over_budget for race.max_memory_gb); `executor`: where workers run
        (default: the suite's runtime says)."""
        self.suite, self.progress, self.command, self.log, self.fresh = suite, progress, command, log, fresh
        self.up_front = up_front or {}
        self.executor = executor or executor_for(suite.runtime)
        self.device = self.executor.device(suite.runtime.device)
        self.store = Store(output)
        self.run_id = uuid.uuid4().hex[:12]
        self.owner = Owner.me()  # this process, as the lease records it and liveness checks compare
        self.summary = RunSummary(self.run_id, str(self.store.path))
        self.recorder = Recorder(self.store, self.run_id, suite.name, self.summary, log)
        self.dispatcher = Dispatcher(self.executor, self.recorder, suite.runtime, self.device)

    @property
    def bar(self) -> tqdm | None:
        return self.recorder.bar

    def run(self) -> RunSummary:
        """Run every model; then wait for the results that other live runs were computing."""
        from benchbench.measure import environment

        suite = self.suite
        # with workers elsewhere, this machine's own facts (it may have no GPU); the workers' device is in describe()
        here = "cpu" if self.executor.remote else self.device
        self.store.begin_run(self.run_id, suite.name, suite.path, self.command,
                             environment(here) | {"isolation": suite.runtime.isolation} | self.executor.describe(),
                             self.owner)
        status = "interrupted"
        try:
            with Heartbeat(self.store.path, self.run_id):
                examples = {task.name: self._examples(task) for task in suite.tasks}
                total = sum(len(e) for e in examples.values() if isinstance(e, Examples)) * len(suite.models)
                with tqdm(total=total, unit="ex", disable=not self.progress, dynamic_ncols=True) as self.recorder.bar:
                    waiting = self._run_models({model.name: list(suite.tasks) for model in suite.models}, examples)
                    self._wait_for_other_runs(waiting, examples)
            status = "finished"
        finally:
            try:  # interrupted: the executor stops what runs first, then kept workers are let go
                first, then = (self.dispatcher.close_all, self.executor.close) if status == "finished" else \
                    (self.executor.close, self.dispatcher.close_all)
                try:
                    first()
                finally:
                    then()
            finally:  # the run is recorded as it ended even when the cluster is gone
                self.store.finish_run(self.run_id, status)
                self.store.close()
        return self.summary

    def _wait_for_other_runs(self, waiting: dict[str, list[TaskSpec]],
                             examples: dict[str, Examples | DatasetUnavailable]) -> None:
        """Results another live run holds are taken up when it finishes them (reused) or dies
        (resumed here), so this run ends with every result of the suite."""
        while any(waiting.values()):
            time.sleep(WAIT_SECONDS)
            waiting = self._run_models({name: tasks for name, tasks in waiting.items() if tasks}, examples,
                                       quiet=True)

    def _examples(self, task: TaskSpec) -> Examples | DatasetUnavailable:
        try:
            return load_examples(task.dataset, TASK_TYPES[task.type].fields, self.suite.runtime.seed, task.name)
        except DatasetUnavailable as exc:
            self.log(str(exc))
            return exc

    def _run_models(self, tasks: dict[str, list[TaskSpec]], examples: dict[str, Examples | DatasetUnavailable],
                    quiet: bool = False) -> dict[str, list[TaskSpec]]:
        """Plan and run the named models' tasks: one model after another, or all at once on a
        parallel executor, or in a race's rounds. Returns, per model, the tasks a live run
        elsewhere is computing."""
        models = {model.name: model for model in self.suite.models}
        waiting: dict[str, list[TaskSpec]] = {}
        racing = self.suite.runtime.race is not None and not quiet
        if racing and self.suite.runtime.no_weights:
            self.log("racing is off: random weights give no predictions to compare (--no-weights)")
            racing = False

        def planned() -> Iterator[ModelState]:  # planned one by one, just before each model runs
            for name, model_tasks in tasks.items():
                state, waiting[name] = self._plan(models[name], model_tasks, examples, quiet)
                yield state

        if racing:
            race = Race(self.suite, self.store, self.recorder, self.dispatcher, self.log, self.up_front,
                        self._keep_racing_workers())
            self.summary.race = race.run(list(planned()))
        else:
            self.dispatcher.run(planned())
        return waiting

    def _keep_racing_workers(self) -> bool:
        """race.keep_workers, with auto: keep, unless the racing models cannot all be held at once
        (their weights in this machine's memory, or their actors on the cluster)."""
        from benchbench.estimate import weights_gib

        race = self.suite.runtime.race
        assert race is not None
        if race.keep_workers != "auto":
            return bool(race.keep_workers)
        racing = [m for m in self.suite.models if m.name not in self.up_front]
        known = weights_gib(racing, self.suite.runtime.dtype)
        why_not = self.executor.holds_at_once(self.device, [known.get(m.name, 0.0) for m in racing])
        if why_not:
            self.log(f"racing: {why_not}, so each round loads the models again (race.keep_workers: auto)")
        return why_not is None

    def _plan(self, model: ModelSpec, tasks: list[TaskSpec], examples: dict[str, Examples | DatasetUnavailable],
              quiet: bool) -> tuple[ModelState, list[TaskSpec]]:
        """Claim the model's results; reuse and record what cannot run. Returns what its
        workers run, and the tasks a live run elsewhere is computing (`quiet`: said before)."""
        plan = plan_model(self.suite, model, tasks, examples, self.store, self.run_id, self.device, self.fresh,
                          self.owner)
        for task in tasks:
            if task.name in plan.elsewhere and not quiet:
                owner = plan.elsewhere[task.name]
                self.log(f"{model.name} / {task.name}: run {owner['run_id']} (pid {owner['pid']} on {owner['host']}) "
                         f"is computing it; this run takes it up when that one finishes or stops")
            if task.name in plan.reused:
                reused = plan.reused[task.name]
                copied = f", copied from result {reused.copied_from} (another name)" if reused.copied_from else ""
                self.log(f"{model.name} / {task.name}: reusing {'finished' if reused.status is Status.OK else reused.status} "
                         f"result {reused.result_id}{copied} (same settings signature; --fresh recomputes)")
                self.recorder.count(model.name, task.name, reused.status, reused.result_id, reused.reason,
                                    reused.metric_failures)
                self.summary.reused += 1
                self.recorder.advance(reused.examples)
            elif task.name in plan.missing:
                self.recorder.record_missing(model, task, str(plan.missing[task.name]))
        self.recorder.advance(plan.merged_rows)
        return ModelState(model, plan.pending), [task for task in tasks if task.name in plan.elsewhere]
