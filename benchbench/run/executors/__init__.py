"""Executors: where a model's job runs. Each takes a :class:`~benchbench.run.job.ModelJob`
and an ``emit`` callback for the worker's events, and returns None when the worker ended
normally, or why it did not (the driver records the task in flight as crashed). An error
of the driver itself (its store cannot be written) ends the run, whatever the executor."""

from __future__ import annotations

from typing import Protocol

from benchbench.run.events import Emit
from benchbench.run.executors.inline import InlineExecutor
from benchbench.run.executors.process import ProcessExecutor
from benchbench.run.job import ModelJob
from benchbench.spec import Runtime


class Executor(Protocol):
    name: str

    def run(self, job: ModelJob, emit: Emit) -> str | None: ...


def executor_for(runtime: Runtime) -> Executor:
    """runtime.isolation: 'process' (a child process per model) or 'none' (this process)."""
    return ProcessExecutor() if runtime.isolation == "process" else InlineExecutor()
