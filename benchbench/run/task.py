"""One model x task inside a worker: load for the task's capability, resolve its settings,
predict batch by batch, score, measure, and report it all as events.

A race's round (``plan.round_rows``) predicts only the round's examples and ends with a
RoundFinished carrying what the driver decides on; the task's last round ends like an ordinary
task, its measurement combining every round's (segment.py), so a model that survives a race has
the speed figures of all the examples it scored, not of its last round.
"""

from __future__ import annotations

import socket
import traceback
from typing import Any

from benchbench.backends.base import GENERATE, LOGLIKELIHOOD, ROLLING, ModelBackend, ModelInfo
from benchbench.backends.capabilities import LatencyProbe
from benchbench.errors import ModelUnavailable, TaskConfigError, Unsupported
from benchbench.measure import TaskMeter, environment
from benchbench.measure.flops import throughput
from benchbench.measure.segment import EXAMPLE, GENERATED, Counts, result_measurement
from benchbench.run.events import Emit, Log, Predictions, Progress, ResultOpened, RoundFinished, TaskFinished
from benchbench.run.job import TaskPlan, WorkerSpec
from benchbench.spec import REMOTE_DEVICE
from benchbench.store.records import Outcome, ResultSettings, Status
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import Scoring, TaskScores

# batch_size: auto starts here and halves on out-of-memory (a CPU has no such error to catch)
AUTO_FIRST_BATCH_SIZE = {"cuda": 64, "cpu": 8}


class TaskRun:
    """One model x task inside a worker (the module docstring says what it does)."""

    def __init__(self, spec: WorkerSpec, backend: ModelBackend, plan: TaskPlan, emit: Emit, threads: int) -> None:
        self.spec, self.backend, self.plan, self.emit, self.threads = spec, backend, plan, emit, threads
        self.task_type = TASK_TYPES[plan.task.type]
        self.name = plan.task.name
        self.failed: list[ExampleResult] = []  # examples whose requests failed (served models), kept out of the figures
        self.loaded_now = False

    def run(self, previous: ModelInfo | None) -> ModelInfo | None:
        """Load (unless the backend holds the right weights), resolve settings, score; return
        the model info now loaded, so the next task can tell whether it loaded again."""
        info = previous
        try:
            capability = self.task_type.need(self.plan.options, self.backend.profile)
            info = self.backend.load(capability)
            self.loaded_now = info != previous  # a new load (equal info: the backend kept what it had)
            if self.loaded_now:
                self.emit(Log(f"model {info.name}: loaded {info.architecture} "
                              f"({(info.parameters or 0) / 1e6:.1f}M parameters, {info.dtype}, "
                              f"{info.device}) in {info.load_seconds:.1f} s"))
            settings = self.task_type.settings(self.backend, self.plan.options, self.plan.task.metrics,
                                               self.plan.rows)
        except (ModelUnavailable, TaskConfigError) as exc:
            status = (Status.UNAVAILABLE if isinstance(exc, ModelUnavailable)
                      else Status.UNSUPPORTED if isinstance(exc, Unsupported) else Status.ERROR)
            self.emit(Progress(len(self.plan.rows) - self.plan.shown))
            self.emit(TaskFinished(self.name, Outcome(status, str(exc))))
            return None if status is Status.UNAVAILABLE else info
        self._score(capability, info, settings)
        return info

    def _score(self, capability: str, info: ModelInfo, settings: dict[str, Any]) -> None:
        plan, runtime = self.plan, self.spec.runtime
        self.emit(ResultOpened(self.name))
        results = list(plan.done)
        self.emit(Progress(len(results) - plan.shown))
        requested = plan.task.batch_size or runtime.batch_size
        batch_size = AUTO_FIRST_BATCH_SIZE.get(info.device, 8) if requested == "auto" else int(requested)
        scoring = Scoring.of(plan.task, runtime)
        retries = 0
        try:
            # the first batch after a load is a warm-up; a kept worker's next round is warm already
            warm = bool(plan.segments) and not self.loaded_now
            unit = GENERATED if capability == GENERATE else EXAMPLE
            with TaskMeter(info.device, warmup_batches=0 if warm else 1, unit=unit) as meter:
                while not self._predicted(info, settings, batch_size, meter, results, retry=requested == "auto"):
                    # out of memory under batch_size auto: what was stored stays, the rest runs in
                    # smaller batches, and the torch peaks restart so they describe what fitted
                    self.backend.free_memory()
                    meter.restart_torch_peaks()
                    batch_size, retries = batch_size // 2, retries + 1
                    self.emit(Log(f"{self.spec.model.name} / {self.name}: out of memory; batch size auto "
                                  f"goes on at {batch_size}"))
            results.sort(key=lambda r: r.index)
            resolved = settings | scoring.record()
            if len(self.failed) > self._failure_budget(info):
                self._finish_incomplete(info, settings, results)
                return
            if plan.round_rows is not None:  # a race's round: the driver decides who goes on
                scored = self.task_type.score(results, settings, Scoring(scoring.metrics, scoring.metric_options, 0,
                                                                         scoring.seed))
                self.emit(RoundFinished(self.name, resolved, scored.scores,
                                        scored.example_stats([r.index for r in results]), meter.segment,
                                        info.to_dict(), self._context(info)))
                return
            scored = TaskScores() if info.random_weights else self.task_type.score(results, settings, scoring)
            probe = self._probe(capability, info, results, batch_size)
        except Exception as exc:  # one task's failure must not lose the run
            self.emit(TaskFinished(self.name, self._failure(exc)))
            return
        segments = [*plan.segments, meter.segment]
        counts = Counts()
        counts.add([r.details for r in results])  # every example, those resumed from the store too
        timed_tokens = sum(s.prompt_tokens or 0 for s in segments) or None
        measurement = result_measurement(info.load_seconds, segments, counts, info.serving, self._context(info)) | {
            "latency_probe": probe, **throughput(timed_tokens, sum(len(s.indices) for s in segments),
                                                 sum(s.seconds for s in segments),
                                                 capability in (LOGLIKELIHOOD, ROLLING), info.to_dict(),
                                                 meter.device_name)}
        if measurement["gpu"]:
            self._warn_shared_gpu(measurement["gpu"])
        notes = ["quality metrics omitted: random weights (--no-weights)"] if info.random_weights else []
        notes += [f"metric {name} failed: {why}" for name, why in scored.failures.items()]
        if self.failed:
            notes.append(f"{self._failures_text()}; the figures are over the other {len(results)} "
                         f"(within max_failed_fraction {info.serving and info.serving.get('max_failed_fraction')})")
        note = "; ".join(notes) or None
        if scored.failures or self.failed:
            self.emit(Log(f"{self.spec.model.name} / {self.name}: {note}"))
        stats = [] if info.random_weights else [
            s for name, found in scored.example_stats([r.index for r in results]).items()
            if (s := found.stored(name)) is not None]
        example_scores = {} if info.random_weights else {
            r.index: self.task_type.example_score(r.prediction, r.reference, r.details) for r in results}
        self.emit(TaskFinished(self.name, Outcome(
            Status.OK, note, metrics=scored.scores, measurements=measurement,
            intervals={name: interval.to_dict() for name, interval in scored.intervals.items()},
            settings=ResultSettings(plan.fields, resolved, requested, batch_size, retries, scored.signatures,
                                    scored.failures, score_info={n: i.to_dict() for n, i in scored.info.items()} or None),
            counts=self._counts(results) | _quality_counts(scored), model_info=info.to_dict()),
            stats, example_scores))

    def _failure(self, exc: Exception) -> Outcome:
        if self.backend.is_out_of_memory(exc):
            self.backend.free_memory()
            return Outcome(Status.OOM, f"out of GPU memory: {exc}".splitlines()[0])
        detail = traceback.format_exc(limit=-3)
        return Outcome(Status.ERROR, f"{type(exc).__name__}: {exc}\n{detail}")

    def _context(self, info: ModelInfo) -> dict[str, Any]:
        """Where it was measured: a remote worker's own machine (the run's environment is the
        driver's), and the threads torch computed with (a served model computes on its server)."""
        context: dict[str, Any] = {}
        if self.spec.remote:
            context["environment"] = environment(info.device) | {"host": socket.gethostname()}
        if info.device != REMOTE_DEVICE:
            context["threads"] = self.threads
        return context

    def _failure_budget(self, info: ModelInfo) -> int:
        """How many examples may fail (served models' max_failed_fraction) for the result to stay ok."""
        fraction = (info.serving or {}).get("max_failed_fraction") or 0.0
        return int(fraction * len(self.plan.rows))

    def _failures_text(self) -> str:
        first = self.failed[0]
        return (f"{len(self.failed)} of {len(self.plan.rows)} examples failed after "
                f"{first.details.get('attempts', 1)} attempt(s) (first: example {first.index}: {first.failure})")

    def _counts(self, results: list[ExampleResult]) -> dict[str, Any]:
        failed = [{"index": r.index, "reason": r.failure, "attempts": r.details.get("attempts")} for r in self.failed]
        timed = {i for s in self.plan.segments for i in s.indices}
        resumed = sum(1 for r in self.plan.done if r.index not in timed)
        return {"examples": len(results), "resumed_examples": resumed,
                **({"failed_examples": len(failed), "failed": failed} if failed else {})}

    def _finish_incomplete(self, info: ModelInfo, settings: dict[str, Any], results: list[ExampleResult]) -> None:
        """Too many requests failed (a dead or overloaded server): the scored examples are stored,
        the task stops, and a rerun continues with the failed and unattempted ones."""
        untried = len(self.plan.rows) - len(results) - len(self.failed)
        reason = (f"{self._failures_text()}; {len(results)} scored and stored"
                  + (f", {untried} not attempted" if untried else "")
                  + "; rerun the same command to retry the rest (the stored examples are kept)")
        self.emit(Progress(untried))  # the bar still ends full
        self.emit(TaskFinished(self.name, Outcome(Status.INCOMPLETE, reason, settings=ResultSettings(
            self.plan.fields, settings), counts=self._counts(results), model_info=info.to_dict())))

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
                meter.count([r.details for r in scored], [r.index for r in scored])
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
        runtime = self.spec.runtime
        wanted = runtime.latency_probe is True or (runtime.latency_probe == "auto" and info.device == "cuda")
        if not wanted or capability != GENERATE or not results or not isinstance(self.backend, LatencyProbe):
            return None  # a served model's requests are timed one by one instead
        lengths = sorted(r.details.get("prompt_tokens", 0) for r in results)
        return self.backend.latency_probe(results[0].input, max(1, lengths[len(lengths) // 2]),
                                          runtime.probe_new_tokens, [1, batch_size], runtime.probe_repeats)

    def _warn_shared_gpu(self, gpu: dict[str, Any]) -> None:
        """Device-wide memory and power include other processes' work: say so when seen."""
        where = f"{self.spec.model.name} / {self.name}"
        if gpu["other_processes"]:
            self.emit(Log(f"warning: {where}: other processes used the GPU during the task "
                          f"(pids {gpu['other_processes']}); device-wide memory and power include theirs"))
        elif gpu["most_processes"] > 1:
            self.emit(Log(f"warning: {where}: {gpu['most_processes']} processes used the GPU at once "
                          f"(PIDs not attributable: {gpu['process_note']}); device-wide memory and power "
                          f"include theirs"))


def _quality_counts(scored: TaskScores) -> dict[str, Any]:
    """What a trivial answer scores on the data, and degenerate outputs, as the result's counts keep them."""
    return ({"baselines": scored.baselines} if scored.baselines else {}) | \
        ({"output_flags": scored.flags} if scored.flags else {})
