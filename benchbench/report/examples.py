"""The examples the report embeds for its side-by-side comparison: per task, each model's
output and per-example score next to the input and the reference.

Inputs are stored once per task and referred to by number (models that share a prompt
template share the text). Long texts are cut (and say so), and the examples embedded are
capped so that a large store still gives a report a browser opens quickly: each task gets an
equal share of EXAMPLE_CHARACTERS, filled in example order, and the page states how many of
the task's examples it holds. The store keeps them all (docs/results.md)."""

from __future__ import annotations

import json
from typing import Any, Iterator

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


EXAMPLES_PER_READ = 256  # examples read from the store at a time, until the page's share is full


def _in_order(selection: Selection, stored: dict[str, ResultRecord], end: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each example index with every model's stored row for it, in index order, read a slice
    of indices at a time: the page embeds the first examples only."""
    for start in range(0, end, EXAMPLES_PER_READ):
        by_index: dict[int, dict[str, dict[str, Any]]] = {}
        for model, record in stored.items():
            for row in selection.example_rows(record, start, start + EXAMPLES_PER_READ):
                by_index.setdefault(row["example_index"], {})[model] = row
        yield from sorted(by_index.items())


def _task_examples(selection: Selection, records: list[ResultRecord], share: int) -> dict[str, Any]:
    holding, total, end = selection.store.example_extent(r.result_id for r in records if r.task_type in TASK_TYPES)
    stored = {r.model: r for r in records if r.result_id in holding}
    inputs: dict[str, int] = {}
    references: dict[int, str] = {}
    per_model: dict[str, list[list[Any]]] = {model: [] for model in stored}
    used = 0
    for index, rows in _in_order(selection, stored, end):
        if used >= share:
            break
        for model, p in rows.items():
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
    return {"score": kind, "total": total, "embedded": len(references), "limit_characters": share,
            "inputs": list(inputs), "references": {str(i): text for i, text in references.items()},
            "rows": per_model}
