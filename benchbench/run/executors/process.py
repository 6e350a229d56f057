"""Run each model's job in a child process of its own (`runtime.isolation: process`, the default).

Why a process per model:
- measurements start clean for every model: peak resident memory, the CUDA context and
  caching allocator, NVML's per-process GPU memory are that model's own, not a high-water
  mark left by the model before it;
- a crash that kills a process (a segfault in native code, the kernel's out-of-memory
  killer, remote model code calling ``os._exit``) loses only the task in flight: the
  driver records it as ``crashed`` with the reason this executor gives, keeps the
  predictions it had stored (a later run resumes from them), and starts a new job for the
  model's remaining tasks.

The child never opens the store: its events come back over a pipe and the driver writes
them. A pipe send is synchronous, so when the child dies the driver knows exactly what it
had finished. The child stays up between the calls it is given (a race's rounds), keeping the
model loaded, until the driver closes it. Children are started with "spawn": a fresh
interpreter, safe with CUDA, on every platform (so a script that runs suites itself needs the
usual ``if __name__ == "__main__":`` guard).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection

from benchbench.run.events import Emit, Event
from benchbench.run.executors.local import OnThisMachine
from benchbench.run.job import TaskPlan, WorkerSpec
from benchbench.run.signals import ignore_interrupts
from benchbench.run.worker import ModelWorker, forward_logs

EXIT_PARENT_GONE = 70
CLOSE_WAIT_SECONDS = 30  # for a child told to close to let go of its model


class Done:
    """The child's word that it ran every plan of a call and waits for the next."""


def _exit_with_parent() -> None:
    """A child must not outlive its run (the parent killed with SIGKILL): it would go on
    computing while a rerun resumes the same results."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()  # returns when the parent process has ended
            os._exit(EXIT_PARENT_GONE)

        threading.Thread(target=watch, name="benchbench-parent-watch", daemon=True).start()


def _child_main(connection: Connection, spec: WorkerSpec) -> None:
    ignore_interrupts()
    _exit_with_parent()
    forward_logs(connection.send)
    worker = ModelWorker(spec)
    try:
        while (plans := connection.recv()) is not None:
            worker.run(plans, connection.send)
            connection.send(Done())
    finally:
        worker.close()
        connection.close()


def crash_reason(exitcode: int | None) -> str:
    """Why a child process ended without finishing its tasks, in words a user can act on."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = (" (SIGKILL is what the kernel's out-of-memory killer sends: check `dmesg`, free memory, "
                "or use a smaller model or batch_size)") if name == "SIGKILL" else ""
        return f"the model's worker process was killed by {name} during this task{hint}"
    return (f"the model's worker process exited with code {exitcode} during this task "
            f"(its error output above says why)")


class ProcessWorker:
    """A model's child process: started once, given plans any number of times, then closed."""

    def __init__(self, spec: WorkerSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_child_main, args=(child, spec), name=f"benchbench {spec.model.name}")
        self.process.start()
        child.close()  # the child holds the only other end: its exit ends the pipe

    def run(self, plans: list[TaskPlan], emit: Emit) -> str | None:
        """Run `plans` in the child; None when it ran them all, else why it died (also when it died
        while it waited for them: a kept worker killed between a race's rounds)."""
        try:
            try:
                self.connection.send(plans)
            except (OSError, EOFError):  # the child is gone
                self._stop()
                return crash_reason(self.process.exitcode)
            while True:
                try:
                    event: Event | Done = self.connection.recv()
                except EOFError:
                    break
                if isinstance(event, Done):
                    return None
                emit(event)
        except BaseException:
            self._stop()  # the driver was interrupted mid-task: do not leave the child running
            raise
        self._stop()
        return crash_reason(self.process.exitcode)

    def close(self) -> None:
        """Let the child close its model and end; stop it if it does not within CLOSE_WAIT_SECONDS."""
        if self.process.is_alive():
            try:
                self.connection.send(None)
            except (OSError, ValueError):
                pass
            self.process.join(CLOSE_WAIT_SECONDS)
        self._stop()

    def _stop(self) -> None:
        """End the child: SIGTERM, then SIGKILL if it does not end within CLOSE_WAIT_SECONDS."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(CLOSE_WAIT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


class ProcessExecutor(OnThisMachine):
    """Each model's worker in a spawned child process, its events relayed to the driver as they come."""

    def start(self, spec: WorkerSpec) -> ProcessWorker:
        return ProcessWorker(spec)
