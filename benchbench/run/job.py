"""A model's work as a worker receives it: plain, picklable data, no store, no open files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchbench.spec import ModelSpec, Runtime, TaskSpec
from benchbench.tasks import ExampleResult


@dataclass
class TaskPlan:
    """A model x task to run: its merged options, signature, the rows it scores, and the
    interrupted result it continues (with the examples already scored there)."""

    task: TaskSpec
    options: dict[str, Any]
    fields: dict[str, Any]  # what the signature hashes, stored with the result
    signature: str
    rows: list[dict[str, Any]]
    resume_id: int | None = None
    done: list[ExampleResult] = field(default_factory=list)


@dataclass(frozen=True)
class ModelJob:
    """Some of one model's tasks, as a worker needs them."""

    model: ModelSpec
    runtime: Runtime
    device: str
    plans: list[TaskPlan]
