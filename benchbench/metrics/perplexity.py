"""Corpus perplexities from summed log-likelihoods (lm-evaluation-harness definitions).

Never an average of per-document perplexities: every figure is
exp(-(total log-likelihood) / (total units)), with units tokens, words or UTF-8 bytes.
"""

from __future__ import annotations

import math
import re

import numpy as np

PERPLEXITY_METRICS = ("token_perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")


def count_words(text: str) -> int:
    """Words as lm-evaluation-harness counts them: ``len(re.split(r"\\s+", text))``."""
    return len(re.split(r"\s+", text))


def count_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def perplexity_from_sums(name: str, sums: np.ndarray) -> np.ndarray:
    """Figure `name` for each row of (loglikelihood, tokens, words, bytes) totals; NaN
    where the count is 0. Used for the figures and for their bootstrap resamples."""
    loglik, tokens, words, nbytes = np.asarray(sums, dtype=np.float64).T
    units = {"token_perplexity": tokens, "word_perplexity": words, "byte_perplexity": nbytes,
             "bits_per_byte": nbytes}[name]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(units > 0, -loglik / units, np.nan)
    return per_unit / math.log(2) if name == "bits_per_byte" else np.exp(per_unit)


def corpus_perplexity(loglikelihood: float, tokens: int, words: int, nbytes: int) -> dict[str, float]:
    """All four corpus figures from the totals over the scored documents."""
    row = np.array([[loglikelihood, tokens, words, nbytes]], dtype=np.float64)
    return {name: float(perplexity_from_sums(name, row)[0]) for name in PERPLEXITY_METRICS}
