"""Metric registry: name -> function(predictions, references, **options) -> dict.

Usable from suites (``metrics: [accuracy, macro_f1]``) and from Python::

    from benchbench import metrics
    metrics.compute("accuracy", ["pos", "neg"], ["pos", "pos"])  # {'accuracy': 0.5}

`references` has one entry per example. Corpus metrics computed from per-example
totals (perplexity family) live in :mod:`benchbench.metrics.perplexity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from benchbench.metrics.classification import accuracy, macro_f1, matthews_corrcoef
from benchbench.metrics.perplexity import PERPLEXITY_METRICS


@dataclass(frozen=True)
class Metric:
    fn: Callable[..., dict[str, float]]
    description: str
    higher_is_better: bool = True


METRICS: dict[str, Metric] = {
    "accuracy": Metric(accuracy, "fraction of examples whose prediction equals the reference"),
    "macro_f1": Metric(macro_f1, "unweighted mean of per-label F1 (scikit-learn, average='macro')"),
    "mcc": Metric(matthews_corrcoef, "Matthews correlation coefficient (scikit-learn)"),
}

# Lower-is-better corpus metrics reported by the perplexity task.
DIRECTION: dict[str, bool] = {name: m.higher_is_better for name, m in METRICS.items()}
DIRECTION.update({name: False for name in PERPLEXITY_METRICS})
DIRECTION["acc_norm"] = True


def compute(name: str, predictions: Sequence[Any], references: Sequence[Any], **options: Any) -> dict[str, float]:
    """Compute one registered metric; raises KeyError naming the known metrics."""
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    if len(predictions) != len(references):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(references)} references")
    return METRICS[name].fn(predictions, references, **options)


__all__ = ["METRICS", "DIRECTION", "Metric", "compute", "PERPLEXITY_METRICS"]
