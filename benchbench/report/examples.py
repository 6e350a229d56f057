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

import pandas as pd

from benchbench.store import Store
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


def examples_of(store: Store, frame: pd.DataFrame, tasks: list[str]) -> dict[str, Any]:
    """Per task: the score's name, the inputs and references, each model's [example index,
    input number, output, score] rows, and how many of how many examples are embedded."""
    share = EXAMPLE_CHARACTERS // max(len(tasks), 1)
    return {task: _task_examples(store, frame[(frame["task"] == task) & (frame["status"].isin(["ok", "eliminated"]))],
                                 share) for task in tasks}


def _task_examples(store: Store, rows: pd.DataFrame, share: int) -> dict[str, Any]:
    stored = {row["model"]: (store.predictions(int(row["result_id"])), str(row["task_type"]))
              for _, row in rows.iterrows()}
    stored = {model: found for model, found in stored.items() if found[0] and found[1] in TASK_TYPES}
    by_index: dict[int, dict[str, dict[str, Any]]] = {}
    for model, (predictions, _) in stored.items():
        for p in predictions:
            by_index.setdefault(p["example_index"], {})[model] = p
    inputs: dict[str, int] = {}
    references: dict[int, str] = {}
    per_model: dict[str, list[list[Any]]] = {model: [] for model in stored}
    kind, used = "", 0
    for index in sorted(by_index):
        if used >= share:
            break
        for model, p in by_index[index].items():
            text = clip(as_text(p["input"]), INPUT_CHARACTERS)
            if text not in inputs:
                inputs[text] = len(inputs)
                used += len(text)
            score, kind = TASK_TYPES[stored[model][1]].example_score(p["prediction"], p["reference"], p["details"] or {})
            output = clip(as_text(p["prediction"]), OUTPUT_CHARACTERS)
            per_model[model].append([index, inputs[text], output, score])
            used += len(output) + 24
            references.setdefault(index, clip(as_text(p["reference"]), OUTPUT_CHARACTERS))
        used += len(references[index])
    return {"score": kind, "total": len(by_index), "embedded": len(references), "limit_characters": share,
            "inputs": list(inputs), "references": {str(i): text for i, text in references.items()},
            "rows": per_model}
