"""BLEU and chrF from summed sufficient statistics, many rows at once.

The bootstrap and the paired tests (statistics.py) recompute a corpus metric from resampled
sums thousands of times; sacrebleu does it one row at a time in Python (about 15 us a row for
BLEU). These are the same formulas as sacrebleu 2.x's `BLEU.compute_bleu` and
`CHRF._compute_f_score`, branch for branch, over a whole array of rows with numpy: equal to
sacrebleu's to floating-point rounding (tests/test_sacrebleu_sums.py checks every option).
Reported scores never come from here: they are sacrebleu's own `corpus_score`.
"""

from __future__ import annotations

import numpy as np

BLEU_SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}  # sacrebleu's BLEU.SMOOTH_DEFAULTS
LOG_OF_ZERO = -9999999999  # sacrebleu's my_log(0)


def bleu_from_sums(sums: np.ndarray, max_ngram_order: int, smooth_method: str, smooth_value: float | None,
                   effective_order: bool) -> np.ndarray:
    """BLEU of each row of sums laid out as sacrebleu's statistics: [hypothesis length,
    reference length, correct n-grams (1..N), total n-grams (1..N)]."""
    sums = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    order = max_ngram_order
    value = BLEU_SMOOTH_DEFAULTS[smooth_method] if smooth_value is None else smooth_value
    sys_len, ref_len = np.trunc(sums[:, 0]), np.trunc(sums[:, 1])
    correct, total = sums[:, 2:2 + order].copy(), sums[:, 2 + order:2 + 2 * order].copy()
    any_correct = (correct != 0).any(axis=1)
    if smooth_method == "add-k":  # every order but the first
        correct[:, 1:] += value
        total[:, 1:] += value
    alive = np.cumprod(total != 0, axis=1).astype(bool)  # sacrebleu stops at the first order with no n-grams
    reached = alive.sum(axis=1)
    effective = np.where(reached > 0, reached, order) if effective_order else np.full(len(sums), order)
    missed, hit = alive & (correct == 0), alive & (correct != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0), 1.0)
        if smooth_method == "exp":  # each order without a match halves the smoothed precision again
            smooth = np.exp2(np.cumsum(missed, axis=1))
            precisions = np.where(missed, 100.0 / (smooth * total), 0.0)
        elif smooth_method == "floor":
            precisions = np.where(missed, 100.0 * value / total, 0.0)
        else:
            precisions = np.zeros_like(correct)
        precisions = np.where(hit, 100.0 * correct / total, precisions)
        logs = np.where(precisions == 0, LOG_OF_ZERO, np.log(np.where(precisions == 0, 1.0, precisions)))
        used = np.arange(order)[None, :] < effective[:, None]
        mean_log = np.where(used, logs, 0.0).sum(axis=1) / effective
        return np.where(any_correct, bp * np.exp(mean_log), 0.0)


def chrf_from_sums(sums: np.ndarray, order: int, beta: int, eps_smoothing: bool) -> np.ndarray:
    """chrF (or chrF++) of each row of sums laid out as sacrebleu's statistics: [hypothesis,
    reference, matching] n-gram counts for each character order, then each word order."""
    sums = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    eps, factor = 1e-16, beta ** 2
    score = np.zeros(len(sums))
    average_precision, average_recall, effective = np.zeros(len(sums)), np.zeros(len(sums)), np.zeros(len(sums))
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(order):
            n_hyp, n_ref, n_match = sums[:, 3 * i], sums[:, 3 * i + 1], sums[:, 3 * i + 2]
            precision = np.where(n_hyp > 0, n_match / n_hyp, eps)
            recall = np.where(n_ref > 0, n_match / n_ref, eps)
            denominator = factor * precision + recall
            score += np.where(denominator > 0, (1 + factor) * precision * recall / denominator, eps)
            both = (n_hyp > 0) & (n_ref > 0)
            average_precision += np.where(both, precision, 0.0)
            average_recall += np.where(both, recall, 0.0)
            effective += both
        if eps_smoothing:
            return 100 * score / order
        average_precision = np.where(effective > 0, average_precision / effective, 0.0)
        average_recall = np.where(effective > 0, average_recall / effective, 0.0)
        total = average_precision + average_recall
        f_score = (1 + factor) * average_precision * average_recall / ((factor * average_precision) + average_recall)
        return np.where(total != 0, 100 * f_score, 0.0)
