"""Run one model's tasks in this process: load it once per head, run each task, store
each result as it finishes.

A failure (unreachable checkpoint, out of memory, a bug in a task) is recorded for that
model x task with its reason and the next task still runs. Progress, log lines and
finished results are reported through :class:`RunEvents`, so the same code serves a run
in this process and a run in a child process (benchbench.isolation).
"""

from __future__ import annotations

import gc
import traceback
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from benchbench.data import Examples
from benchbench.errors import DatasetUnavailable, ModelUnavailable, TaskConfigError
from benchbench.measure import TaskMeter
from benchbench.measure.probe import generation_probe
from benchbench.models.loading import LoadedModel, inspect_config, load_model
from benchbench.signature import signature_fields, signature_hash
from benchbench.store import Store
from benchbench.suite import ModelSpec, Suite, TaskSpec
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import TaskScores, prepared_rows

# Statuses of an interrupted result whose stored predictions a later run continues from.
RESUMABLE = ("running", "crashed")


class RunEvents(Protocol):
    """What a model run reports while it goes."""

    def log(self, message: str) -> None: ...
    def advance(self, examples: int) -> None: ...
    def describe(self, text: str) -> None: ...
    def result(self, task_name: str, status: str, result_id: int, reused: bool) -> None: ...
    def resumed(self, examples: int) -> None: ...


@dataclass
class TaskPlan:
    """A model x task to run: its merged options, signature and examples."""

    task: TaskSpec
    options: dict[str, Any]
    fields: dict[str, Any]
    signature: str
    examples: Examples


def examples_count(examples: Examples | DatasetUnavailable) -> int:
    return len(examples) if isinstance(examples, Examples) else 0


class ModelRunner:
    """Runs the tasks of one model of a suite, writing to an open store under `run_id`."""

    def __init__(self, suite: Suite, store: Store, run_id: str, device: str, fresh: bool,
                 events: RunEvents) -> None:
        self.suite, self.store, self.run_id, self.device = suite, store, run_id, device
        self.fresh, self.events = fresh, events

    def run(self, model: ModelSpec, examples: dict[str, Examples | DatasetUnavailable],
            tasks: list[TaskSpec]) -> None:
        self.run_plans(model, self.plan(model, examples, tasks))

    def plan(self, model: ModelSpec, examples: dict[str, Examples | DatasetUnavailable],
             tasks: list[TaskSpec]) -> list[TaskPlan]:
        """The model x tasks that need running. Reusable finished results are reported and
        tasks without data recorded as unavailable here, before any model is loaded."""
        pending = []
        for task in tasks:
            plan = self._plan(model, task, examples[task.name])
            if plan is None:
                self.events.advance(examples_count(examples[task.name]))
            else:
                pending.append(plan)
        return pending

    def run_plans(self, model: ModelSpec, pending: list[TaskPlan]) -> None:
        """Load the model (once per head) and run each planned task."""
        if not pending:
            return
        try:
            config, family = inspect_config(model)
        except ModelUnavailable as exc:
            for plan in pending:
                self.record_failure(model, plan.task, "unavailable", str(exc))
            return
        loaded: LoadedModel | None = None
        try:
            for plan in pending:
                self.events.describe(f"{model.name} / {plan.task.name}")
                loaded = self._run_task(model, plan, config, family, loaded)
        finally:
            del loaded
            release_memory()

    def _plan(self, model: ModelSpec, task: TaskSpec, examples: Examples | DatasetUnavailable) -> TaskPlan | None:
        """What to run for a model x task; None when a finished result can be reused."""
        if isinstance(examples, DatasetUnavailable):
            self.record_failure(model, task, "unavailable", str(examples))
            return None
        options = model.options_for(task)
        if "seed" in options and options["seed"] is None:
            options["seed"] = self.suite.runtime.seed
        runtime = self.suite.runtime
        fields = signature_fields(model, task, options, examples.fingerprint, self.device,
                                  model.dtype or runtime.dtype) | {"random_weights": runtime.no_weights}
        signature = signature_hash(fields)
        if not self.fresh:
            finished = self.store.find_result(signature, ("ok",))
            if finished is not None:
                self.events.log(f"{model.name} / {task.name}: reusing finished result {finished['result_id']} "
                                f"(same settings signature; --fresh recomputes)")
                self.events.result(task.name, "ok", finished["result_id"], True)
                return None
        rows = prepared_rows(TASK_TYPES[task.type], examples.rows, options)
        self.events.advance(len(examples) - len(rows))  # rows merged into fewer examples count as done
        return TaskPlan(task, options, fields, signature, Examples(rows, examples.fingerprint))

    def _run_task(self, model: ModelSpec, plan: TaskPlan, config: Any, family: str,
                  loaded: LoadedModel | None) -> LoadedModel | None:
        """Run one model x task; return the loaded model for reuse by the next task."""
        task, examples = plan.task, plan.examples
        task_type = TASK_TYPES[task.type]
        try:
            head = task_type.head(plan.options, config, family)
            if loaded is None or loaded.info.head != head:
                loaded = None
                release_memory()
                loaded = load_model(model, head, self.device, self.suite.runtime.dtype,
                                    no_weights=self.suite.runtime.no_weights)
                self.events.log(f"model {model.name}: loaded {loaded.info.architecture} "
                                f"({loaded.info.parameters / 1e6:.1f}M parameters, {loaded.info.dtype}, "
                                f"{loaded.info.device}) in {loaded.info.load_seconds:.1f} s")
            settings = task_type.settings(loaded, plan.options, task.metrics, examples.rows)
            settings |= {"metric_options": task.metric_options,
                         "bootstrap": {"resamples": self.suite.runtime.bootstrap_resamples,
                                       "seed": self.suite.runtime.seed}}
        except ModelUnavailable as exc:
            self.record_failure(model, task, "unavailable", str(exc))
            self.events.advance(len(examples))
            return None
        except TaskConfigError as exc:
            self.record_failure(model, task, "error", str(exc))
            self.events.advance(len(examples))
            return loaded
        self._score(model, plan, loaded, settings)
        return loaded

    def _score(self, model: ModelSpec, plan: TaskPlan, loaded: LoadedModel, settings: dict[str, Any]) -> None:
        task, examples, fields = plan.task, plan.examples, plan.fields
        task_type = TASK_TYPES[task.type]
        result_id, results = self._resume_or_begin(model, plan)
        done = {r.index for r in results}
        todo = [i for i in range(len(examples.rows)) if i not in done]
        self.events.advance(len(done))
        batch_size = task.batch_size or self.suite.runtime.batch_size
        try:
            with TaskMeter(loaded.info.device) as meter:
                rows = [examples.rows[i] for i in todo]
                for batch in meter.timed(task_type.predict(loaded, rows, settings, batch_size) if rows else []):
                    for r in batch:  # back to indices in the full example list
                        r.index = todo[r.index]
                    if not loaded.info.random_weights:  # outputs of random weights mean nothing
                        self.store.add_predictions(result_id, [r.to_dict() for r in batch])
                    meter.count([r.details for r in batch])
                    results.extend(batch)
                    self.events.advance(len(batch))
            results.sort(key=lambda r: r.index)
            scored = TaskScores() if loaded.info.random_weights else task_type.score(results, settings, task.metrics)
            probe = self._probe(loaded, settings, results, batch_size)
        except torch.cuda.OutOfMemoryError as exc:
            release_memory()
            self._fail(result_id, model, task, "oom", f"out of GPU memory: {exc}".splitlines()[0])
            return
        except Exception as exc:  # one task's bug must not lose the run
            detail = traceback.format_exc(limit=-3)
            self._fail(result_id, model, task, "error", f"{type(exc).__name__}: {exc}\n{detail}")
            return
        measurement = meter.measurement(loaded.info.load_seconds).to_dict() | {"latency_probe": probe}
        if measurement["gpu"]:
            self._warn_shared_gpu(f"{model.name} / {task.name}", measurement["gpu"])
        note = "quality metrics omitted: random weights (--no-weights)" if loaded.info.random_weights else None
        self.store.finish_result(
            result_id, "ok", note, metrics=scored.scores, measurements=measurement,
            intervals={name: interval.to_dict() for name, interval in scored.intervals.items()},
            settings={"signature": fields, "resolved": settings, "batch_size": batch_size,
                      "metric_signatures": scored.signatures},
            counts={"examples": len(results), "resumed_examples": len(done)}, model_info=loaded.info.to_dict())
        self.events.result(task.name, "ok", result_id, False)

    def _resume_or_begin(self, model: ModelSpec, plan: TaskPlan) -> tuple[int, list[ExampleResult]]:
        """An interrupted result with this signature is continued (its stored predictions
        are not recomputed); otherwise a new result starts."""
        partial = None if self.fresh else self.store.find_result(plan.signature, RESUMABLE)
        if partial is None:
            return self.store.begin_result(self.run_id, plan.signature, self.suite.name, model.name,
                                           plan.task.name, plan.task.type), []
        self.store.adopt_result(partial["result_id"], self.run_id)
        stored = [ExampleResult(p["example_index"], p["input"], p["prediction"], p["reference"], p["details"])
                  for p in self.store.predictions(partial["result_id"])]
        self.events.resumed(len(stored))
        self.events.log(f"{model.name} / {plan.task.name}: resuming interrupted result {partial['result_id']} "
                        f"({len(stored)} of {len(plan.examples)} examples already scored)")
        return partial["result_id"], stored

    def _probe(self, loaded: LoadedModel, settings: dict[str, Any], results: list[ExampleResult],
               batch_size: int) -> dict[str, Any] | None:
        """Fixed-length generation latency (generation tasks; runtime.latency_probe)."""
        runtime = self.suite.runtime
        wanted = runtime.latency_probe is True or (runtime.latency_probe == "auto" and loaded.info.device == "cuda")
        if not wanted or "max_new_tokens" not in settings or not results:
            return None
        lengths = sorted(r.details.get("prompt_tokens", 0) for r in results)
        seed_tokens = loaded.tokenizer(results[0].input, add_special_tokens=False)["input_ids"] or [0]
        return generation_probe(loaded, seed_tokens, max(1, lengths[len(lengths) // 2]), runtime.probe_new_tokens,
                                [1, batch_size], repeats=runtime.probe_repeats)

    def _warn_shared_gpu(self, where: str, gpu: dict[str, Any]) -> None:
        """Device-wide memory and power include other processes' work: say so when seen."""
        if gpu["other_processes"]:
            self.events.log(f"warning: {where}: other processes used the GPU during the task "
                            f"(pids {gpu['other_processes']}); device-wide memory and power include theirs")
        elif gpu["most_processes"] > 1:
            self.events.log(f"warning: {where}: {gpu['most_processes']} processes used the GPU at once "
                            f"(PIDs not attributable: {gpu['process_note']}); device-wide memory and power "
                            f"include theirs")

    def _fail(self, result_id: int, model: ModelSpec, task: TaskSpec, status: str, reason: str) -> None:
        self.events.log(f"{model.name} / {task.name}: {status}: {reason.splitlines()[0]}")
        self.store.finish_result(result_id, status, reason)
        self.events.result(task.name, status, result_id, False)

    def record_failure(self, model: ModelSpec, task: TaskSpec, status: str, reason: str) -> None:
        """A result row for a model x task that could not run (nothing was scored)."""
        fields = {"model": model.source, "task": task.name}
        result_id = self.store.begin_result(self.run_id, signature_hash(fields), self.suite.name,
                                            model.name, task.name, task.type)
        self._fail(result_id, model, task, status, reason)

    def fail_interrupted(self, model: ModelSpec, task: TaskSpec, status: str, reason: str) -> None:
        """Close this run's unfinished result of a model x task (its stored predictions stay
        for a later resume), or record the failure when the task had not begun."""
        row = self.store.unfinished_result(self.run_id, model.name, task.name)
        if row is None:
            self.record_failure(model, task, status, reason)
        else:
            self._fail(row["result_id"], model, task, status, reason)


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
