"""BLEU and chrF from summed statistics, many rows at once, equal sacrebleu's own row-by-row
computation for every smoothing and order option, including the edge rows (no matches, no
n-grams of an order, empty hypotheses)."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF

from benchbench.metrics.sacrebleu_sums import bleu_from_sums, chrf_from_sums

HYPOTHESES = ["the cat sat on the mat", "a dog", "", "completely unrelated words here today", "the the the the",
              "short", "the cat is on the mat today and tomorrow", "x y", "mat the on sat cat the"]
REFERENCES = [["the cat sat on the mat"], ["a dog barks"], ["something"], ["the weather is nice"], ["the cat"],
              ["short answer"], ["the cat is on the mat"], ["x y z"], ["the cat sat on the mat"]]


def _sums(metric, rng: np.random.Generator, draws: int = 300) -> np.ndarray:
    stats = np.asarray(metric._extract_corpus_statistics(HYPOTHESES, [[r[0] for r in REFERENCES]]), dtype=np.float64)
    rows = [stats[rng.integers(0, len(stats), size=rng.integers(1, 4))].sum(axis=0) for _ in range(draws)]
    return np.vstack([stats, np.zeros_like(stats[:1]), *rows])  # single sentences, an all-zero row, small corpora


@pytest.mark.parametrize("options", [{}, {"smooth_method": "none"}, {"smooth_method": "floor"},
                                     {"smooth_method": "floor", "smooth_value": 0.3}, {"smooth_method": "add-k"},
                                     {"smooth_method": "add-k", "smooth_value": 2}, {"effective_order": True},
                                     {"smooth_method": "none", "effective_order": True}, {"max_ngram_order": 2}])
def test_bleu_from_sums_equals_sacrebleu(options):
    metric = BLEU(**options)
    sums = _sums(metric, np.random.default_rng(0))
    expected = np.array([metric._compute_score_from_stats(list(row)).score for row in sums])
    got = bleu_from_sums(sums, metric.max_ngram_order, metric.smooth_method, metric.smooth_value, metric.effective_order)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert (expected == 0).any() and (expected > 0).any()  # the rows reach both branches


@pytest.mark.parametrize("options", [{}, {"word_order": 2}, {"eps_smoothing": True}, {"beta": 1},
                                     {"char_order": 3, "word_order": 1}])
def test_chrf_from_sums_equals_sacrebleu(options):
    metric = CHRF(**options)
    sums = _sums(metric, np.random.default_rng(1))
    expected = np.array([metric._compute_score_from_stats(list(row)).score for row in sums])
    got = chrf_from_sums(sums, metric.order, metric.beta, metric.eps_smoothing)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert (expected == 0).any() and (expected > 0).any()
