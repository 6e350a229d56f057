"""A model's worker: open its backend once, run the planned tasks it is given, send everything
to the driver as events (events.py), and close the backend when told.

A worker is given tasks once for an ordinary run, and once per round in a race: it keeps the
backend (and the weights it loaded) from one call to the next, so a race loads each model once.
It never opens the results store, so it can run in this process, a child process or on another
machine. A failure (unreachable checkpoint, out of memory, a bug in a task) ends that task with
its status and reason; the next task still runs.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from benchbench.backends import open_backend
from benchbench.backends.base import ModelBackend, ModelInfo
from benchbench.errors import ModelUnavailable
from benchbench.measure.threads import use_threads
from benchbench.run.events import Emit, Log, Progress, TaskFinished, TaskStarted
from benchbench.run.job import TaskPlan, WorkerSpec
from benchbench.run.task import TaskRun
from benchbench.store.records import Outcome, Status


class ModelWorker:
    """One model's worker (the module docstring says what it keeps between calls)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.threads = use_threads(spec.runtime.threads, local=not spec.model.remote)
        self._backend: ModelBackend | None = None
        self._unavailable: str | None = None
        self._loaded: ModelInfo | None = None  # what the backend holds now

    def _open(self) -> ModelBackend | None:
        if self._backend is None and self._unavailable is None:
            try:
                self._backend = open_backend(self.spec.model, self.spec.runtime, self.spec.device)
            except ModelUnavailable as exc:
                self._unavailable = str(exc)
        return self._backend

    def run(self, plans: list[TaskPlan], emit: Emit) -> None:
        """Run the plans in order, reporting through `emit`."""
        backend = self._open()
        for plan in plans:
            emit(TaskStarted(plan.task.name))
            if backend is None:
                emit(TaskFinished(plan.task.name, Outcome(Status.UNAVAILABLE, self._unavailable)))
                emit(Progress(len(plan.rows) - plan.shown))
                continue
            self._loaded = TaskRun(self.spec, backend, plan, emit, self.threads).run(self._loaded)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


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


@contextmanager
def log_handler(emit: Emit) -> Iterator[None]:
    """benchbench's log lines go to the driver through `emit` while the block runs (an actor's
    call: each call has its own stream)."""
    logger, handler = logging.getLogger("benchbench"), _ForwardLogs(emit)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
