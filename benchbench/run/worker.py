"""Run one model's planned tasks: open the backend, load for each task's capability, predict,
score, measure, and send everything to the driver as events (events.py).

The worker never opens the results store, so it can run in this process, a child process
or on another machine. A failure (unreachable checkpoint, out of memory, a bug in a task)
ends that task with its status and reason; the next task still runs.
"""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

from benchbench.backends import open_backend
from benchbench.backends.base import GENERATE, LOGLIKELIHOOD, ROLLING, ModelBackend, ModelInfo
from benchbench.backends.capabilities import LatencyProbe
from benchbench.errors import ModelUnavailable, TaskConfigError, Unsupported
from benchbench.measure import TaskMeter, environment
from benchbench.measure.cost import task_cost
from benchbench.measure.flops import throughput
from benchbench.run.events import (
    ROUND,
    Emit,
    Log,
    Predictions,
    Progress,
    ResultOpened,
    TaskFinished,
    TaskStarted,
)
from benchbench.run.job import ModelJob, TaskPlan
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import Scoring, TaskScores

# batch_size: auto starts here and halves on out-of-memory (a CPU has no such error to catch)
AUTO_FIRST_BATCH_SIZE = {"cuda": 64, "cpu": 8}


def run_job(job: ModelJob, emit: Emit) -> None:
    """Run the job's tasks in order, reporting through `emit`."""
    try:
        backend = open_backend(job.model, job.runtime, job.device)
    except ModelUnavailable as exc:
        for plan in job.plans:
            emit(TaskStarted(plan.task.name))
            emit(TaskFinished(plan.task.name, "unavailable", str(exc)))
            emit(Progress(len(plan.rows)))
        return
    previous: ModelInfo | None = None
    try:
        for plan in job.plans:
            emit(TaskStarted(plan.task.name))
            previous = _TaskRun(job, backend, plan, emit).run(previous)
    finally:
        backend.close()


class _ForwardLogs(logging.Handler):
    """benchbench's log records in a worker process (e.g. a GGUF conversion) go to the driver."""

    def __init__(self, emit: Emit) -> None:
        super().__init__(logging.INFO)
        self.send = emit

    def emit(self, record: logging.LogRecord) -> None:
        self.send(Log(record.getMessage()))


def forward_logs(emit: Emit) -> None:
    """In a worker's own process: send benchbench's log lines to the driver as Log events."""
    logger = logging.getLogger("benchbench")
    logger.addHandler(_ForwardLogs(emit))
    logger.setLevel(logging.INFO)


class _TaskRun:
    """One model x task inside a worker."""

    def __init__(self, job: ModelJob, backend: ModelBackend, plan: TaskPlan, emit: Emit) -> None:
        self.job, self.backend, self.plan, self.emit = job, backend, plan, emit
        self.task_type = TASK_TYPES[plan.task.type]
        self.name = plan.task.name
        self.failed: list[ExampleResult] = []  # examples whose requests failed (served models), kept out of the figures

    def run(self, previous: ModelInfo | None) -> ModelInfo | None:
        """Load (unless the backend holds the right weights), resolve settings, score; return
        the model info now loaded, so the next task can tell whether it loaded again."""
        info = previous
        try:
            capability = self.task_type.need(self.plan.options, self.backend.profile)
            info = self.backend.load(capability)
            if info != previous:  # a new load (equal info: the backend kept what it had)
                self.emit(Log(f"model {info.name}: loaded {info.architecture} "
                              f"({(info.parameters or 0) / 1e6:.1f}M parameters, {info.dtype}, "
                              f"{info.device}) in {info.load_seconds:.1f} s"))
            settings = self.task_type.settings(self.backend, self.plan.options, self.plan.task.metrics,
                                               self.plan.rows)
        except (ModelUnavailable, TaskConfigError) as exc:
            status = ("unavailable" if isinstance(exc, ModelUnavailable)
                      else "unsupported" if isinstance(exc, Unsupported) else "error")
            self.emit(Progress(len(self.plan.rows) - self.plan.shown))
            self.emit(TaskFinished(self.name, status, str(exc)))
            return None if status == "unavailable" else info
        self._score(capability, info, settings)
        return info

    def _score(self, capability: str, info: ModelInfo, settings: dict[str, Any]) -> None:
        plan, runtime = self.plan, self.job.runtime
        self.emit(ResultOpened(self.name))
        done = {r.index for r in plan.done}
        results = list(plan.done)
        self.emit(Progress(len(done) - plan.shown))
        requested = plan.task.batch_size or runtime.batch_size
        batch_size = AUTO_FIRST_BATCH_SIZE.get(info.device, 8) if requested == "auto" else int(requested)
        scoring = Scoring.of(plan.task, runtime)
        retries = 0
        try:
            with TaskMeter(info.device) as meter:
                while not self._predicted(info, settings, batch_size, meter, results, retry=requested == "auto"):
                    # out of memory under batch_size auto: what was stored stays, the rest runs in
                    # smaller batches, and the torch peaks restart so they describe what fitted
                    self.backend.free_memory()
                    meter.restart_torch_peaks()
                    batch_size, retries = batch_size // 2, retries + 1
                    self.emit(Log(f"{self.job.model.name} / {self.name}: out of memory; batch size auto "
                                  f"goes on at {batch_size}"))
            results.sort(key=lambda r: r.index)
            if plan.round_rows is not None and len(self.failed) <= self._failure_budget(info):
                # a race's round: the driver compares the models on what is stored, then says who goes on
                self.emit(TaskFinished(self.name, ROUND, None, fields={"settings": {
                    "resolved": settings | scoring.record()}}))
                return
            if len(self.failed) > self._failure_budget(info):
                self._finish_incomplete(info, settings, results, len(done) - plan.shown)
                return
            scored = TaskScores() if info.random_weights else self.task_type.score(results, settings, scoring)
            probe = self._probe(capability, info, results, batch_size)
        except Exception as exc:  # one task's failure must not lose the run
            if self.backend.is_out_of_memory(exc):
                self.backend.free_memory()
                self.emit(TaskFinished(self.name, "oom", f"out of GPU memory: {exc}".splitlines()[0]))
            else:
                detail = traceback.format_exc(limit=-3)
                self.emit(TaskFinished(self.name, "error", f"{type(exc).__name__}: {exc}\n{detail}"))
            return
        measurement = meter.measurement(info.load_seconds).to_dict() | {
            "latency_probe": probe, **throughput(meter.prompt_tokens, meter.examples, meter.watch.seconds,
                                                 capability in (LOGLIKELIHOOD, ROLLING), info.to_dict(),
                                                 meter.device_name)}
        if measurement["gpu"]:
            self._warn_shared_gpu(measurement["gpu"])
        if self.job.remote:  # the run's environment is the driver's machine, not this one
            measurement["environment"] = environment(info.device) | {"host": socket.gethostname()}
        if info.serving:
            measurement["cost"] = task_cost(info.serving.get("price_per_million_tokens"), meter.prompt_tokens,
                                            meter.generated_tokens, meter.examples)
            measurement["concurrency"] = info.serving.get("concurrency")
        notes = ["quality metrics omitted: random weights (--no-weights)"] if info.random_weights else []
        notes += [f"metric {name} failed: {why}" for name, why in scored.failures.items()]
        if self.failed:
            notes.append(f"{self._failures_text()}; the figures are over the other {len(results)} "
                         f"(within max_failed_fraction {info.serving and info.serving.get('max_failed_fraction')})")
        note = "; ".join(notes) or None
        if scored.failures or self.failed:
            self.emit(Log(f"{self.job.model.name} / {self.name}: {note}"))
        self.emit(TaskFinished(self.name, "ok", note, fields=dict(
            metrics=scored.scores, measurements=measurement,
            intervals={name: interval.to_dict() for name, interval in scored.intervals.items()},
            settings={"signature": plan.fields, "resolved": settings | scoring.record(), "batch_size": requested,
                      "batch_size_used": batch_size, "batch_size_retries": retries, "metric_signatures": scored.signatures,
                      "metric_failures": scored.failures},
            counts=self._counts(results, len(done) - plan.shown), model_info=info.to_dict())))

    def _failure_budget(self, info: ModelInfo) -> int:
        """How many examples may fail (served models' max_failed_fraction) for the result to stay ok."""
        fraction = (info.serving or {}).get("max_failed_fraction") or 0.0
        return int(fraction * len(self.plan.rows))

    def _failures_text(self) -> str:
        first = self.failed[0]
        return (f"{len(self.failed)} of {len(self.plan.rows)} examples failed after "
                f"{first.details.get('attempts', 1)} attempt(s) (first: example {first.index}: {first.failure})")

    def _counts(self, results: list[ExampleResult], resumed: int) -> dict[str, Any]:
        failed = [{"index": r.index, "reason": r.failure, "attempts": r.details.get("attempts")} for r in self.failed]
        return {"examples": len(results), "resumed_examples": resumed,
                **({"failed_examples": len(failed), "failed": failed} if failed else {})}

    def _finish_incomplete(self, info: ModelInfo, settings: dict[str, Any], results: list[ExampleResult],
                           resumed: int) -> None:
        """Too many requests failed (a dead or overloaded server): the scored examples are stored,
        the task stops, and a rerun continues with the failed and unattempted ones."""
        untried = len(self.plan.rows) - len(results) - len(self.failed)
        reason = (f"{self._failures_text()}; {len(results)} scored and stored"
                  + (f", {untried} not attempted" if untried else "")
                  + "; rerun the same command to retry the rest (the stored examples are kept)")
        self.emit(Progress(untried))  # the bar still ends full
        self.emit(TaskFinished(self.name, "incomplete", reason, fields=dict(
            settings={"signature": self.plan.fields, "resolved": settings},
            counts=self._counts(results, resumed), model_info=info.to_dict())))

    def _predicted(self, info: ModelInfo, settings: dict[str, Any], batch_size: int, meter: TaskMeter,
                   results: list[ExampleResult], retry: bool) -> bool:
        """Score the examples not in `results` yet, sending each batch to the driver as it
        comes; False when `retry` allows another go after running out of memory (at a smaller
        batch size: `results` grows batch by batch, so it starts where this one stopped)."""
        try:
            self._predict(info, settings, batch_size, meter, results)
            return True
        except Exception as exc:
            if not retry or batch_size == 1 or not self.backend.is_out_of_memory(exc):
                raise
        return False  # outside the handler, so the failed batch's tensors can be freed

    def _predict(self, info: ModelInfo, settings: dict[str, Any], batch_size: int, meter: TaskMeter,
                 results: list[ExampleResult]) -> None:
        done = {r.index for r in results}
        wanted = range(len(self.plan.rows)) if self.plan.round_rows is None else self.plan.round_rows
        todo = [i for i in wanted if i not in done]
        rows = [self.plan.rows[i] for i in todo]
        batches = self.task_type.predict(self.backend, rows, settings, batch_size) if rows else iter(())
        budget = self._failure_budget(info)
        try:
            for batch in meter.timed(batches):
                for r in batch:  # back to indices in the full example list
                    r.index = todo[r.index]
                scored = [r for r in batch if r.failure is None]
                self.failed += [r for r in batch if r.failure is not None]
                if scored and not info.random_weights:  # outputs of random weights mean nothing
                    self.emit(Predictions(self.name, [r.to_dict() for r in scored]))
                meter.count([r.details for r in scored])
                results.extend(scored)
                self.emit(Progress(len(batch)))
                if len(self.failed) > budget:  # the server is failing: stop sending it requests
                    break
        finally:
            close = getattr(batches, "close", None)
            if close is not None:  # a stopped task's generator cancels the requests still queued
                close()

    def _probe(self, capability: str, info: ModelInfo, results: list[ExampleResult],
               batch_size: int) -> dict[str, Any] | None:
        """Fixed-length generation latency (generating tasks; runtime.latency_probe)."""
        runtime = self.job.runtime
        wanted = runtime.latency_probe is True or (runtime.latency_probe == "auto" and info.device == "cuda")
        if not wanted or capability != GENERATE or not results or not isinstance(self.backend, LatencyProbe):
            return None  # a served model's requests are timed one by one instead
        lengths = sorted(r.details.get("prompt_tokens", 0) for r in results)
        return self.backend.latency_probe(results[0].input, max(1, lengths[len(lengths) // 2]),
                                          runtime.probe_new_tokens, [1, batch_size], runtime.probe_repeats)

    def _warn_shared_gpu(self, gpu: dict[str, Any]) -> None:
        """Device-wide memory and power include other processes' work: say so when seen."""
        where = f"{self.job.model.name} / {self.name}"
        if gpu["other_processes"]:
            self.emit(Log(f"warning: {where}: other processes used the GPU during the task "
                          f"(pids {gpu['other_processes']}); device-wide memory and power include theirs"))
        elif gpu["most_processes"] > 1:
            self.emit(Log(f"warning: {where}: {gpu['most_processes']} processes used the GPU at once "
                          f"(PIDs not attributable: {gpu['process_note']}); device-wide memory and power "
                          f"include theirs"))
