"""Run a model's job in this process (`runtime.isolation: none`): for debugging and tests.
Measurements share the process with the models run before, and a crash ends the run."""

from __future__ import annotations

from benchbench.run.events import Emit, EmitFailed, Event
from benchbench.run.executors.local import OnThisMachine
from benchbench.run.job import ModelJob
from benchbench.run.worker import run_job


class InlineExecutor(OnThisMachine):
    def run(self, job: ModelJob, emit: Emit) -> str | None:
        def forward(event: Event) -> None:
            try:
                emit(event)
            except Exception as exc:  # the driver's failure, raised inside the worker's code
                raise EmitFailed(f"{type(exc).__name__}: {exc}") from exc

        run_job(job, forward)
        return None
