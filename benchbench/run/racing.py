"""The race's rounds (runtime.race, `--race`): every racing model scores a growing prefix of each
task's examples, and between rounds the models that cannot win a task stop there (race.py says
when). Each model's worker is kept from round to round, so its model loads once, and the rounds
of a model that goes on make one result whose speed figures cover every example it scored.

Before the first round each task is checked: a task too small for any model to be stopped
before its end (the smallest p-value its test can give is above the stop level at every look)
is said so and runs in one round.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from benchbench.measure.segment import Counts, MeterSegment, result_measurement
from benchbench.metrics import METRICS
from benchbench.metrics.catalogue import CATALOGUE, GRADED
from benchbench.run.dispatch import Dispatcher
from benchbench.run.events import RoundFinished
from benchbench.run.job import TaskPlan
from benchbench.run.race import Stop, first_possible_stop, race_order, round_size, smallest_p, stop_level, stops
from benchbench.run.recorder import ModelState, Recorder
from benchbench.selection.evidence import TaskEvidence
from benchbench.spec import ModelSpec, RaceSpec, Suite
from benchbench.store import Outcome, RaceVerdict, ResultSettings, Status, Store
from benchbench.tasks import TASK_TYPES, ExampleResult

LogLine = Callable[[str], None]


class Race:
    """One race over the planned tasks of `states` (the module docstring says how it goes)."""

    def __init__(self, suite: Suite, store: Store, recorder: Recorder, dispatcher: Dispatcher, log: LogLine,
                 up_front: dict[str, str], keep_workers: bool) -> None:
        self.suite, self.store, self.recorder, self.dispatcher, self.log = suite, store, recorder, dispatcher, log
        self.race: RaceSpec = suite.runtime.race  # type: ignore[assignment]
        self.up_front, self.keep = up_front, keep_workers
        self.saved = 0  # examples that stopped models did not score
        self.segments: dict[tuple[str, str], list[MeterSegment]] = {}

    def run(self, states: list[ModelState]) -> dict[str, int]:
        """Run the race; returns the model-examples a full run scores and those the stops saved."""
        plans = {(s.model.name, p.task.name): p for s in states for p in s.remaining}
        tasks_of = {s.model.name: [p.task.name for p in s.remaining] for s in states}
        models = {s.model.name: s.model for s in states}
        racing = {task: [m for (m, t) in plans if t == task] for (_, task) in plans}
        self._stop_up_front(plans, racing, models)
        orders = {task: race_order(len(plans[(names[0], task)].rows), self.suite.runtime.seed)
                  for task, names in racing.items() if names}
        # the bound counts every model of the suite, so a resumed race (fewer left to run) stops no more readily
        level = stop_level(self.race, len(self.race.rounds) - 1, len(self.suite.models))
        whole = self._whole_tasks(orders, level)
        stored: dict[tuple[str, str], list[ExampleResult]] = {}
        for number, fraction in enumerate(self.race.rounds, start=1):
            self.recorder.rounds = {}
            round_states = []
            for state in states:
                round_plans = [self._round_plan((state.model.name, task), plans, orders[task], fraction, stored,
                                                task in whole)
                               for task in tasks_of[state.model.name]
                               if state.model.name in racing.get(task, []) and (number == 1 or task not in whole)]
                if round_plans:
                    state.remaining = round_plans
                    round_states.append(state)
            self.dispatcher.run(round_states, keep=self.keep)
            for task, names in racing.items():  # a model whose round failed (error, crash) has its status
                racing[task] = [m for m in names if (m, task) in self.recorder.rounds]
                for m in racing[task]:
                    self.segments.setdefault((m, task), []).append(self.recorder.rounds[(m, task)].segment)
            if fraction >= 1:
                break
            for task, names in racing.items():
                if task in whole or not names:
                    continue
                for name in names:
                    stored[(name, task)] = [ExampleResult.stored(p)
                                            for p in self.store.predictions(plans[(name, task)].result_id)]
                self._decide(task, names, plans, models, orders[task], number, fraction, level, stored)
            still = {m for task, names in racing.items() if task not in whole for m in names}
            for state in states:  # a model that races no task any more lets go of its model
                if state.model.name not in still:
                    self.dispatcher.close(state)
        self.dispatcher.close_all()
        return {"full": sum(len(p.rows) for p in plans.values()), "saved": self.saved}

    def _stop_up_front(self, plans: dict[tuple[str, str], TaskPlan], racing: dict[str, list[str]],
                       models: dict[str, ModelSpec]) -> None:
        """Models a memory budget rules out before any example is scored (race.max_memory_gb)."""
        for (model, task), plan in plans.items():
            if model in self.up_front:
                self.recorder.record(models[model], plan, Outcome(
                    Status.ELIMINATED, self.up_front[model], counts={"examples": 0},
                    settings=ResultSettings(plan.fields, race=RaceVerdict(0))))
                self.recorder.advance(len(plan.rows))
                self.saved += len(plan.rows)
                racing[task].remove(model)

    def _whole_tasks(self, orders: dict[str, list[int]], level: float) -> set[str]:
        """Tasks too small for any model to be stopped before their end: said, and run in one round."""
        whole = set()
        for task, order in orders.items():
            metric = self.metric_of(task)
            outcome = CATALOGUE[metric].outcome if metric in CATALOGUE else GRADED
            if first_possible_stop(self.race, outcome, len(order), level) is None:
                last = round_size(len(order), self.race.rounds[-2]) if len(self.race.rounds) > 1 else len(order)
                self.log(f"racing: task {task} has too few examples for any model to be stopped before the end "
                         f"(after its last look, {last} examples, the smallest possible p-value is "
                         f"{smallest_p(outcome, last):.2g}, above the stop level {level:.2g}); it runs in one round")
                whole.add(task)
        return whole

    def metric_of(self, task: str) -> str:
        """The metric the race decides `task` on: race.metric, else the task type's primary metric
        where the task computes it, else the first score of the metrics the suite asked for (the
        metric `recommend` ranks it by)."""
        if self.race.metric:
            return self.race.metric
        spec = next(t for t in self.suite.tasks if t.name == task)
        primary = TASK_TYPES[spec.type].primary_metric
        scores = [out for m in spec.metrics for out in (METRICS[m].outputs if m in METRICS else (m,))]
        return primary if not scores or primary in scores else scores[0]

    def _round_plan(self, key: tuple[str, str], plans: dict[tuple[str, str], TaskPlan], order: list[int],
                    fraction: float, stored: dict[tuple[str, str], list[ExampleResult]], whole: bool) -> TaskPlan:
        """A model x task's plan for one round: the prefix to have scored by its end (all in the
        last, or for a task run whole), continuing from the examples stored by the end of the last
        round (counted on the bar already), or, in the first round, from those the claim found,
        with what the earlier rounds measured."""
        plan = plans[key]
        done = plan.done if key not in stored else stored[key]
        rows = None if fraction >= 1 or whole else order[:round_size(len(order), fraction)]
        return dataclasses.replace(plan, done=done, round_rows=rows, resumed=plan.resumed and key not in stored,
                                   shown=len(done) if key in stored else 0, segments=list(self.segments.get(key, [])))

    def _decide(self, task: str, names: list[str], plans: dict[tuple[str, str], TaskPlan], models: dict[str, ModelSpec],
                order: list[int], number: int, fraction: float, level: float,
                stored: dict[tuple[str, str], list[ExampleResult]]) -> None:
        """After a round: the models that cannot win `task` stop there."""
        metric = self.metric_of(task)
        rounds = {m: self.recorder.rounds[(m, task)] for m in names}
        runtime = self.suite.runtime
        evidence = TaskEvidence(task, {m: dict(r.stats) for m, r in rounds.items()},
                                {m: (runtime.bootstrap_resamples, runtime.seed) for m in names})
        prefix = tuple(order[:round_size(len(order), fraction)])
        if number == 1 and metric not in rounds[names[0]].stats:
            self.log(f"racing: task {task} computes no per-example {metric}, so no model stops on it "
                     f"(add {metric} to the task's metrics, or set race.metric)")
        for model, stop in stops(evidence, names, metric, prefix, level).items():
            self._eliminate(models[model], plans[(model, task)], rounds[model], stored[(model, task)], stop, metric,
                            number, len(prefix))
            names.remove(model)

    def _eliminate(self, model: ModelSpec, plan: TaskPlan, last: RoundFinished, scored: list[ExampleResult],
                   stop: Stop, metric: str, number: int, examples: int) -> None:
        """A model stopped on a task: its result records the figures, the speed and the counts over
        the examples it scored (`scored`: as stored), the model as loaded, and why it stopped (a run
        without racing continues it); the bar counts the rest."""
        segments = self.segments.get((model.name, plan.task.name), [])
        counts = Counts()
        counts.add([r.details for r in scored])
        timed = {i for s in segments for i in s.indices}
        measurement = result_measurement(float(last.model_info.get("load_seconds") or 0.0), segments, counts,
                                         last.model_info.get("serving"), last.context)
        self.saved += len(plan.rows) - len(scored)
        verdict = RaceVerdict.from_dict(stop.verdict(number, examples, metric))
        stats = [s for name, found in last.stats.items() if (s := found.stored(name)) is not None]
        self.recorder.record(model, plan, Outcome(
            Status.ELIMINATED, stop.reason(metric, number, examples, len(plan.rows)), metrics=last.scores,
            measurements=measurement, model_info=last.model_info,
            counts={"examples": len(scored), "resumed_examples": sum(1 for r in scored if r.index not in timed)},
            settings=ResultSettings(plan.fields, last.resolved, race=verdict)), stats)
        self.recorder.advance(len(plan.rows) - len(scored))
