"""Executors: where a model's job runs. Each takes a :class:`~benchbench.run.job.ModelJob`
and an ``emit`` callback for the worker's events, and returns None when the worker ended
normally, or why it did not (the driver records the task in flight as crashed). An error
of the driver itself (its store cannot be written) ends the run, whatever the executor.

``local`` runs on this machine, one model at a time: in a child process per model
(process.py, the default) or in this process (inline.py). ``ray`` (on_ray.py) runs each
model as a Ray task on a cluster, all at once; Ray is an optional extra, imported only
when that executor is chosen.
"""

from __future__ import annotations

from typing import Any, Protocol

from benchbench.run.events import Emit
from benchbench.run.job import ModelJob
from benchbench.spec import Runtime


class Executor(Protocol):
    parallel: bool  # the driver hands it every model's job at once, each `run` in a thread of its own
    remote: bool  # workers may run on other machines: each result records its own environment

    def device(self, requested: str) -> str:
        """runtime.device resolved for the workers ('auto' -> cuda or cpu); an error when it cannot be had."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the run records about where it ran (merged into the run's environment)."""
        ...

    def run(self, job: ModelJob, emit: Emit) -> str | None: ...

    def close(self) -> None:
        """Stop every job still running (an interrupted run) and let go of what the executor holds."""
        ...


def executor_for(runtime: Runtime) -> Executor:
    """runtime.executor 'ray', else runtime.isolation: 'process' (a child process per model) or
    'none' (this process)."""
    if runtime.executor == "ray":
        from benchbench.run.executors.on_ray import RayExecutor

        return RayExecutor(runtime)
    from benchbench.run.executors.inline import InlineExecutor
    from benchbench.run.executors.process import ProcessExecutor

    return ProcessExecutor() if runtime.isolation == "process" else InlineExecutor()
