"""What a model must still run, decided on the driver before anything is loaded.

For each task of a model: reuse a finished result with the same settings signature; record
a task whose data could not be loaded; otherwise plan it, with the interrupted result of
the same signature to continue (its stored predictions are not recomputed). The plans
(job.py) are plain, picklable data: they travel to the worker that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchbench.data import Examples
from benchbench.errors import DatasetUnavailable
from benchbench.run.job import TaskPlan
from benchbench.signature import signature_fields, signature_hash
from benchbench.spec import ModelSpec, Suite, TaskSpec
from benchbench.store import Store
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import prepared_rows

# Statuses of an interrupted result whose stored predictions a later run continues from.
RESUMABLE = ("running", "crashed")


@dataclass
class ModelPlan:
    """A model's tasks sorted by what happens to them."""

    pending: list[TaskPlan] = field(default_factory=list)
    reused: dict[str, tuple[int, int]] = field(default_factory=dict)  # task name: result id, examples
    missing: dict[str, DatasetUnavailable] = field(default_factory=dict)  # task name: why its data is missing
    merged_rows: int = 0  # dataset rows merged into fewer examples (perplexity's join): done on the bar


def plan_model(suite: Suite, model: ModelSpec, examples: dict[str, Examples | DatasetUnavailable], store: Store,
               device: str, fresh: bool) -> ModelPlan:
    plan = ModelPlan()
    for task in suite.tasks:
        data = examples[task.name]
        if isinstance(data, DatasetUnavailable):
            plan.missing[task.name] = data
            continue
        task_plan = _plan_task(suite, model, task, data, device)
        taken = [result_id for result_id, _ in plan.reused.values()] + [p.resume_id for p in plan.pending]
        finished = None if fresh else store.find_result(task_plan.signature, ("ok",), model.name, task.name, taken)
        if finished is not None:
            plan.reused[task.name] = (finished["result_id"], len(data))
            continue
        plan.merged_rows += len(data) - len(task_plan.rows)
        partial = None if fresh else store.find_result(task_plan.signature, RESUMABLE, model.name, task.name, taken)
        if partial is not None:
            task_plan.resume_id = partial["result_id"]
            task_plan.done = [ExampleResult(p["example_index"], p["input"], p["prediction"], p["reference"],
                                            p["details"]) for p in store.predictions(partial["result_id"])]
        plan.pending.append(task_plan)
    return plan


def _plan_task(suite: Suite, model: ModelSpec, task: TaskSpec, data: Examples, device: str) -> TaskPlan:
    options = model.options_for(task)
    if "seed" in options and options["seed"] is None:
        options["seed"] = suite.runtime.seed
    runtime = suite.runtime
    fields = signature_fields(model, task, options, data.fingerprint, device, model.dtype or runtime.dtype,
                              Path(suite.path).resolve().parent) | {"random_weights": runtime.no_weights}
    rows = prepared_rows(TASK_TYPES[task.type], data.rows, options)
    return TaskPlan(task, options, fields, signature_hash(fields), rows)


def failure_signature(model: ModelSpec, task: TaskSpec) -> str:
    """The signature of a result that records a failure before any setting was resolved."""
    return signature_hash({"model": model.source, "task": task.name})
