"""Registry of task types: name -> implementation. `benchbench list` prints it."""

from __future__ import annotations

from benchbench.tasks.base import ExampleResult, TaskType
from benchbench.tasks.classification import Classification
from benchbench.tasks.perplexity import Perplexity

TASK_TYPES: dict[str, TaskType] = {
    "perplexity": Perplexity(),
    "classification": Classification(),
}

__all__ = ["TASK_TYPES", "ExampleResult", "TaskType"]
