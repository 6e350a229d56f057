"""Percentile bootstrap confidence intervals for every metric, vectorised.

Every metric here is a function of sums of per-example sufficient statistics (a mean is
sum/n; corpus BLEU is a function of summed n-gram counts; perplexity of summed
log-likelihoods and token counts; macro-F1 of a summed confusion matrix). So one
resampling serves all of them: draw B resamples of the n examples as a count matrix
(B x n), multiply by the statistics (n x k) to get B resampled sums, and turn each row of
sums into a score. 1,000 resamples of 2,000 examples take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from benchbench.spec import Runtime

DEFAULT_RESAMPLES = Runtime.bootstrap_resamples
DEFAULT_SEED = 12345  # for direct calls of the metrics API; runs pass runtime.seed
CONFIDENCE = 0.95

ScoreFromSums = Callable[[np.ndarray], np.ndarray]  # (B, k) sums -> (B,) scores


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, float | int | str]:
        return {"low": self.low, "high": self.high, "resamples": self.resamples, "seed": self.seed,
                "method": f"percentile bootstrap over examples, {int(CONFIDENCE * 100)}%"}


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) matrix: how often each example is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    flat = (draws + np.arange(resamples)[:, None] * n).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n)


def bootstrap_interval(stats: np.ndarray, score_from_sums: ScoreFromSums,
                       resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Interval | None:
    """95% percentile interval of the score over resamples of the examples (None if n < 2)."""
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim == 1:
        stats = stats[:, None]
    if len(stats) < 2:
        return None
    sums = resample_counts(len(stats), resamples, seed).astype(np.float64) @ stats
    scores = np.asarray(score_from_sums(sums), dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return Interval(float(low), float(high), resamples, seed)


def mean_of(n_column: int = 0, scale: float = 1.0) -> ScoreFromSums:
    """Score = scale * (sum of column) / (number of examples), with a count column appended."""
    from benchbench.metrics.sums import SumScore

    return SumScore.of("mean", scale=float(scale), column=n_column)


def with_count(values: np.ndarray) -> np.ndarray:
    """Per-example values plus a column of ones, so resampled sums carry the resample size."""
    values = np.asarray(values, dtype=np.float64)
    return np.column_stack([values, np.ones(len(values))])
