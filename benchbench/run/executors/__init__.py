"""Executors: where a model's worker runs. An executor starts a worker for a model
(``start(WorkerSpec)``); the worker is given plans any number of times (``run(plans, emit)``,
a race's rounds) and keeps its model loaded between them, then is closed. ``run`` returns None
when the worker ran every plan, or why it died (the driver records the task in flight as
crashed, and a dead worker is not given plans again). An error of the driver itself (its store
cannot be written) ends the run, whatever the executor.

``local`` runs on this machine, one model at a time: in a child process per model
(process.py, the default) or in this process (inline.py). ``ray`` (on_ray.py) runs each
model's worker as a Ray actor on a cluster, all at once; Ray is an optional extra, imported
only when that executor is chosen.
"""

from __future__ import annotations

from typing import Any, Protocol

from benchbench.run.events import Emit
from benchbench.run.job import TaskPlan, WorkerSpec
from benchbench.spec import Runtime


class Worker(Protocol):
    def run(self, plans: list[TaskPlan], emit: Emit) -> str | None:
        """Run the plans, sending events through `emit`; None, or why the worker died."""
        ...

    def close(self) -> None:
        """Let the worker close its model and end."""
        ...


class Executor(Protocol):
    parallel: bool  # the driver runs every model's worker at once, each waited on in a thread of its own
    remote: bool  # workers may run on other machines: each result records its own environment

    def device(self, requested: str) -> str:
        """runtime.device resolved for the workers ('auto' -> cuda or cpu); an error when it cannot be had."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the run records about where it ran (merged into the run's environment)."""
        ...

    def holds_at_once(self, device: str, weights_gib: list[float]) -> str | None:
        """Whether workers for models of these weights can all be kept at once (a race keeps
        them): None when they can, else why not."""
        ...

    def start(self, spec: WorkerSpec) -> Worker:
        """A worker for one model (it may load the model only when first given plans)."""
        ...

    def close(self) -> None:
        """Stop every worker still running (an interrupted run) and let go of what the executor holds."""
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
