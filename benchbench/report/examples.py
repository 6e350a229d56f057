"""Per-example scores for the report's "worst cases first" view."""

from __future__ import annotations

import math
from typing import Any

from benchbench.metrics.squad import f1_score


def example_score(task_type: str, prediction: dict[str, Any]) -> tuple[float, str]:
    """(score, what it is); higher is better for every kind, so ascending = worst first."""
    p, ref, details = prediction["prediction"], prediction["reference"], prediction["details"] or {}
    if task_type == "classification":
        return float(str(p) == str(ref)), "correct"
    if task_type == "perplexity":
        nbytes = details.get("bytes") or 0
        bpb = -details.get("loglikelihood", 0.0) / nbytes / math.log(2) if nbytes else float("nan")
        return -bpb, "-bits per byte"
    references = ref if isinstance(ref, list) else [ref]
    if task_type == "qa":
        return max(f1_score(str(p), str(g)) for g in references), "SQuAD F1"
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(str(p), [str(r) for r in references]).score, "sentence chrF"
