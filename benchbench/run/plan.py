"""What a model must still run, decided on the driver before anything is loaded.

For each task of a model the driver claims its result in the store (Store.claim, one
write transaction, so concurrent runs on one results folder split the work): reuse a
finished result with the same settings signature; leave it to a live run that is computing
it; continue an interrupted one (its stored predictions are not recomputed); or start a new
one. A task whose data could not be loaded is recorded as such. The plans (job.py) are
plain, picklable data: they travel to the worker that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbench.data import Examples
from benchbench.errors import DatasetUnavailable
from benchbench.run.job import TaskPlan
from benchbench.signature import signature_fields, signature_hash
from benchbench.spec import ModelSpec, Suite, TaskSpec
from benchbench.store import Status, Store
from benchbench.store.lease import Owner, run_alive
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import prepared_rows


@dataclass(frozen=True)
class Reused:
    """A finished result this run takes as it is (copied from another name's when `copied_from`)."""

    result_id: int
    examples: int  # the task's rows, done on the bar
    status: Status
    copied_from: int | None
    reason: str | None
    metric_failures: dict[str, str]


@dataclass
class ModelPlan:
    """A model's tasks sorted by what happens to them."""

    pending: list[TaskPlan] = field(default_factory=list)
    reused: dict[str, Reused] = field(default_factory=dict)  # task name: the result reused
    elsewhere: dict[str, dict[str, Any]] = field(default_factory=dict)  # task name: the live run computing it
    missing: dict[str, DatasetUnavailable] = field(default_factory=dict)  # task name: why its data is missing
    merged_rows: int = 0  # dataset rows merged into fewer examples (perplexity's join): done on the bar


def plan_model(suite: Suite, model: ModelSpec, tasks: list[TaskSpec], examples: dict[str, Examples | DatasetUnavailable],
               store: Store, run_id: str, device: str, fresh: bool, me: Owner) -> ModelPlan:
    plan = ModelPlan()
    for task in tasks:
        data = examples[task.name]
        if isinstance(data, DatasetUnavailable):
            plan.missing[task.name] = data
            continue
        task_plan = _plan_task(suite, model, task, data, device)
        taken = [r.result_id for r in plan.reused.values()] + [p.result_id for p in plan.pending]
        final = (Status.OK, Status.ELIMINATED) if suite.runtime.race is not None else (Status.OK,)  # a race keeps its verdicts
        claim = store.claim(run_id, task_plan.signature, (suite.name, model.name, task.name, task.type), fresh,
                            lambda run: run_alive(run, me), taken, final)
        if claim.kind == "reuse":
            record = store.result(claim.result_id)
            plan.reused[task.name] = Reused(claim.result_id, len(data), claim.status, claim.copied_from, record.reason,
                                            record.settings.failures)
        elif claim.kind == "elsewhere":
            plan.elsewhere[task.name] = claim.owner or {}
        else:
            task_plan.result_id = claim.result_id
            if claim.kind == "resume":
                task_plan.resumed = True
                task_plan.done = [ExampleResult.stored(p) for p in store.predictions(claim.result_id)]
            plan.merged_rows += len(data) - len(task_plan.rows)
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
