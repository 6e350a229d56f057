"""Reading the store back: ``load_results`` as a DataFrame, and the terminal comparison.

One row per model x task (the latest attempt for that suite, model and task, unless
``all_attempts=True``). Columns are documented in docs/results.md: identity columns,
``status``/``reason``, one column per metric, one per measurement, model facts, and the
``signature`` and ``settings`` that make a figure comparable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchbench.comparable import choose_comparable
from benchbench.store import Store, database_path

IDENTITY = ["suite", "model", "task", "task_type", "status", "reason"]
MODEL_COLUMNS = ["parameters", "family", "architecture", "dtype", "device", "shape"]


def load_results(path: str | Path = "results", all_attempts: bool = False, data: str = "complete") -> pd.DataFrame:
    """The results folder (or its .sqlite file) as one row per model x task, all of a task's
    rows over the same examples (comparable.py: `data` is complete, latest or a fingerprint);
    with `all_attempts`, every stored attempt."""
    db = database_path(path)
    if not db.exists():
        raise FileNotFoundError(f"no benchbench results at {db}; run `benchbench run SUITE "
                                f"--results {Path(path)}` first")
    store = Store(path, read_only=True)
    try:
        records = store.results()
        environments = {run["run_id"]: run["environment"] for run in store.runs()}
    finally:
        store.close()
    # a result measured on another machine (a Ray worker) carries its own environment
    frame = pd.DataFrame([_flatten(r) | {"environment": r["measurements"].get("environment")
                                         or environments.get(r["run_id"], {})} for r in records])
    if frame.empty:
        return pd.DataFrame(columns=IDENTITY)
    return frame if all_attempts else choose_comparable(frame, data)[0]


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    info = record["model_info"]
    row: dict[str, Any] = {
        "suite": record["suite_name"], "model": record["model_name"], "task": record["task_name"],
        "task_type": record["task_type"], "status": record["status"], "reason": record["reason"],
        "run_id": record["run_id"], "result_id": record["result_id"],
        "signature": record["signature"], "started_at": record["started_at"],
        "finished_at": record["finished_at"],
    }
    row |= {name: info.get(name) for name in MODEL_COLUMNS}
    row |= {name: (float("nan") if v is None else v) for name, v in record["metrics"].items()}
    for name, interval in record["intervals"].items():
        row |= {f"{name}_ci_low": interval["low"], f"{name}_ci_high": interval["high"]}
    for name, value in record["measurements"].items():
        if name != "environment":  # the frame's `environment` column
            row |= _flatten_measurement(name, value)
    dataset = record["settings"].get("signature", {}).get("dataset", {})
    row |= {"examples": record["counts"].get("examples"), "data": dataset.get("fingerprint"),
            "settings": record["settings"]}
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
