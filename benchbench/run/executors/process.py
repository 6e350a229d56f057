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
had finished. Children are started with "spawn": a fresh interpreter, safe with CUDA, on
every platform (so a script that runs suites itself needs the usual
``if __name__ == "__main__":`` guard).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection

from benchbench.run.events import Emit, Event
from benchbench.run.executors.local import OnThisMachine
from benchbench.run.job import ModelJob
from benchbench.run.signals import ignore_interrupts
from benchbench.run.worker import forward_logs, run_job

EXIT_PARENT_GONE = 70


def _exit_with_parent() -> None:
    """A child must not outlive its run (the parent killed with SIGKILL): it would go on
    computing while a rerun resumes the same results."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()  # returns when the parent process has ended
            os._exit(EXIT_PARENT_GONE)

        threading.Thread(target=watch, name="benchbench-parent-watch", daemon=True).start()


def _child_main(connection: Connection, job: ModelJob) -> None:
    ignore_interrupts()
    _exit_with_parent()
    forward_logs(connection.send)
    try:
        run_job(job, connection.send)
    finally:
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


class ProcessExecutor(OnThisMachine):
    """Each job in a spawned child process, its events relayed to the driver as they come."""

    def run(self, job: ModelJob, emit: Emit) -> str | None:
        """Run `job`; None when the child ended normally, else why it did not."""
        context = multiprocessing.get_context("spawn")
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_child_main, args=(writer, job), name=f"benchbench {job.model.name}")
        process.start()
        writer.close()  # the child holds the only writer: its exit ends the pipe
        try:
            while True:
                try:
                    event: Event = reader.recv()
                except EOFError:
                    break
                emit(event)
            process.join()
        finally:
            reader.close()
            if process.is_alive():  # the driver was interrupted: do not leave the child running
                process.terminate()
                process.join()
        return None if process.exitcode == 0 else crash_reason(process.exitcode)
