"""Run a suite: for each model, load it once per head, run its tasks, store each result.

One model's failure (unreachable checkpoint, out of memory, a bug in a task) is recorded
for that model x task with its reason, and the run goes on with the rest. Results and
per-example predictions are written to the store while the run goes.
"""

from __future__ import annotations

import gc
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from benchbench.data import Examples, load_examples
from benchbench.errors import DatasetUnavailable, ModelUnavailable, TaskConfigError
from benchbench.measure import TaskMeter, environment
from benchbench.measure.probe import generation_probe
from benchbench.models.loading import (
    LoadedModel,
    inspect_config,
    load_model,
    resolve_device,
)
from benchbench.signature import signature_fields, signature_hash
from benchbench.store import Store
from benchbench.suite import ModelSpec, Suite, TaskSpec
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import TaskScores

Log = Callable[[str], None]


@dataclass
class TaskPlan:
    """A model x task to run: its merged options, signature and examples."""

    task: TaskSpec
    options: dict[str, Any]
    fields: dict[str, Any]
    signature: str
    examples: Examples


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
        self.store.begin_run(self.run_id, suite.name, suite.path, self.command, environment(self.device))
        status = "interrupted"
        try:
            examples = {task.name: self._examples(task) for task in suite.tasks}
            total = sum(len(e) for e in examples.values() if isinstance(e, Examples)) * len(suite.models)
            with tqdm(total=total, unit="ex", disable=not self.progress, dynamic_ncols=True) as bar:
                for model in suite.models:
                    self._run_model(model, examples, bar)
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

    def _run_model(self, model: ModelSpec, examples: dict[str, Any], bar: tqdm) -> None:
        pending = []
        for task in self.suite.tasks:
            plan = self._plan(model, task, examples[task.name])
            if plan is None:
                bar.update(len(examples[task.name]) if isinstance(examples[task.name], Examples) else 0)
            else:
                pending.append(plan)
        if not pending:
            return
        try:
            config, family = inspect_config(model)
        except ModelUnavailable as exc:
            for plan in pending:
                self._record_failure(model, plan.task, "unavailable", str(exc))
            return
        loaded: LoadedModel | None = None
        try:
            for plan in pending:
                bar.set_description(f"{model.name} / {plan.task.name}")
                loaded = self._run_task(model, plan, config, family, loaded, bar)
        finally:
            del loaded
            _release_memory()

    def _plan(self, model: ModelSpec, task: TaskSpec, examples: Any) -> "TaskPlan | None":
        """What to run for a model x task; None when a finished result can be reused."""
        if isinstance(examples, DatasetUnavailable):
            self._record_failure(model, task, "unavailable", str(examples))
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
                self.log(f"{model.name} / {task.name}: reusing finished result {finished['result_id']} "
                         f"(same settings signature; --fresh recomputes)")
                self.summary.result_ids.append(finished["result_id"])
                self.summary.reused += 1
                self._count("ok")
                return None
        return TaskPlan(task, options, fields, signature, examples)

    def _run_task(self, model: ModelSpec, plan: "TaskPlan", config: Any, family: str,
                  loaded: LoadedModel | None, bar: tqdm) -> LoadedModel | None:
        """Run one model x task; return the loaded model for reuse by the next task."""
        task, examples = plan.task, plan.examples
        task_type = TASK_TYPES[task.type]
        try:
            head = task_type.head(plan.options, config, family)
            if loaded is None or loaded.info.head != head:
                loaded = None
                _release_memory()
                loaded = load_model(model, head, self.device, self.suite.runtime.dtype,
                                    no_weights=self.suite.runtime.no_weights)
                self.log(f"model {model.name}: loaded {loaded.info.architecture} "
                         f"({loaded.info.parameters / 1e6:.1f}M parameters, {loaded.info.dtype}, "
                         f"{loaded.info.device}) in {loaded.info.load_seconds:.1f} s")
            settings = task_type.settings(loaded, plan.options, task.metrics, examples.rows)
            settings |= {"metric_options": task.metric_options,
                         "bootstrap": {"resamples": self.suite.runtime.bootstrap_resamples,
                                       "seed": self.suite.runtime.seed}}
        except ModelUnavailable as exc:
            self._record_failure(model, task, "unavailable", str(exc))
            bar.update(len(examples))
            return None
        except TaskConfigError as exc:
            self._record_failure(model, task, "error", str(exc))
            bar.update(len(examples))
            return loaded
        self._score(model, plan, loaded, settings, bar)
        return loaded

    def _score(self, model: ModelSpec, plan: "TaskPlan", loaded: LoadedModel, settings: dict[str, Any],
               bar: tqdm) -> None:
        task, examples, fields = plan.task, plan.examples, plan.fields
        task_type = TASK_TYPES[task.type]
        result_id, results = self._resume_or_begin(model, plan)
        done = {r.index for r in results}
        todo = [i for i in range(len(examples.rows)) if i not in done]
        if settings.get("documents") == "joined" and done:  # one result stands for every row
            todo = []
        bar.update(len(done))
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
                    bar.update(len(batch))
            bar.update(max(0, len(todo) - (len(results) - len(done))))  # joined documents: rows > results
            results.sort(key=lambda r: r.index)
            scored = TaskScores() if loaded.info.random_weights else task_type.score(results, settings, task.metrics)
            probe = self._probe(loaded, settings, results, batch_size)
        except torch.cuda.OutOfMemoryError as exc:
            _release_memory()
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
        self.summary.result_ids.append(result_id)
        self._count("ok")

    def _resume_or_begin(self, model: ModelSpec, plan: "TaskPlan") -> tuple[int, list[ExampleResult]]:
        """An interrupted result with this signature is continued (its stored predictions
        are not recomputed); otherwise a new result starts."""
        partial = None if self.fresh else self.store.find_result(plan.signature, ("running",))
        if partial is None:
            return self.store.begin_result(self.run_id, plan.signature, self.suite.name, model.name,
                                           plan.task.name, plan.task.type), []
        self.store.adopt_result(partial["result_id"], self.run_id)
        stored = [ExampleResult(p["example_index"], p["input"], p["prediction"], p["reference"], p["details"])
                  for p in self.store.predictions(partial["result_id"])]
        self.summary.resumed_examples += len(stored)
        self.log(f"{model.name} / {plan.task.name}: resuming interrupted result {partial['result_id']} "
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
            self.log(f"warning: {where}: other processes used the GPU during the task "
                     f"(pids {gpu['other_processes']}); device-wide memory and power include theirs")
        elif gpu["most_processes"] > 1:
            self.log(f"warning: {where}: {gpu['most_processes']} processes used the GPU at once "
                     f"(PIDs not attributable: {gpu['process_note']}); device-wide memory and power include theirs")

    def _fail(self, result_id: int, model: ModelSpec, task: TaskSpec, status: str, reason: str) -> None:
        self.log(f"{model.name} / {task.name}: {status}: {reason.splitlines()[0]}")
        self.store.finish_result(result_id, status, reason)
        self.summary.result_ids.append(result_id)
        self._count(status)

    def _record_failure(self, model: ModelSpec, task: TaskSpec, status: str, reason: str) -> None:
        fields = {"model": model.source, "task": task.name}
        result_id = self.store.begin_result(self.run_id, signature_hash(fields), self.suite.name,
                                            model.name, task.name, task.type)
        self._fail(result_id, model, task, status, reason)

    def _count(self, status: str) -> None:
        self.summary.statuses[status] = self.summary.statuses.get(status, 0) + 1


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
