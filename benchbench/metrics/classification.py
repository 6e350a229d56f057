"""Classification metrics: scikit-learn for the figures (the reference implementations),
a confusion-matrix form of the same formulas for the bootstrap intervals."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from benchbench.metrics.base import MetricResult
from benchbench.metrics.bootstrap import mean_of, with_count
from benchbench.metrics.sums import SumScore


def _label_list(predictions: Sequence[Any], references: Sequence[Any],
                labels: Sequence[Any] | None) -> list[str]:
    # Labels compare as strings, so 1 and "1" from different sources are one label.
    return sorted({str(x) for x in (labels if labels is not None else [*references, *predictions])})


def _confusion_stats(predictions: Sequence[Any], references: Sequence[Any], labels: list[str]) -> np.ndarray:
    """Per example a one-hot row over (reference, prediction) pairs; its sums are the
    confusion matrix. Labels outside `labels` get an extra 'other' index."""
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels) + 1
    pairs = [index.get(str(r), len(labels)) * size + index.get(str(p), len(labels))
             for p, r in zip(predictions, references)]
    stats = np.zeros((len(pairs), size * size))
    stats[np.arange(len(pairs)), pairs] = 1.0
    return stats


def accuracy(predictions: Sequence[Any], references: Sequence[Any], **_: Any) -> MetricResult:
    hits = np.array([str(p) == str(r) for p, r in zip(predictions, references)], dtype=np.float64)
    score = float(hits.mean()) if len(hits) else float("nan")
    return MetricResult({"accuracy": score}, "exact label match", {"accuracy": (with_count(hits), mean_of())})


def macro_f1(predictions: Sequence[Any], references: Sequence[Any], labels: Sequence[Any] | None = None,
             **_: Any) -> MetricResult:
    """Macro-F1 over `labels` (default: every label seen); a label never predicted scores 0."""
    label_list = _label_list(predictions, references, labels)
    from sklearn import metrics as sk  # here, not at import: scikit-learn takes ~1 s to import

    value = sk.f1_score([str(r) for r in references], [str(p) for p in predictions], labels=label_list,
                        average="macro", zero_division=0)
    stats = _confusion_stats(predictions, references, label_list)
    return MetricResult({"macro_f1": float(value)}, f"sklearn f1_score average=macro labels={label_list}",
                        {"macro_f1": (stats, SumScore.of("macro_f1", labels=len(label_list)))})


def matthews_corrcoef(predictions: Sequence[Any], references: Sequence[Any],
                      labels: Sequence[Any] | None = None, **_: Any) -> MetricResult:
    from sklearn import metrics as sk

    value = sk.matthews_corrcoef([str(r) for r in references], [str(p) for p in predictions])
    stats = _confusion_stats(predictions, references, _label_list(predictions, references, labels))
    return MetricResult({"mcc": float(value)}, "sklearn matthews_corrcoef", {"mcc": (stats, SumScore.of("mcc"))})
