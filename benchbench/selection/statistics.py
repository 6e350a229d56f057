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
    stats_a, stats_b = _columns(a[0]), _columns(b[0])
    if len(stats_a) != len(stats_b):
        raise ValueError(f"paired statistics need the same examples: {len(stats_a)} rows vs {len(stats_b)}")
    if len(stats_a) < 2:
        return None
    counts = _resample_matrix(len(stats_b), resamples, seed)
    return _bootstrapped(stats_a, a[1], _point(stats_b, b[1]), np.asarray(b[1](counts @ stats_b), dtype=np.float64),
                         counts)


def _point(stats: np.ndarray, score: ScoreFromSums) -> float:
    return float(score(stats.sum(axis=0)[None, :])[0])


def _bootstrapped(stats_a: np.ndarray, score_a: ScoreFromSums, point_b: float, resampled_b: np.ndarray,
                  counts: np.ndarray, resampled_sums_a: np.ndarray | None = None) -> tuple[float, float, float] | None:
    """`a` against a reference whose point score and resampled scores are given (shared by
    every model compared with it): the difference and its percentile interval
    (`resampled_sums_a`: counts @ stats_a, when computed with other models' already)."""
    point = _point(stats_a, score_a) - point_b
    sums = counts @ stats_a if resampled_sums_a is None else resampled_sums_a
    differences = np.asarray(score_a(sums), dtype=np.float64) - resampled_b
    differences = differences[np.isfinite(differences)]
    if not len(differences) or not math.isfinite(point):
        return None
    tail = ALPHA / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return point, float(low), float(high)


@lru_cache(maxsize=4)
def _resample_matrix(n: int, resamples: int, seed: int) -> np.ndarray:
    """The bootstrap's resample counts as floats, kept: every model of a task is resampled alike."""
    counts = resample_counts(n, resamples, seed).astype(np.float64)
    counts.flags.writeable = False
    return counts


def paired_permutation(a: tuple[np.ndarray, ScoreFromSums], b: tuple[np.ndarray, ScoreFromSums],
                       seed: int, permutations: int = PERMUTATIONS) -> float:
    """Two-sided p-value of the paired approximate randomization test: each example's
    statistics swapped between the two models (all 2^n swaps up to EXACT_UP_TO examples,
    else `permutations` random ones, seeded), the difference recomputed from the swapped
    sums, and the share at least as far from 0 as the observed difference (+1 in both counts)."""
    stats_a, stats_b = _columns(a[0]), _columns(b[0])
    return _permutation_p(stats_a, a[1], stats_b, b[1], _swaps(len(stats_a), seed, permutations) @ (stats_b - stats_a))


def _swaps(n: int, seed: int, permutations: int = PERMUTATIONS, exact_in_float32: bool = False) -> np.ndarray:
    """Every swap up to EXACT_UP_TO examples, else the seeded random ones (one row each, 1: swap).
    `exact_in_float32`: the swaps as float32, for statistics whose products are exact in it."""
    dtype = np.float32 if exact_in_float32 else np.float64
    if n <= EXACT_UP_TO:
        return ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(dtype)
    return _random_swaps(seed, permutations, n, dtype)


FLOAT32_EXACT = 2 ** 24  # integers up to this are exact in float32, and so are sums that stay below it


def _small_integers(columns: dict[int, np.ndarray]) -> bool:
    """Whether every product of 0/1 swaps with these columns is exact in float32: integral
    statistics (counts: BLEU's n-grams, a confusion matrix) whose absolute column sums stay
    below 2^24. Such products are the same numbers in float32, at half the memory traffic."""
    return bool(columns) and all(np.array_equal(c, np.round(c)) and np.abs(c).sum(axis=0).max() < FLOAT32_EXACT
                                 for c in columns.values())


def _permutation_p(stats_a: np.ndarray, score_a: ScoreFromSums, stats_b: np.ndarray, score_b: ScoreFromSums,
                   moved: np.ndarray) -> float:
    """The permutation test's p-value, given what each swap moves from b to a (`moved`)."""
    sum_a, sum_b = stats_a.sum(axis=0), stats_b.sum(axis=0)
    observed = abs(float(score_a(sum_a[None, :])[0] - score_b(sum_b[None, :])[0]))
    differences = np.abs(np.asarray(score_a(sum_a + moved), dtype=np.float64) -
                         np.asarray(score_b(sum_b - moved), dtype=np.float64))
    at_least = int((differences >= observed - 1e-12 * max(1.0, observed)).sum())
    if len(stats_a) <= EXACT_UP_TO:  # the observed assignment is one of the enumerated ones
        return at_least / len(differences)
    return (at_least + 1) / (len(differences) + 1)


KEPT_SWAPS = 12_500_000  # swaps kept for the next test up to this many (100 MB of float64, 50 of float32)


def _random_swaps(seed: int, permutations: int, n: int, dtype: type = np.float64) -> np.ndarray:
    """The seeded random swaps (one row per permutation, 1: swap that example). Every model
    of a task is compared on the same examples with the same seed, so they are kept for the
    next test, unless keeping them would hold more than KEPT_SWAPS in memory."""
    if permutations * n <= KEPT_SWAPS:
        return _kept_swaps(seed, permutations, n, dtype)
    return _draw_swaps(seed, permutations, n, dtype)


@lru_cache(maxsize=2)  # the float64 and the float32 copy of one task's swaps
def _kept_swaps(seed: int, permutations: int, n: int, dtype: type) -> np.ndarray:
    swaps = _kept_bits(seed, permutations, n).astype(dtype)
    swaps.flags.writeable = False
    return swaps


@lru_cache(maxsize=1)  # drawn once for both copies (the draw costs more than the copy)
def _kept_bits(seed: int, permutations: int, n: int) -> np.ndarray:
    return _draw_swaps(seed, permutations, n, np.int8)


def _draw_swaps(seed: int, permutations: int, n: int, dtype: type) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(permutations, n)).astype(dtype)


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
    return compare_with(b, [a], resamples, seed)[0]


MOVED_COLUMNS = 1024  # columns per matrix product of compare_with (bounds its memory)


def compare_with(reference: tuple[np.ndarray, ScoreFromSums], others: list[tuple[np.ndarray, ScoreFromSums]],
                 resamples: int, seed: int) -> list[PairedDifference | None]:
    """Each of `others` against `reference`, as `compare` does one pair, on the same examples
    in the same order: the reference's resampled scores are computed once, and the permutation
    test's swaps are multiplied with every model's differences at once (one pass over the swaps
    instead of one per model). None where a model's statistics have another layout."""
    stats_b = _columns(reference[0])
    out: list[PairedDifference | None] = [None] * len(others)
    usable = [i for i, other in enumerate(others) if _columns(other[0]).shape == stats_b.shape]
    if len(stats_b) < 2 or not usable:
        return out
    counts = _resample_matrix(len(stats_b), resamples, seed)
    point_b, resampled_b = _point(stats_b, reference[1]), np.asarray(reference[1](counts @ stats_b), dtype=np.float64)
    right_b = binary_outcomes(stats_b)
    graded = [i for i in usable if right_b is None or binary_outcomes(others[i][0]) is None]
    differences = {i: stats_b - _columns(others[i][0]) for i in graded}
    moved = _products(_swaps(len(stats_b), seed, exact_in_float32=_small_integers(differences)), differences)
    resampled = _products(counts, {i: _columns(others[i][0]) for i in usable})
    for i in usable:
        stats_a = _columns(others[i][0])
        bootstrapped = _bootstrapped(stats_a, others[i][1], point_b, resampled_b, counts, resampled[i])
        if bootstrapped is None:
            continue
        right_a = binary_outcomes(stats_a)
        if i in moved:
            p_value, test = _permutation_p(stats_a, others[i][1], stats_b, reference[1], moved[i]), PERMUTATION
        else:
            p_value, test = mcnemar_exact(right_a, right_b), MCNEMAR
        out[i] = PairedDifference(*bootstrapped, p_value, test, len(stats_b))
    return out


def _products(swaps: np.ndarray, columns: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """`swaps @ columns[key]` for every key (same-width matrices), from one product with all of
    them side by side (in chunks of MOVED_COLUMNS columns): one pass over a large left matrix
    (the permutations' swaps, the bootstrap's counts) instead of one per model."""
    if not columns:
        return {}
    keys = list(columns)
    width = columns[keys[0]].shape[1]
    per_chunk = max(1, MOVED_COLUMNS // width)
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(keys), per_chunk):
        chunk = keys[start:start + per_chunk]
        product = (swaps @ np.hstack([columns[key] for key in chunk]).astype(swaps.dtype)).astype(np.float64)
        for offset, key in enumerate(chunk):
            out[key] = product[:, offset * width:(offset + 1) * width]
    return out


def _columns(stats: np.ndarray) -> np.ndarray:
    """Per-example statistics as a 2-D float array (one column when given a vector)."""
    stats = np.asarray(stats, dtype=np.float64)
    return stats[:, None] if stats.ndim == 1 else stats
