"""Metric registry: name -> Metric. Usable from suites and from Python::

    from benchbench import metrics
    metrics.compute("bleu", ["the cat sat"], [["the cat sat", "a cat sat"]])
    # {'bleu': 100.0, 'signature': 'nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:...'}

`references` has one entry per example: a string (or label), or the list of all its
references. Every metric also gives per-example statistics, from which
``compute_with_intervals`` derives 95% bootstrap intervals. Corpus perplexities are
computed by the perplexity task from summed log-likelihoods (metrics.perplexity).
Any Hugging Face `evaluate` module can be used as ``evaluate:NAME`` (it needs the hub).
"""

from __future__ import annotations

from typing import Any, Sequence

from benchbench.metrics import classification, rouge, sacrebleu_scores, squad
from benchbench.metrics.base import Metric, MetricResult, References
from benchbench.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval
from benchbench.metrics.catalogue import CATALOGUE, Catalogue, MetricInfo
from benchbench.metrics.external import EVALUATE_PREFIX, evaluate_module
from benchbench.metrics.perplexity import PERPLEXITY_METRICS

METRICS: dict[str, Metric] = {
    "accuracy": Metric(classification.accuracy, "fraction of predictions equal to the reference label",
                       ("accuracy",)),
    "macro_f1": Metric(classification.macro_f1, "unweighted mean of per-label F1 (scikit-learn)", ("macro_f1",)),
    "mcc": Metric(classification.matthews_corrcoef, "Matthews correlation coefficient (scikit-learn)", ("mcc",)),
    "bleu": Metric(sacrebleu_scores.bleu, "sacreBLEU corpus BLEU, 0-100", ("bleu",),
                   options=sacrebleu_scores.BLEU_OPTIONS),
    "chrf": Metric(sacrebleu_scores.chrf, "sacreBLEU chrF (char order 6, beta 2), 0-100", ("chrf",),
                   options=sacrebleu_scores.CHRF_OPTIONS),
    "chrf++": Metric(sacrebleu_scores.chrf_plus_plus, "sacreBLEU chrF++ (chrF with word bigrams), 0-100",
                     ("chrf++",), options=sacrebleu_scores.CHRF_OPTIONS),
    "ter": Metric(sacrebleu_scores.ter, "sacreBLEU translation edit rate, lower is better", ("ter",),
                  options=sacrebleu_scores.TER_OPTIONS),
    "rouge": Metric(rouge.rouge, "rouge-score ROUGE-1/2/L/Lsum F-measure", rouge.ROUGE_TYPES,
                    options=rouge.OPTIONS),
    "exact_match": Metric(squad.exact_match, "official SQuAD v1.1 exact match, 0-100", ("exact_match",)),
    "f1": Metric(squad.f1, "official SQuAD v1.1 token F1 (Counter-based), 0-100", ("f1",)),
}

# Every score name a result can carry, with its direction and scale: catalogue.CATALOGUE.


def _resolve(name: str) -> Metric:
    if name.startswith(EVALUATE_PREFIX):
        return evaluate_module(name[len(EVALUATE_PREFIX):])
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}, or evaluate:NAME")
    return METRICS[name]


def score(name: str, predictions: Sequence[Any], references: References, **options: Any) -> MetricResult:
    """The full MetricResult (scores, signature, per-example statistics)."""
    metric = _resolve(name)
    if len(predictions) != len(references):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(references)} references")
    return metric.fn(predictions, references, **options)


def compute(name: str, predictions: Sequence[Any], references: References, **options: Any) -> dict[str, Any]:
    """Scores of one metric plus its ``signature``."""
    result = score(name, predictions, references, **options)
    return {**result.scores, "signature": result.signature}


def compute_with_intervals(name: str, predictions: Sequence[Any], references: References,
                           resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                           **options: Any) -> tuple[MetricResult, dict[str, Interval]]:
    result = score(name, predictions, references, **options)
    return result, result.intervals(resamples, seed)


__all__ = ["METRICS", "CATALOGUE", "Catalogue", "MetricInfo", "EVALUATE_PREFIX", "Metric", "MetricResult", "Interval",
           "compute", "score", "compute_with_intervals", "PERPLEXITY_METRICS"]
