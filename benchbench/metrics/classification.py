"""Classification metrics, delegated to scikit-learn (the reference implementations)."""

from __future__ import annotations

from typing import Any, Sequence

from sklearn import metrics as sk


def _labels(predictions: Sequence[Any], references: Sequence[Any],
            labels: Sequence[Any] | None) -> list[Any]:
    # Compare as strings so 1 and "1" from different sources are one label.
    return sorted({str(x) for x in (labels if labels is not None else [*references, *predictions])})


def accuracy(predictions: Sequence[Any], references: Sequence[Any], **_: Any) -> dict[str, float]:
    if not references:
        return {"accuracy": float("nan")}
    hits = sum(str(p) == str(r) for p, r in zip(predictions, references))
    return {"accuracy": hits / len(references)}


def macro_f1(predictions: Sequence[Any], references: Sequence[Any],
             labels: Sequence[Any] | None = None, **_: Any) -> dict[str, float]:
    """Macro-F1 over `labels` (default: every label seen); a label never predicted scores 0."""
    value = sk.f1_score([str(r) for r in references], [str(p) for p in predictions],
                        labels=_labels(predictions, references, labels), average="macro",
                        zero_division=0)
    return {"macro_f1": float(value)}


def matthews_corrcoef(predictions: Sequence[Any], references: Sequence[Any], **_: Any) -> dict[str, float]:
    value = sk.matthews_corrcoef([str(r) for r in references], [str(p) for p in predictions])
    return {"mcc": float(value)}
