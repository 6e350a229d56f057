"""SQuAD v1.1 exact match and F1, as the official evaluation script defines them.

normalize: lower-case, drop punctuation (string.punctuation), drop the articles
a/an/the as whole words, collapse whitespace. F1 over the multiset (Counter) of
normalised tokens. Each prediction takes the max over all gold answers; corpus figures
are means on a 0-100 scale.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

import numpy as np

from benchbench.metrics.base import MetricResult, References, as_reference_lists
from benchbench.metrics.bootstrap import mean_of, with_count

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
SIGNATURE = "squad-v1.1-official|normalize:lower,punct,articles,whitespace|f1:counter|max-over-golds|scale:100"


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _max_over_golds(fn, predictions: Sequence[str], references: References) -> np.ndarray:
    return np.array([max(fn(str(p), g) for g in golds)
                     for p, golds in zip(predictions, as_reference_lists(references))])


def exact_match(predictions: Sequence[str], references: References) -> MetricResult:
    values = _max_over_golds(exact_match_score, predictions, references)
    return _mean_result("exact_match", values)


def f1(predictions: Sequence[str], references: References) -> MetricResult:
    values = _max_over_golds(f1_score, predictions, references)
    return _mean_result("f1", values)


def _mean_result(name: str, values: np.ndarray) -> MetricResult:
    score = 100.0 * float(values.mean()) if len(values) else float("nan")
    return MetricResult({name: score}, SIGNATURE, {name: (with_count(values), mean_of(scale=100.0))})
