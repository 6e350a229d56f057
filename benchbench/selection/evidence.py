"""Paired comparisons between the models of a task, recomputed from the stored predictions.

Every model of a task answered the same examples, so models are compared example by
example (statistics.py): each model against the best one, on the examples both scored,
with the task's own scoring of the stored predictions (the same per-example statistics
its 95% interval was drawn from). Nothing here is stored separately: the comparisons are a
pure function of the stored predictions, their settings and the run's seed, so every
reader (`load_comparisons`, `recommend`, the report) gets the same figures. The verdict
"tied with the best" is Holm's rule over the comparisons of one task and metric: tied
unless the Holm-adjusted p-value is below 0.05 (docs/statistics.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchbench.metrics import DIRECTION
from benchbench.store import Store
from benchbench.tasks import TASK_TYPES, ExampleResult
from benchbench.tasks.base import Scoring
from benchbench.tasks.paired import TaskEvidence, versus_best

COLUMNS = ["task", "metric", "model", "best", "n", "difference", "ci_low", "ci_high", "p_value", "p_holm", "test",
           "tied"]


def load_evidence(path: str | Path, frame: pd.DataFrame) -> dict[str, TaskEvidence]:
    """Per task of `frame` (load_results rows), the stored examples of its ok results."""
    store = Store(path, read_only=True)
    try:
        evidence: dict[str, TaskEvidence] = {}
        for _, row in frame[frame["status"] == "ok"].iterrows():
            if row["task_type"] not in TASK_TYPES:  # stored by a benchbench with a task type this one lacks
                continue
            stored = store.predictions(int(row["result_id"]))
            if not stored:  # random weights store no predictions
                continue
            task = evidence.setdefault(row["task"], TaskEvidence(row["task"], row["task_type"], {}, {}, {}))
            task.examples[row["model"]] = {p["example_index"]: ExampleResult.stored(p) for p in stored}
            task.settings[row["model"]] = dict(row["settings"].get("resolved", {}))
            task.scoring[row["model"]] = _scoring(row["settings"])
        return evidence
    finally:
        store.close()


def _scoring(settings: dict[str, Any]) -> Scoring:
    """The scoring a result was computed with, from what it stored."""
    resolved = settings.get("resolved", {})
    bootstrap = resolved.get("bootstrap", {})
    return Scoring(tuple(settings.get("signature", {}).get("metrics", ())), resolved.get("metric_options", {}),
                   int(bootstrap.get("resamples", 1000)), int(bootstrap.get("seed", Scoring.seed)))


def comparisons_frame(evidence: dict[str, TaskEvidence], frame: pd.DataFrame) -> pd.DataFrame:
    """For every task and metric with per-example statistics, each model against the best."""
    rows = []
    for task, task_evidence in evidence.items():
        results = frame[(frame["task"] == task) & (frame["status"] == "ok")]
        for metric in DIRECTION:
            if metric not in results or results[metric].isna().all():
                continue
            scores = {r["model"]: float(r[metric]) for _, r in results.iterrows()
                      if r["model"] in task_evidence.examples and pd.notna(r[metric])}
            for model, verdict in versus_best(task_evidence, scores, metric).items():
                if model != verdict["best"]:
                    rows.append({"task": task, "metric": metric, "model": model, "best": verdict["best"],
                                 "n": verdict["n"], "difference": verdict["difference"], "ci_low": verdict["low"],
                                 "ci_high": verdict["high"], "p_value": verdict["p_value"],
                                 "p_holm": verdict["p_holm"], "test": verdict["test"], "tied": verdict["tied"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def load_comparisons(path: str | Path, data: str = "complete") -> pd.DataFrame:
    """Paired comparisons of the comparable results in `path` (the rows `load_results` gives
    with the same `data`): one row per task, metric and model other than that metric's best,
    with the difference from the best, its 95% paired interval, the p-value (McNemar's exact
    test for right/wrong metrics, else the paired permutation test's), Holm's adjustment over the
    task's comparisons, and whether the model is tied with the best."""
    from benchbench.results import load_results

    frame = load_results(path, data=data)
    return comparisons_frame(load_evidence(path, frame), frame)
