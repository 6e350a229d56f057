"""Run each model in a child process of its own (`runtime.isolation: process`, the default).

Why a process per model:
- measurements start clean for every model: peak resident memory, the CUDA context and
  caching allocator, NVML's per-process GPU memory are that model's own, not a high-water
  mark left by the model before it;
- a crash that kills a process (a segfault in native code, the kernel's out-of-memory
  killer, remote model code calling ``os._exit``) loses only the task in flight: the
  parent records it as ``crashed`` with the signal or exit code, keeps the predictions
  the child had stored (a later run resumes from them), and starts a new child for the
  model's remaining tasks.

The child writes results to the same SQLite store (WAL mode; one writer at a time, since
models run one after another). Progress, log lines and finished results come back over a
pipe; a pipe send is synchronous, so when the child dies the parent knows exactly which
tasks had finished. Children are started with "spawn": a fresh interpreter, safe with
CUDA, on every platform.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from benchbench.data import Examples
from benchbench.errors import DatasetUnavailable
from benchbench.model_runner import ModelRunner, RunEvents, TaskPlan
from benchbench.store import Store
from benchbench.suite import ModelSpec, Suite

EXIT_PARENT_GONE = 70


class PipeEvents:
    """The child's RunEvents: each event is sent to the parent as (name, args)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _send(self, name: str, *args: Any) -> None:
        self.connection.send((name, args))

    def log(self, message: str) -> None:
        self._send("log", message)

    def advance(self, examples: int) -> None:
        self._send("advance", examples)

    def describe(self, text: str) -> None:
        self._send("describe", text)

    def result(self, task_name: str, status: str, result_id: int, reused: bool) -> None:
        self._send("result", task_name, status, result_id, reused)

    def resumed(self, examples: int) -> None:
        self._send("resumed", examples)


class _ForwardLogs(logging.Handler):
    """benchbench's log records in the child (e.g. a GGUF conversion) go to the parent."""

    def __init__(self, events: PipeEvents) -> None:
        super().__init__(logging.INFO)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        self.events.log(record.getMessage())


@dataclass(frozen=True)
class ModelJob:
    """What a child process needs to run some of one model's tasks (pickled to it)."""

    suite: Suite
    database: str
    run_id: str
    device: str
    fresh: bool
    model: ModelSpec
    plans: list[TaskPlan]


def _exit_with_parent() -> None:
    """A child must not outlive its run (the parent killed with SIGKILL): it would go on
    writing to the store while a rerun resumes the same results."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()  # returns when the parent process has ended
            os._exit(EXIT_PARENT_GONE)

        threading.Thread(target=watch, name="benchbench-parent-watch", daemon=True).start()


def _child_main(connection: Connection, job: ModelJob) -> None:
    _exit_with_parent()
    events = PipeEvents(connection)
    logger = logging.getLogger("benchbench")
    logger.addHandler(_ForwardLogs(events))
    logger.setLevel(logging.INFO)
    store = Store(job.database)
    try:
        ModelRunner(job.suite, store, job.run_id, job.device, job.fresh, events).run_plans(job.model, job.plans)
    finally:
        store.close()
        connection.close()


@dataclass
class ChildOutcome:
    """How a child process ended: the tasks it finished, its exit code, and how many
    examples of the task it was on had been counted on the progress bar."""

    finished: set[str] = field(default_factory=set)
    exitcode: int | None = None
    in_flight_advanced: int = 0

    def note(self, name: str, payload: tuple[Any, ...]) -> None:
        if name == "result":
            self.finished.add(payload[0])
        if name in ("result", "describe"):  # a task ends or the next begins
            self.in_flight_advanced = 0
        elif name == "advance":
            self.in_flight_advanced += payload[0]


def _run_child(job: ModelJob, events: RunEvents) -> ChildOutcome:
    """Run `job` in a child process, relaying its events until it ends."""
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(writer, job), name=f"benchbench {job.model.name}")
    process.start()
    writer.close()  # the child holds the only writer: its exit ends the pipe
    outcome = ChildOutcome()
    try:
        while True:
            try:
                name, payload = reader.recv()
            except EOFError:
                break
            outcome.note(name, payload)
            getattr(events, name)(*payload)
        process.join()
    finally:
        reader.close()
        if process.is_alive():  # the parent was interrupted: do not leave the child running
            process.terminate()
            process.join()
    outcome.exitcode = process.exitcode
    return outcome


def crash_reason(exitcode: int | None) -> str:
    """Why a child process ended without finishing its tasks, in words a user can act on."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = (" (SIGKILL is what the kernel's out-of-memory killer sends: check `dmesg`, free memory, "
                "or use a smaller model or batch_size)") if name == "SIGKILL" else ""
        return f"the model's worker process was killed by {name} during this task{hint}"
    return (f"the model's worker process exited with code {exitcode} during this task "
            f"(its error output above says why)")


def run_model_isolated(suite: Suite, store: Store, run_id: str, device: str, fresh: bool, model: ModelSpec,
                       examples: dict[str, Examples | DatasetUnavailable], events: RunEvents) -> None:
    """Run a model's tasks in child processes: one, plus one more after each crash for the
    tasks still to run. Planning (reuse of finished results) happens here, so a suite
    whose results are all stored starts no process."""
    here = ModelRunner(suite, store, run_id, device, fresh, events)
    remaining = here.plan(model, examples, list(suite.tasks))
    while remaining:
        outcome = _run_child(ModelJob(suite, str(store.path), run_id, device, fresh, model, remaining), events)
        remaining = [plan for plan in remaining if plan.task.name not in outcome.finished]
        if remaining:
            in_flight, remaining = remaining[0], remaining[1:]
            here.fail_interrupted(model, in_flight.task, "crashed", crash_reason(outcome.exitcode))
            events.advance(max(0, len(in_flight.examples) - outcome.in_flight_advanced))  # the bar still ends full
