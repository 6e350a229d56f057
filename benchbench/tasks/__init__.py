"""Registry of task types: name -> implementation. `benchbench list` prints it."""

from __future__ import annotations

from benchbench.tasks.base import ExampleResult, TaskType
from benchbench.tasks.classification import Classification
from benchbench.tasks.perplexity import Perplexity
from benchbench.tasks.qa import QuestionAnswering
from benchbench.tasks.text_to_text import Summarization, Translation

TASK_TYPES: dict[str, TaskType] = {
    "perplexity": Perplexity(),
    "classification": Classification(),
    "translation": Translation(),
    "summarization": Summarization(),
    "qa": QuestionAnswering(),
}

__all__ = ["TASK_TYPES", "ExampleResult", "TaskType"]
