"""Run a suite: the driver loads each task's examples once, plans each model (plan.py), hands
the planned tasks to an executor (executors/) and applies the events the worker sends back.

The driver is the only writer of the results store: results are opened, predictions stored
and outcomes recorded here, as the events arrive, so a worker killed mid-task loses only
what was in flight. When a worker dies, the task it was on is recorded as ``crashed`` (its
stored predictions stay, for a later resume) and the model's remaining tasks go to a new
worker. The driver also keeps the progress bar and the run's summary.

A local executor runs one model at a time, in this thread. A parallel one (Ray) is given
every model's job at once: each job's blocking ``run`` waits in a thread of its own and
passes its events through a queue, and this thread alone plans, applies events and writes
the store, so the store has one writer however many models run.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator

from tqdm.auto import tqdm

from benchbench.data import Examples, load_examples
from benchbench.errors import DatasetUnavailable
from benchbench.lease import HEARTBEAT_SECONDS, Heartbeat, Owner
from benchbench.run.events import ROUND, Event, Log, Predictions, Progress, ResultOpened, TaskFinished, TaskStarted
from benchbench.run.executors import executor_for
from benchbench.run.job import ModelJob, TaskPlan
from benchbench.run.plan import failure_signature, plan_model
from benchbench.run.race import Stop, race_order, round_size, stop_level, stops
from benchbench.spec import ModelSpec, Suite, TaskSpec
from benchbench.store import Store
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import Scoring
from benchbench.tasks.paired import TaskEvidence

LogLine = Callable[[str], None]
WAIT_SECONDS = HEARTBEAT_SECONDS  # how often a run looks again at results another run is computing


@dataclass
class RunSummary:
    run_id: str
    database: str
    statuses: dict[str, int] = field(default_factory=dict)
    result_ids: list[int] = field(default_factory=list)  # this run's results, reused ones included
    reused: int = 0  # finished results found in the store and not recomputed
    resumed_examples: int = 0  # examples of interrupted results that were not recomputed
    race: dict[str, int] | None = None  # racing: model-examples a full run scores, and those its stops saved

    @property
    def all_ok(self) -> bool:
        """Every result is ok, or stopped by racing as it should be."""
        return set(self.statuses) <= {"ok", "eliminated"}

    def count(self, status: str, result_id: int) -> None:
        self.result_ids.append(result_id)
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class _ModelState:
    """The driver's view of one model: the tasks its next worker runs, what finished, and how
    far the task in flight moved the progress bar."""

    model: ModelSpec
    remaining: list[TaskPlan]  # the tasks no worker has finished yet, in order
    plans: dict[str, TaskPlan] = field(default_factory=dict)  # the current worker's, by task name
    finished: set[str] = field(default_factory=set)
    advanced: int = 0
    started: bool = False  # the current worker turned to a task


@dataclass(frozen=True)
class _JobEnded:
    """A parallel job's end, sent through the queue after its last event: why its worker
    stopped early (None: it did not), or the executor's own error, raised in the driver."""

    crash: str | None
    error: BaseException | None = None


class Driver:
    def __init__(self, suite: Suite, output: str, progress: bool = True, command: str = "",
                 log: LogLine = tqdm.write, fresh: bool = False, up_front: dict[str, str] | None = None) -> None:
        """`up_front`: racing's models that stop before the first round, by name, with the reason
        (estimate.weights_over_budget for race.max_memory_gb)."""
        self.suite, self.progress, self.command, self.log, self.fresh = suite, progress, command, log, fresh
        self.up_front = up_front or {}
        self.executor = executor_for(suite.runtime)
        self.device = self.executor.device(suite.runtime.device)
        self.store = Store(output)
        self.run_id = uuid.uuid4().hex[:12]
        self.owner = Owner.me()  # this process, as the lease records it and liveness checks compare
        self.summary = RunSummary(self.run_id, str(self.store.path))
        self.bar: tqdm | None = None
        self.active: dict[str, str] = {}  # model name: the task its worker is on (the bar's description)
        self.round_settings: dict[tuple[str, str], dict] = {}  # racing: (model, task) that ended the round: resolved settings
        self.race_saved = 0  # racing: examples that stopped models did not score

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
                with tqdm(total=total, unit="ex", disable=not self.progress, dynamic_ncols=True) as self.bar:
                    waiting = self._run_models({model.name: list(suite.tasks) for model in suite.models}, examples)
                    self._wait_for_other_runs(waiting, examples)
            status = "finished"
        finally:
            try:
                self.executor.close()
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
        parallel executor. Returns, per model, the tasks a live run elsewhere is computing."""
        models = {model.name: model for model in self.suite.models}
        waiting: dict[str, list[TaskSpec]] = {}
        racing = self.suite.runtime.race is not None and not quiet
        if racing and self.suite.runtime.no_weights:
            self.log("racing is off: random weights give no predictions to compare (--no-weights)")
            racing = False
        if racing:
            states = []
            for name, model_tasks in tasks.items():
                state, waiting[name] = self._plan(models[name], model_tasks, examples, quiet)
                states.append(state)
            self._race(states)
            return waiting

        def planned() -> Iterator[_ModelState]:  # planned one by one, just before each model runs
            for name, model_tasks in tasks.items():
                state, waiting[name] = self._plan(models[name], model_tasks, examples, quiet)
                yield state

        self._dispatch(planned())
        return waiting

    def _race(self, states: list[_ModelState]) -> None:
        """Racing (run/race.py): every model's planned tasks round by round on a growing prefix
        of each task's examples; between rounds, the models that cannot win a task stop there."""
        race, runtime = self.suite.runtime.race, self.suite.runtime
        assert race is not None
        plans = {(state.model.name, plan.task.name): plan for state in states for plan in state.remaining}
        racing = {task: [m for (m, t) in plans if t == task] for (_, task) in plans}
        specs = {plan.task.name: plan.task for plan in plans.values()}
        orders = {task: race_order(len(plans[(models[0], task)].rows), runtime.seed) for task, models in racing.items()}
        specs_of = {state.model.name: state.model for state in states}
        for (model, task), plan in plans.items():
            if model in self.up_front:  # a constraint rules it out before any example is scored
                self._record_plan(specs_of[model], plan, "eliminated", self.up_front[model], {
                    "counts": {"examples": 0}, "settings": {"signature": plan.fields, "race": {"round": 0}}})
                self._advance(len(plan.rows))
                self.race_saved += len(plan.rows)
                racing[task].remove(model)
        looks = len(race.rounds) - 1
        # the bound counts every model of the suite, so a resumed race (fewer left to run) stops no more readily
        levels = {task: stop_level(race, looks, len(self.suite.models)) for task in racing}
        evidence: dict[str, TaskEvidence] = {}  # per task: the examples stored by the end of the last round
        for number, fraction in enumerate(race.rounds, start=1):
            self.round_settings = {}
            round_states = []
            for state in states:
                round_plans = [self._round_plan(plans[(state.model.name, task)], orders[task], fraction,
                                                evidence[task].examples[state.model.name] if task in evidence else None)
                               for task in [p.task.name for p in state.remaining] if state.model.name in racing[task]]
                if round_plans:
                    round_states.append(_ModelState(state.model, round_plans))
            self._dispatch(iter(round_states))
            for task, models in racing.items():  # a model whose round failed (error, crash) has its status
                racing[task] = [m for m in models if (m, task) in self.round_settings]
            if fraction >= 1:
                break
            for task, models in racing.items():
                prefix = tuple(orders[task][:round_size(len(orders[task]), fraction)])
                evidence[task] = found = self._race_evidence(specs[task], models, plans)
                metric = race.metric or TASK_TYPES[specs[task].type].primary_metric
                first = tuple(i for i in prefix if i in found.examples[models[0]]) if models else ()
                if number == 1 and first and metric not in found.scored(models[0], first).stats:
                    self.log(f"racing: task {task} computes no per-example {metric}, so no model stops on it "
                             f"(add {metric} to the task's metrics, or set race.metric)")
                for model, stop in stops(found, models, metric, prefix, levels[task]).items():
                    self._eliminate(specs_of[model], plans[(model, task)], found, stop, metric, number, prefix)
                    models.remove(model)
        self.summary.race = {"full": sum(len(p.rows) for p in plans.values()), "saved": self.race_saved}

    def _round_plan(self, plan: TaskPlan, order: list[int], fraction: float,
                    stored: dict[int, ExampleResult] | None) -> TaskPlan:
        """A task's plan for one round: the prefix to have scored by its end (all in the last),
        continuing from the examples `stored` by the end of the last round (counted on the bar
        already), or, in the first round, from those the claim found."""
        done = plan.done if stored is None else list(stored.values())
        rows = None if fraction >= 1 else order[:round_size(len(order), fraction)]
        return dataclasses.replace(plan, done=done, round_rows=rows, resumed=plan.resumed and stored is None,
                                   shown=0 if stored is None else len(done))

    def _race_evidence(self, task: TaskSpec, models: list[str], plans: dict[tuple[str, str], TaskPlan]) -> TaskEvidence:
        """The racing models' stored examples of `task`, with the settings their round resolved."""
        examples = {m: {p["example_index"]: ExampleResult.stored(p)
                        for p in self.store.predictions(plans[(m, task.name)].result_id)} for m in models}
        scoring = Scoring.of(task, self.suite.runtime)
        return TaskEvidence(task.name, task.type, examples,
                            {m: self.round_settings[(m, task.name)] for m in models},
                            {m: scoring for m in models})

    def _eliminate(self, model: ModelSpec, plan: TaskPlan, evidence: TaskEvidence, stop: Stop, metric: str,
                   number: int, prefix: tuple[int, ...]) -> None:
        """A model stopped on a task: its result records the figures on the examples it scored
        and why it stopped (a run without racing continues it); the bar counts the rest."""
        scored = sorted(evidence.examples[model.name])
        figures = evidence.scored(model.name, tuple(scored))
        self.race_saved += len(plan.rows) - len(scored)
        self._record_plan(model, plan, "eliminated", stop.reason(metric, number, len(prefix)), {
            "metrics": figures.scores, "counts": {"examples": len(scored)},
            "settings": {"signature": plan.fields, "resolved": self.round_settings[(model.name, plan.task.name)],
                         "race": {"round": number, "examples": len(prefix), "metric": metric, **stop.to_dict()}}})
        self._advance(len(plan.rows) - len(scored))

    def _dispatch(self, states: Iterator[_ModelState]) -> None:
        """Run the models' jobs as the executor can: all at once, or one model after another."""
        (self._in_parallel if self.executor.parallel else self._in_turn)(states)

    def _in_turn(self, states: Iterator[_ModelState]) -> None:
        """One model at a time, its workers' events applied as they come."""
        for state in states:
            while job := self._next_job(state):
                self._job_ended(state, self.executor.run(job, partial(self.apply, state)))

    def _in_parallel(self, states: Iterator[_ModelState]) -> None:
        """Every model's job at once, each waited on in a thread; events are applied here."""
        inbox: queue.SimpleQueue[tuple[_ModelState, Event | _JobEnded]] = queue.SimpleQueue()

        def start(state: _ModelState, job: ModelJob) -> None:
            def wait() -> None:
                try:
                    ended = _JobEnded(self.executor.run(job, lambda event: inbox.put((state, event))))
                except BaseException as exc:  # the executor's own failure: the driver raises it
                    ended = _JobEnded(None, exc)
                inbox.put((state, ended))

            threading.Thread(target=wait, name=f"benchbench {job.model.name}", daemon=True).start()

        running = 0
        for state in states:
            if job := self._next_job(state):
                start(state, job)
                running += 1
        while running:
            state, item = inbox.get()
            if not isinstance(item, _JobEnded):
                self.apply(state, item)
                continue
            running -= 1
            if item.error is not None:
                raise item.error
            self._job_ended(state, item.crash)
            if job := self._next_job(state):
                start(state, job)
                running += 1

    def _plan(self, model: ModelSpec, tasks: list[TaskSpec], examples: dict[str, Examples | DatasetUnavailable],
              quiet: bool) -> tuple[_ModelState, list[TaskSpec]]:
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
                result_id, count, status = plan.reused[task.name]
                self.log(f"{model.name} / {task.name}: reusing {'finished' if status == 'ok' else status} result "
                         f"{result_id} (same settings signature; --fresh recomputes)")
                self.summary.count(status, result_id)
                self.summary.reused += 1
                self._advance(count)
            elif task.name in plan.missing:
                self._record(model, task, None, "unavailable", str(plan.missing[task.name]))
        self._advance(plan.merged_rows)
        return _ModelState(model, plan.pending), [task for task in tasks if task.name in plan.elsewhere]

    def _next_job(self, state: _ModelState) -> ModelJob | None:
        """A worker for the model's remaining tasks (a suite whose results are all stored starts none)."""
        if not state.remaining:
            return None
        state.plans, state.finished, state.advanced, state.started = {p.task.name: p for p in state.remaining}, set(), 0, False
        return ModelJob(state.model, self.suite.runtime, self.device, state.remaining,
                        remote=self.executor.remote)

    def _job_ended(self, state: _ModelState, crash: str | None) -> None:
        """A worker ended: the task it was on, if any, is recorded as crashed; the rest remain.
        A worker that never turned to a task (its environment could not start) would fail the
        same way again: then every remaining task is recorded with its reason."""
        self.active.pop(state.model.name, None)
        self._describe_bar()
        remaining = [p for p in state.remaining if p.task.name not in state.finished]
        failed, state.remaining = (remaining, []) if not state.started else (remaining[:1], remaining[1:])
        for in_flight in failed:
            reason = crash or "the model's worker ended without finishing this task"
            self._record_plan(state.model, in_flight, "crashed", reason)
            self._advance(max(0, len(in_flight.rows) - in_flight.shown - state.advanced))  # the bar still ends full
            state.advanced = 0

    def apply(self, state: _ModelState, event: Event) -> None:
        """One event from a worker, applied to the store, the bar and the summary."""
        match event:
            case Log(message):
                self.log(message)
            case Progress(examples):
                state.advanced += examples
                self._advance(examples)
            case TaskStarted(task):
                state.advanced, state.started = 0, True
                self.store.mark_started(state.plans[task].result_id)
                self.active[state.model.name] = task
                self._describe_bar()
            case ResultOpened(task):
                self._opened(state.model, state.plans[task])
            case Predictions(task, rows):
                self.store.add_predictions(state.plans[task].result_id, rows)
            case TaskFinished(task, status, reason, fields):
                state.finished.add(task)
                state.advanced = 0
                if status == ROUND:  # racing: the round's examples are stored; the driver decides what follows
                    self.round_settings[(state.model.name, task)] = fields["settings"]["resolved"]
                else:
                    self._record_plan(state.model, state.plans[task], status, reason, fields)

    def _opened(self, model: ModelSpec, plan: TaskPlan) -> None:
        """The worker starts scoring: say so when it continues an interrupted result."""
        if plan.resumed:
            self.summary.resumed_examples += len(plan.done)
            self.log(f"{model.name} / {plan.task.name}: resuming interrupted result {plan.result_id} "
                     f"({len(plan.done)} of {len(plan.rows)} examples already scored)")

    def _record_plan(self, model: ModelSpec, plan: TaskPlan, status: str, reason: str | None,
                     fields: dict | None = None) -> None:
        """A planned task's outcome; a failure still says which data and settings it was for."""
        self._record(model, plan.task, plan.result_id, status, reason, fields or {"settings": {"signature": plan.fields}})

    def _record(self, model: ModelSpec, task: TaskSpec, result_id: int | None, status: str, reason: str | None,
                fields: dict | None = None) -> None:
        """A task's outcome: into the result claimed for it, or a new result row for a task
        whose data could not be loaded (nothing was claimed for it)."""
        if result_id is None:
            result_id = self.store.begin_result(self.run_id, failure_signature(model, task), self.suite.name,
                                                model.name, task.name, task.type)
        if status != "ok":
            self.log(f"{model.name} / {task.name}: {status}: {str(reason).splitlines()[0]}")
        self.store.finish_result(result_id, status, reason, **(fields or {}))
        self.summary.count(status, result_id)

    def _describe_bar(self) -> None:
        """The bar names the task each running model is on."""
        if self.bar is not None:
            self.bar.set_description(", ".join(f"{model} / {task}" for model, task in self.active.items()))

    def _advance(self, examples: int) -> None:
        if self.bar is not None and examples:
            self.bar.update(examples)
