"""The examples the report embeds for its side-by-side comparison: per task, each model's
output and per-example score next to the input and the reference.

Inputs are stored once per task and referred to by number (models that share a prompt
template share the text). Long texts are cut (and say so), and the examples embedded are
capped so that a large store still gives a report a browser opens quickly: each task gets an
equal share of EXAMPLE_CHARACTERS, filled in example order, and the page states how many of
the task's examples it holds. The store keeps them all (docs/results.md)."""

from __future__ import annotations

import json
from typing import Any

from benchbench.selection import Selection
from benchbench.store import ResultRecord, Status
from benchbench.tasks import TASK_TYPES

EXAMPLE_CHARACTERS = 6_000_000  # about 6 MB of example text in the page, over all tasks
INPUT_CHARACTERS = 2000  # an input longer than this is cut (the page collapses inputs anyway)
OUTPUT_CHARACTERS = 1000  # the same for an output or a reference


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [cut: {len(text)} characters in all]"


def as_text(value: Any) -> str:
    if value is None:  # e.g. perplexity has no reference
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " | ".join(value)  # several references
    return json.dumps(value, ensure_ascii=False)


def examples_of(selection: Selection, tasks: list[str]) -> dict[str, Any]:
    """Per task: the score's name, the inputs and references, each model's [example index,
    input number, output, score] rows, and how many of how many examples are embedded."""
    share = EXAMPLE_CHARACTERS // max(len(tasks), 1)
    shown = (Status.OK, Status.ELIMINATED)
    return {task: _task_examples(selection, [r for r in selection.of_task(task) if r.status in shown], share)
            for task in tasks}


def _task_examples(selection: Selection, records: list[ResultRecord], share: int) -> dict[str, Any]:
    stored = {r.model: (r, found) for r in records if r.task_type in TASK_TYPES and (found := selection.example_rows(r))}
    by_index: dict[int, dict[str, dict[str, Any]]] = {}
    for model, (_, predictions) in stored.items():
        for p in predictions:
            by_index.setdefault(p["example_index"], {})[model] = p
    inputs: dict[str, int] = {}
    references: dict[int, str] = {}
    per_model: dict[str, list[list[Any]]] = {model: [] for model in stored}
    used = 0
    for index in sorted(by_index):
        if used >= share:
            break
        for model, p in by_index[index].items():
            text = clip(as_text(p["input"]), INPUT_CHARACTERS)
            if text not in inputs:
                inputs[text] = len(inputs)
                used += len(text)
            output = clip(as_text(json.loads(p["prediction"])), OUTPUT_CHARACTERS)  # decoded only when embedded
            per_model[model].append([index, inputs[text], output, p["score"]])
            used += len(output) + 24
            if index not in references:
                references[index] = clip(as_text(json.loads(p["reference"])), OUTPUT_CHARACTERS)
        used += len(references[index])
    kind = TASK_TYPES[records[0].task_type].example_score_name if stored else ""
    return {"score": kind, "total": len(by_index), "embedded": len(references), "limit_characters": share,
            "inputs": list(inputs), "references": {str(i): text for i, text in references.items()},
            "rows": per_model}
