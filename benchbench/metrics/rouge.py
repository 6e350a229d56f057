"""ROUGE-1/2/L/Lsum through Google's rouge-score, with every choice declared.

Options (all recorded in the signature):
- use_stemmer (default true: Porter stemmer, as lm-evaluation-harness's CNN/DM task and
  HELM; `evaluate`'s rouge defaults to false),
- aggregation: `mean` of per-example F-measure (default) or `bootstrap_mid`
  (rouge-score's BootstrapAggregator, seeded),
- multiple references: `score_multi`, the reference with the best F-measure per type,
- sentence_split: rougeLsum splits on newlines. `newline` (default) scores the text as
  given; `regex` first puts one sentence per line (split after . ! ? followed by space),
  standing in for nltk's punkt, which cannot be downloaded offline,
- tokenizer: `default` (rouge-score's: lower-case, non-alphanumerics dropped, so
  non-Latin scripts score 0) or `whitespace` (lower-case, split on whitespace),
- scale: 100 (default) or 1.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from benchbench.metrics.base import MetricResult, References, as_reference_lists
from benchbench.metrics.bootstrap import mean_of, with_count
from benchbench.schema import key

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
OPTIONS = {
    "use_stemmer": key(bool, True),
    "aggregation": key(str, "mean", choices=("mean", "bootstrap_mid")),
    "sentence_split": key(str, "newline", choices=("newline", "regex")),
    "tokenizer": key(str, "default", choices=("default", "whitespace")),
    "scale": key(int, 100, choices=(1, 100)),
    "seed": key(int, 12345, bounds="[0, inf)", help="seed of bootstrap_mid"),
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class _WhitespaceTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()


def split_sentences(text: str) -> str:
    return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s)


def rouge(predictions: Sequence[str], references: References, **options: Any) -> MetricResult:
    from rouge_score import rouge_scorer, scoring

    opts = {name: options.get(name, spec.default) for name, spec in OPTIONS.items()}
    tokenizer = _WhitespaceTokenizer() if opts["tokenizer"] == "whitespace" else None
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=opts["use_stemmer"], tokenizer=tokenizer)
    prepare = split_sentences if opts["sentence_split"] == "regex" else (lambda t: t)
    per_example = [scorer.score_multi([prepare(r) for r in refs], prepare(str(p)))
                   for p, refs in zip(predictions, as_reference_lists(references))]
    scale = float(opts["scale"])
    fmeasures = {t: np.array([s[t].fmeasure for s in per_example]) for t in ROUGE_TYPES}
    if opts["aggregation"] == "bootstrap_mid":
        np.random.seed(opts["seed"])  # BootstrapAggregator draws from numpy's global generator
        aggregator = scoring.BootstrapAggregator()
        for scores in per_example:
            aggregator.add_scores(scores)
        result = aggregator.aggregate()
        scores = {t: scale * result[t].mid.fmeasure for t in ROUGE_TYPES}
    else:
        scores = {t: scale * float(v.mean()) if len(v) else float("nan") for t, v in fmeasures.items()}
    signature = "|".join(f"{k}:{v}" for k, v in opts.items()) + "|multi-ref:max-fmeasure|rouge-score"
    stats = {t: (with_count(v), mean_of(scale=scale)) for t, v in fmeasures.items()}
    return MetricResult(scores, signature, stats)
