"""Run a model's worker in this process (`runtime.isolation: none`): for debugging and tests.
Measurements share the process with the models run before, and a crash ends the run."""

from __future__ import annotations

from benchbench.run.events import Emit, EmitFailed, Event
from benchbench.run.executors.local import OnThisMachine
from benchbench.run.job import TaskPlan, WorkerSpec
from benchbench.run.worker import ModelWorker


class InlineWorker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.worker = ModelWorker(spec)

    def run(self, plans: list[TaskPlan], emit: Emit) -> str | None:
        def forward(event: Event) -> None:
            try:
                emit(event)
            except Exception as exc:  # the driver's failure, raised inside the worker's code
                raise EmitFailed(f"{type(exc).__name__}: {exc}") from exc

        self.worker.run(plans, forward)
        return None

    def close(self) -> None:
        self.worker.close()


class InlineExecutor(OnThisMachine):
    def start(self, spec: WorkerSpec) -> InlineWorker:
        return InlineWorker(spec)
