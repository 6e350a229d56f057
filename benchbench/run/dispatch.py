"""Running the models' planned tasks on their workers: one model after another, or every model
at once on a parallel executor (Ray), with a worker that dies replaced for the tasks it left.

A worker can be kept after its call (a race gives each model's worker one call per round, and
its model stays loaded between them); otherwise it is closed as soon as its model is done. Every
worker still open is closed at the end (`close_all`), also when the run is interrupted.

In parallel, each model's call waits in a thread of its own and passes its events through a
queue; this thread alone applies them (recorder.py), so the store has one writer however many
models run.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from functools import partial
from typing import Iterable

from benchbench.run.events import Event
from benchbench.run.executors import Executor, Worker
from benchbench.run.job import WorkerSpec
from benchbench.run.recorder import ModelState, Recorder
from benchbench.spec import Runtime


@dataclass(frozen=True)
class _CallEnded:
    """A parallel call's end, sent through the queue after its last event: why its worker died
    (None: it did not), or the executor's own error, raised in the driver."""

    crash: str | None
    error: BaseException | None = None


class Dispatcher:
    """Gives each model's remaining plans to its worker (the module docstring says how)."""

    def __init__(self, executor: Executor, recorder: Recorder, runtime: Runtime, device: str) -> None:
        self.executor, self.recorder, self.runtime, self.device = executor, recorder, runtime, device
        self.open: list[ModelState] = []  # models whose worker is open

    def run(self, states: Iterable[ModelState], keep: bool = False) -> None:
        """Run every state's remaining plans; `keep`: leave each worker open afterwards."""
        (self._in_parallel if self.executor.parallel else self._in_turn)(states, keep)

    def _in_turn(self, states: Iterable[ModelState], keep: bool) -> None:
        for state in states:
            while state.remaining:
                worker = self._begin(state)
                self._ended(state, worker.run(state.remaining, partial(self.recorder.apply, state)))
            if not keep:
                self.close(state)

    def _in_parallel(self, states: Iterable[ModelState], keep: bool) -> None:
        inbox: queue.SimpleQueue[tuple[ModelState, Event | _CallEnded]] = queue.SimpleQueue()

        def call(state: ModelState, worker: Worker) -> None:
            def wait() -> None:
                try:
                    ended = _CallEnded(worker.run(state.remaining, lambda event: inbox.put((state, event))))
                except BaseException as exc:  # the executor's own failure: the driver raises it
                    ended = _CallEnded(None, exc)
                inbox.put((state, ended))

            threading.Thread(target=wait, name=f"benchbench {state.model.name}", daemon=True).start()

        running = 0
        for state in states:
            if state.remaining:
                call(state, self._begin(state))
                running += 1
        while running:
            state, item = inbox.get()
            if not isinstance(item, _CallEnded):
                self.recorder.apply(state, item)
                continue
            running -= 1
            if item.error is not None:
                raise item.error
            self._ended(state, item.crash)
            if state.remaining:
                call(state, self._begin(state))
                running += 1
            elif not keep:
                self.close(state)

    def _begin(self, state: ModelState) -> Worker:
        """The model's worker (started when it has none), ready for a call on its remaining plans."""
        if state.worker is None:
            state.worker = self.executor.start(WorkerSpec(state.model, self.runtime, self.device, self.executor.remote))
            self.recorder.summary.workers_started += 1
            self.open.append(state)
        state.plans = {p.task.name: p for p in state.remaining}
        state.finished, state.advanced, state.started = set(), 0, False
        return state.worker  # type: ignore[return-value]

    def _ended(self, state: ModelState, crash: str | None) -> None:
        """A call ended: every plan ran, or the worker died (the task in flight crashed, the rest
        wait for a new worker)."""
        self.recorder.call_ended(state)
        if crash is None:
            state.remaining = []
            return
        state.worker = None
        self.open.remove(state)
        self.recorder.crashed(state, crash)

    def close(self, state: ModelState) -> None:
        if state.worker is not None:
            worker, state.worker = state.worker, None
            self.open.remove(state)
            worker.close()  # type: ignore[attr-defined]

    def close_all(self) -> None:
        for state in list(self.open):
            self.close(state)
