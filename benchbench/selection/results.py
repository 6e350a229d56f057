"""The results as a pandas DataFrame (``load_results``): one row per model x task.

The latest attempt for each suite, model and task over one example set per task
(examplesets.py), unless ``all_attempts=True``. Columns are documented in docs/results.md:
identity columns, ``status``/``reason``, one column per score, one per measurement (nested
ones flattened with their path), model facts, and the ``signature`` and ``settings`` that make
a figure comparable. pandas is imported here only: the choosing side works on the typed
records (store.ResultRecord).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from benchbench.store import ResultRecord

if TYPE_CHECKING:
    import pandas as pd

IDENTITY = ["suite", "model", "task", "task_type", "status", "reason"]
MODEL_COLUMNS = ["parameters", "family", "architecture", "dtype", "device", "shape"]


def load_results(path: str | Path = "results", all_attempts: bool = False, data: str = "complete") -> "pd.DataFrame":
    """The results folder (or its .sqlite file) as one row per model x task, all of a task's
    rows over the same examples (`data`: complete, latest or a fingerprint); with
    `all_attempts`, every stored attempt."""
    from benchbench.selection.front import Selection

    with Selection.open(path, data) as selection:
        return frame_of(selection.attempts if all_attempts else selection.records)


COMPARISON_COLUMNS = ["task", "metric", "model", "best", "n", "difference", "ci_low", "ci_high", "p_value", "p_holm",
                      "test", "tied"]


def load_comparisons(path: str | Path = "results", data: str = "complete") -> "pd.DataFrame":
    """Paired comparisons of the comparable results in `path` (the rows `load_results` gives
    with the same `data`): one row per task, metric and model other than that metric's best,
    with the difference from the best, its 95% paired interval, the p-value (McNemar's exact
    test for right/wrong metrics, else the paired permutation test's), Holm's adjustment over the
    task's comparisons, and whether the model is tied with the best."""
    import pandas as pd

    from benchbench.selection.front import Selection

    with Selection.open(path, data) as selection:
        return pd.DataFrame(selection.comparisons(), columns=COMPARISON_COLUMNS)


def frame_of(records: Iterable[ResultRecord]) -> "pd.DataFrame":
    """Records as load_results' DataFrame."""
    import pandas as pd

    frame = pd.DataFrame([flatten(r) for r in records])
    return pd.DataFrame(columns=IDENTITY) if frame.empty else frame


def flatten(record: ResultRecord) -> dict[str, Any]:
    """One record as one row of load_results' frame."""
    info = record.model_info
    row: dict[str, Any] = {
        "suite": record.suite, "model": record.model, "task": record.task, "task_type": record.task_type,
        "status": record.status.value, "reason": record.reason, "run_id": record.run_id,
        "result_id": record.result_id, "signature": record.signature, "started_at": record.started_at,
        "finished_at": record.finished_at,
    }
    row |= {name: info.get(name) for name in MODEL_COLUMNS}
    row |= {name: (float("nan") if v is None else v) for name, v in record.metrics.items()}
    for name, interval in record.intervals.items():
        row |= {f"{name}_ci_low": interval["low"], f"{name}_ci_high": interval["high"]}
    for name, value in record.measurements.items():
        if name != "environment":  # the frame's `environment` column
            row |= _flatten_measurement(name, value)
    row |= {"examples": record.examples, "data": record.settings.data_fingerprint,
            "settings": record.settings.to_dict(), "environment": record.environment}
    return row


def _flatten_measurement(name: str, value: Any) -> dict[str, Any]:
    """Nested measurements (batch_latency, gpu, latency_probe) as prefixed columns."""
    if not isinstance(value, dict):
        return {name: value}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        if isinstance(inner, dict):
            out |= _flatten_measurement(f"{name}_{key}", inner)
        elif not isinstance(inner, list):
            out[f"{name}_{key}"] = inner
    return out
