"""The statistics for choosing between models, against hand-computed cases and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, permutation_test

from benchbench.metrics.bootstrap import mean_of, with_count
from benchbench.selection.statistics import (
    MCNEMAR,
    PERMUTATION,
    binary_outcomes,
    compare,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_permutation,
)


@pytest.mark.parametrize("only_a,only_b,both,neither", [(0, 0, 5, 5), (1, 0, 3, 3), (7, 2, 40, 11), (3, 12, 0, 0),
                                                        (25, 25, 10, 10), (60, 35, 100, 5)])
def test_mcnemar_exact_is_scipys_two_sided_binomial_test(only_a, only_b, both, neither):
    right_a = [True] * only_a + [False] * only_b + [True] * both + [False] * neither
    right_b = [False] * only_a + [True] * only_b + [True] * both + [False] * neither
    expected = 1.0 if only_a + only_b == 0 else binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert mcnemar_exact(right_a, right_b) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_by_hand():
    # 1 vs 4 discordant examples: 2 * (C(5,0) + C(5,1)) / 2^5 = 12/32
    assert mcnemar_exact([1, 0, 0, 0, 0, 1], [0, 1, 1, 1, 1, 1]) == 12 / 32


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 -> x3, x2, x1 = 0.03, 0.04, 0.04 (made non-decreasing)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm([0.2]) == [0.2] and holm([]) == []


def _correct(rate, n, rng):
    return (rng.random(n) < rate).astype(float)


def test_paired_difference_is_the_difference_of_the_scores_and_narrower_than_unpaired():
    rng = np.random.default_rng(0)
    hard = rng.random(400) < 0.4  # examples both models find hard: their outcomes are correlated
    a = np.where(hard, _correct(0.3, 400, rng), _correct(0.95, 400, rng))
    b = np.where(hard, _correct(0.2, 400, rng), _correct(0.9, 400, rng))
    scorer = mean_of()
    difference, low, high = paired_bootstrap((with_count(a), scorer), (with_count(b), scorer), 2000, 1)
    assert difference == pytest.approx(a.mean() - b.mean())
    assert low < difference < high
    # the unpaired difference: each model resampled on its own
    from benchbench.metrics.bootstrap import resample_counts

    scores_a = resample_counts(400, 2000, 2) @ a / 400
    scores_b = resample_counts(400, 2000, 3) @ b / 400
    unpaired_low, unpaired_high = np.percentile(scores_a - scores_b, [2.5, 97.5])
    assert high - low < unpaired_high - unpaired_low


@pytest.mark.parametrize("n,seed", [(6, 0), (9, 1), (12, 2)])
def test_the_permutation_test_is_exact_and_agrees_with_scipy_up_to_12_examples(n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.6, 0.2, n), rng.normal(0.5, 0.2, n)
    ours = paired_permutation((with_count(a), mean_of()), (with_count(b), mean_of()), 1)
    theirs = permutation_test((a, b), lambda x, y: np.mean(x) - np.mean(y), permutation_type="samples",
                              alternative="two-sided", n_resamples=np.inf).pvalue
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_the_permutation_test_by_hand_and_on_a_corpus_metric():
    # six examples, every one better for a: only the observed swap and its mirror are as extreme
    better = paired_permutation((with_count(np.full(6, 1.0)), mean_of()), (with_count(np.zeros(6)), mean_of()), 1)
    assert better == 2 / 64
    same = paired_permutation((with_count(np.ones(20)), mean_of()), (with_count(np.ones(20)), mean_of()), 1, 500)
    assert same == 1.0
    # a ratio of sums (a corpus metric): swapped rows move numerator and denominator together
    rng = np.random.default_rng(4)
    counts = rng.integers(5, 20, 200).astype(float)
    ratio = lambda sums: sums[:, 0] / sums[:, 1]  # noqa: E731
    a, b = np.column_stack([counts * 0.7, counts]), np.column_stack([counts * 0.5, counts])
    assert paired_permutation((a, ratio), (b, ratio), 3, 999) == 1 / 1000  # never as far apart when mixed


def test_right_wrong_metrics_use_mcnemar_and_others_the_permutation_test():
    rng = np.random.default_rng(3)
    a, b = _correct(0.8, 200, rng), _correct(0.6, 200, rng)
    exact = compare((with_count(a), mean_of()), (with_count(b), mean_of()), 500, 1)
    assert exact.test == MCNEMAR and exact.p_value == mcnemar_exact(a > 0, b > 0) and exact.n == 200
    scaled = compare((with_count(a * 100), mean_of()), (with_count(b * 100), mean_of()), 500, 1)  # exact match 0/100
    assert scaled.test == MCNEMAR and scaled.difference == pytest.approx(100 * (a.mean() - b.mean()))
    graded = compare((with_count(a * rng.random(200)), mean_of()), (with_count(b), mean_of()), 500, 1)
    assert graded.test == PERMUTATION
    assert compare((np.ones((5, 4)), mean_of()), (np.ones((5, 9)), mean_of()), 10, 1) is None  # layouts differ


def test_binary_outcomes_are_recognised_only_for_one_right_wrong_column():
    assert binary_outcomes(with_count(np.array([0, 1, 1.0]))).tolist() == [False, True, True]
    assert binary_outcomes(with_count(np.array([0.5, 1, 0]))) is None  # graded
    assert binary_outcomes(np.ones((3, 4))) is None  # a confusion matrix
    assert binary_outcomes(with_count(np.array([-1.0, 0]))) is None


def test_paired_statistics_must_cover_the_same_examples():
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap((with_count(np.zeros(3)), mean_of()), (with_count(np.zeros(4)), mean_of()), 10, 1)
    assert paired_bootstrap((with_count(np.zeros(1)), mean_of()), (with_count(np.zeros(1)), mean_of()), 10, 1) is None


def test_the_random_permutation_test_agrees_with_scipys_beyond_12_examples():
    rng = np.random.default_rng(9)
    a, b = rng.normal(0.55, 0.3, 60), rng.normal(0.5, 0.3, 60)
    ours = paired_permutation((with_count(a), mean_of()), (with_count(b), mean_of()), 1, 20000)
    theirs = permutation_test((a, b), lambda x, y: np.mean(x) - np.mean(y), permutation_type="samples",
                              alternative="two-sided", n_resamples=20000, random_state=2).pvalue
    assert ours == pytest.approx(theirs, abs=0.01)  # two Monte Carlo estimates of one p-value


def test_comparing_many_models_with_one_reference_at_once_gives_each_pair_s_figures():
    """compare_with shares the reference's resamples and one pass over the swaps between every
    model compared with it; each model's figures are those of compare on that pair alone."""
    from benchbench.metrics.sums import SumScore
    from benchbench.selection.statistics import compare, compare_with

    rng = np.random.default_rng(7)
    n = 300
    perplexity = SumScore.of("perplexity", name="bits_per_byte")  # float statistics: log-likelihood, units

    def model(shift):
        tokens = rng.integers(5, 40, n).astype(float)
        return np.column_stack([-(1.0 + shift) * tokens + rng.normal(0, 2, n), tokens, tokens / 2, tokens * 4]), \
            perplexity

    reference, others = model(0.0), [model(s) for s in (0.0, 0.02, 0.1, 0.5)]
    together = compare_with(reference, others, 200, 1234)
    for other, shared in zip(others, together):
        alone = compare(other, reference, 200, 1234)
        assert shared.test == alone.test == "paired permutation"
        assert shared.p_value == pytest.approx(alone.p_value, abs=1e-12)
        assert (shared.difference, shared.low, shared.high) == pytest.approx((alone.difference, alone.low, alone.high))
    accuracy = SumScore.of("mean")
    right = [(np.column_stack([rng.random(n) < p, np.ones(n)]).astype(float), accuracy) for p in (0.5, 0.6, 0.9)]
    assert [d.test for d in compare_with(right[0], right[1:], 200, 1)] == ["McNemar exact"] * 2


def test_integral_statistics_take_the_float32_path_with_the_same_p_values():
    """Counts (BLEU's n-grams) are multiplied by the swaps in float32, where every such product
    is exact: the p-values equal those of the float64 computation."""
    from benchbench.metrics.sums import SumScore
    from benchbench.selection.statistics import _small_integers, compare_with, paired_permutation

    rng = np.random.default_rng(3)
    n, order = 400, 4
    bleu = SumScore.of("bleu", max_ngram_order=order, smooth_method="exp", smooth_value=None, effective_order=False)

    def system(quality):
        length = rng.integers(8, 30, n)
        total = np.column_stack([np.maximum(length - k, 0) for k in range(order)])
        correct = np.floor(total * np.clip(quality + rng.normal(0, 0.1, (n, 1)), 0, 1))
        return np.column_stack([length, length + rng.integers(-2, 3, n), correct, total]).astype(float), bleu

    reference, other = system(0.5), system(0.45)
    assert _small_integers({0: reference[0] - other[0]})
    shared = compare_with(reference, [other], 100, 99)[0]
    assert shared.p_value == paired_permutation(other, reference, 99)
