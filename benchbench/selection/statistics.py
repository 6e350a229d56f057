"""Statistics for choosing between models that answered the same examples.

Two models scored on the same examples are compared *paired*: their difference is
estimated example by example, which removes the variation both share (how hard each
example is) and gives a far narrower interval than two separate intervals do.

- :func:`paired_bootstrap`: the difference of a metric between two models and its 95%
  interval. One set of bootstrap resamples of the example indices is applied to both
  models' per-example sufficient statistics, and the metric is recomputed from the
  resampled sums for each model. Because corpus metrics (BLEU, chrF, perplexity, macro-F1)
  are functions of summed statistics, they are recomputed exactly per resample (Efron &
  Tibshirani 1993, ch. 13; Koehn 2004, "Statistical significance tests for machine
  translation evaluation", for paired bootstrap resampling). Like every bootstrap interval
  it is approximate, and too narrow with few examples.
- :func:`paired_permutation`: the p-value for metrics that are not right/wrong, from the
  paired approximate randomization test (Noreen 1989; Riezler & Maxwell 2005, "On some
  pitfalls in automatic evaluation and significance testing for MT"): under "equally good"
  the two models' outputs on an example are exchangeable, so each example's statistics are
  swapped between the models at random and the metric difference recomputed; the p-value
  is the share of swaps whose difference is at least as large as the observed one, with the
  +1 of Davison & Hinkley 1997, eq. 4.11. With up to 12 examples every swap is enumerated
  and the test is exact; it is valid at any number of examples, where bootstrap p-values
  are not.
- :func:`mcnemar_exact`: for metrics whose per-example outcome is right or wrong
  (accuracy, exact match), McNemar's exact test (McNemar 1947): under "equally good", the
  examples only one model got right are split between the two as fair coin flips, so the
  two-sided p-value is a binomial tail with p = 1/2 (Fagerland, Lydersen & Laake 2013, "The
  McNemar test for binary matched-pairs data", BMC Med Res Methodol 13:91).
- :func:`holm`: Holm's step-down adjustment (Holm 1979, "A simple sequentially rejective
  multiple test procedure"): comparing k models with the best is k tests; given the best,
  the adjusted p-values keep the chance of calling any of them worse by mistake at or below
  the level. The best is itself chosen from the data, so with several equally good models the
  chance that one is called worse is somewhat higher (docs/statistics.md gives figures).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from benchbench.metrics.bootstrap import CONFIDENCE, ScoreFromSums, resample_counts

ALPHA = 1 - CONFIDENCE  # the level of every verdict: tied unless the Holm-adjusted p-value is below it
MCNEMAR = "McNemar exact"
PERMUTATION = "paired permutation"
EXACT_UP_TO = 12  # examples up to which every one of the 2^n swaps is enumerated
PERMUTATIONS = 9999  # random swaps beyond that: p-values down to 1e-4, so Holm over many models can still decide


@dataclass(frozen=True)
class PairedDifference:
    """score(model) - score(reference model) on the `n` examples both scored, its 95% paired
    bootstrap interval, and the two-sided p-value of `test` (McNemar exact, or the paired
    permutation test) for "no difference"."""

    difference: float
    low: float
    high: float
    p_value: float
    test: str
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap(a: tuple[np.ndarray, ScoreFromSums], b: tuple[np.ndarray, ScoreFromSums],
                     resamples: int, seed: int) -> tuple[float, float, float] | None:
    """Difference score(a) - score(b) and its 95% percentile interval, from
    one set of resamples applied to both models' per-example statistics (rows: the same
    examples in the same order), each scored by its own function (a macro-F1's confusion
    matrix is laid out by the labels its model saw). None with fewer than 2 examples or no
    finite resample."""
    score_a, score_b = a[1], b[1]
    stats_a, stats_b = _columns(a[0]), _columns(b[0])
    if len(stats_a) != len(stats_b):
        raise ValueError(f"paired statistics need the same examples: {len(stats_a)} rows vs {len(stats_b)}")
    if len(stats_a) < 2:
        return None
    point = float(score_a(stats_a.sum(axis=0)[None, :])[0] - score_b(stats_b.sum(axis=0)[None, :])[0])
    counts = resample_counts(len(stats_a), resamples, seed).astype(np.float64)
    differences = np.asarray(score_a(counts @ stats_a), dtype=np.float64) - \
        np.asarray(score_b(counts @ stats_b), dtype=np.float64)
    differences = differences[np.isfinite(differences)]
    if not len(differences) or not math.isfinite(point):
        return None
    tail = ALPHA / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return point, float(low), float(high)


def paired_permutation(a: tuple[np.ndarray, ScoreFromSums], b: tuple[np.ndarray, ScoreFromSums],
                       seed: int, permutations: int = PERMUTATIONS) -> float:
    """Two-sided p-value of the paired approximate randomization test: each example's
    statistics swapped between the two models (all 2^n swaps up to EXACT_UP_TO examples,
    else `permutations` random ones, seeded), the difference recomputed from the swapped
    sums, and the share at least as far from 0 as the observed difference (+1 in both counts)."""
    stats_a, stats_b = _columns(a[0]), _columns(b[0])
    n = len(stats_a)
    if n <= EXACT_UP_TO:
        swaps = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    else:
        swaps = _random_swaps(seed, permutations, n)
    moved = swaps @ (stats_b - stats_a)  # what the swapped examples move from b to a
    sum_a, sum_b = stats_a.sum(axis=0), stats_b.sum(axis=0)
    observed = abs(float(a[1](sum_a[None, :])[0] - b[1](sum_b[None, :])[0]))
    differences = np.abs(np.asarray(a[1](sum_a + moved), dtype=np.float64) - np.asarray(b[1](sum_b - moved),
                                                                                          dtype=np.float64))
    at_least = int((differences >= observed - 1e-12 * max(1.0, observed)).sum())
    if n <= EXACT_UP_TO:  # the observed assignment is one of the enumerated ones
        return at_least / len(differences)
    return (at_least + 1) / (len(differences) + 1)


KEPT_SWAPS = 12_500_000  # swaps kept for the next test up to this many (100 MB of float64)


def _random_swaps(seed: int, permutations: int, n: int) -> np.ndarray:
    """The seeded random swaps (one row per permutation, 1: swap that example). Every model
    of a task is compared on the same examples with the same seed, so they are kept for the
    next test, unless keeping them would hold more than KEPT_SWAPS in memory."""
    return _kept_swaps(seed, permutations, n) if permutations * n <= KEPT_SWAPS else _draw_swaps(seed, permutations, n)


@lru_cache(maxsize=1)
def _kept_swaps(seed: int, permutations: int, n: int) -> np.ndarray:
    swaps = _draw_swaps(seed, permutations, n)
    swaps.flags.writeable = False
    return swaps


def _draw_swaps(seed: int, permutations: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(permutations, n)).astype(np.float64)


def mcnemar_exact(right_a: Sequence[bool], right_b: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value for two models' right/wrong outcomes on the same examples:
    with b examples only `a` got right and c only `b` got right, 2 * P(X <= min(b, c)) for
    X ~ Binomial(b + c, 1/2), capped at 1 (1 when b + c = 0: nothing tells them apart)."""
    a, b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2 ** discordant)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: the i-th smallest of k is multiplied by
    (k - i), made non-decreasing along that order, and capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for position, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - position) * p_values[index]))
        adjusted[index] = running
    return adjusted


def binary_outcomes(stats: np.ndarray) -> np.ndarray | None:
    """Right (True) / wrong per example when a metric's statistics are one 0-or-c column plus
    the count column (accuracy, exact match): the outcomes McNemar's test needs; else None."""
    stats = _columns(stats)
    if stats.shape[1] != 2 or not np.all(stats[:, 1] == 1):
        return None
    values = np.unique(stats[:, 0])
    if len(values) > 2 or np.any(values < 0) or (len(values) == 2 and values[0] != 0):
        return None
    return stats[:, 0] > 0


def compare(a: tuple[np.ndarray, ScoreFromSums], b: tuple[np.ndarray, ScoreFromSums], resamples: int,
            seed: int) -> PairedDifference | None:
    """Model a against model b on the same examples (each: per-example statistics and their
    scoring function): the paired bootstrap difference and interval, with McNemar's exact
    p-value where both have right/wrong outcomes, else the paired permutation test's. Both
    sides' statistics must share a layout (the same metric and options)."""
    if _columns(a[0]).shape != _columns(b[0]).shape:  # different layouts cannot be swapped or compared
        return None
    bootstrapped = paired_bootstrap(a, b, resamples, seed)
    if bootstrapped is None:
        return None
    difference, low, high = bootstrapped
    right_a, right_b = binary_outcomes(a[0]), binary_outcomes(b[0])
    if right_a is not None and right_b is not None:
        return PairedDifference(difference, low, high, mcnemar_exact(right_a, right_b), MCNEMAR, len(right_a))
    return PairedDifference(difference, low, high, paired_permutation(a, b, seed), PERMUTATION,
                            len(_columns(a[0])))


def _columns(stats: np.ndarray) -> np.ndarray:
    """Per-example statistics as a 2-D float array (one column when given a vector)."""
    stats = np.asarray(stats, dtype=np.float64)
    return stats[:, None] if stats.ndim == 1 else stats
