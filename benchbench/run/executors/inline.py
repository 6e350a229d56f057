"""Run a model's job in this process (`runtime.isolation: none`): for debugging and tests.
Measurements share the process with the models run before, and a crash ends the run."""

from __future__ import annotations

from benchbench.run.events import Emit
from benchbench.run.job import ModelJob
from benchbench.run.worker import run_job


class InlineExecutor:
    name = "inline"

    def run(self, job: ModelJob, emit: Emit) -> str | None:
        run_job(job, emit)
        return None
