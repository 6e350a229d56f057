"""Corpus perplexities from summed log-likelihoods (lm-evaluation-harness definitions).

Never an average of per-document perplexities: every figure is
exp(-(total log-likelihood) / (total units)), with units tokens, words or UTF-8 bytes.
"""

from __future__ import annotations

import math
import re

PERPLEXITY_METRICS = ("token_perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")


def count_words(text: str) -> int:
    """Words as lm-evaluation-harness counts them: ``len(re.split(r"\\s+", text))``."""
    return len(re.split(r"\s+", text))


def count_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def corpus_perplexity(loglikelihood: float, tokens: int, words: int, nbytes: int) -> dict[str, float]:
    """All four corpus figures from the totals over the scored documents."""
    nan = float("nan")
    return {
        "token_perplexity": math.exp(-loglikelihood / tokens) if tokens else nan,
        "word_perplexity": math.exp(-loglikelihood / words) if words else nan,
        "byte_perplexity": math.exp(-loglikelihood / nbytes) if nbytes else nan,
        "bits_per_byte": -loglikelihood / nbytes / math.log(2) if nbytes else nan,
    }
