"""BLEU, chrF, chrF++ and TER through sacrebleu's corpus-level scorers.

All references are kept: sacrebleu takes one stream per reference, so the per-example
lists are transposed (an example with fewer references gets None in the extra streams,
which sacrebleu skips). The score is sacrebleu's `corpus_score` to the digit, and the
signature is sacrebleu's own string. Intervals resample sacrebleu's per-sentence
statistics (the same statistics its own --confidence uses); BLEU and chrF are recomputed from
the resampled sums many rows at once (sacrebleu_sums.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from benchbench.errors import TaskConfigError
from benchbench.metrics.base import MetricResult, References, as_reference_lists
from benchbench.metrics.sums import SumScore
from benchbench.schema import key

BLEU_OPTIONS = {
    "tokenize": key(str, None, help="13a (default), intl, zh, char, none; ja-mecab/ko-mecab need sacrebleu[ja,ko]"),
    "lowercase": key(bool, False),
    "smooth_method": key(str, "exp", choices=("exp", "floor", "add-k", "none")),
    "smooth_value": key(float, None, bounds="[0, inf)"),
    "max_ngram_order": key(int, 4, bounds="[1, inf)"),
    "effective_order": key(bool, False),
}
CHRF_OPTIONS = {
    "char_order": key(int, 6, bounds="[0, inf)"),
    "beta": key(int, 2, bounds="[0, inf)"),
    "lowercase": key(bool, False),
    "whitespace": key(bool, False),
    "eps_smoothing": key(bool, False),
}
TER_OPTIONS = {
    "normalized": key(bool, False),
    "no_punct": key(bool, False),
    "asian_support": key(bool, False),
    "case_sensitive": key(bool, False),
}


def transpose_references(references: References) -> list[list[str | None]]:
    """Per-example reference lists -> sacrebleu's reference streams."""
    per_example = as_reference_lists(references)
    width = max((len(r) for r in per_example), default=1)
    return [[refs[i] if i < len(refs) else None for refs in per_example] for i in range(width)]


def build_metric(class_name: str, options: dict[str, Any], references: list[list[str | None]] | None = None) -> Any:
    import sacrebleu.metrics

    given = {k: v for k, v in options.items() if v is not None}
    try:
        return getattr(sacrebleu.metrics, class_name)(**given, references=references)
    except Exception as exc:  # e.g. a tokenizer whose model must be downloaded
        raise TaskConfigError(f"sacrebleu {class_name} with options {given} cannot be built: "
                              f"{type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=16)
def _with_references(class_name: str, options: tuple[tuple[str, Any], ...],
                     streams: tuple[tuple[str | None, ...], ...]) -> Any:
    """A metric holding the references' preprocessing (sacrebleu's reference cache): every
    model of a task is scored against the same references, so they are processed once."""
    return build_metric(class_name, dict(options), [list(stream) for stream in streams])


def _score(name: str, class_name: str, predictions: Sequence[str], references: References,
           options: dict[str, Any]) -> MetricResult:
    hypotheses = [str(p) for p in predictions]
    streams = transpose_references(references)
    metric = _with_references(class_name, tuple(sorted(options.items())), tuple(tuple(s) for s in streams))
    # what corpus_score does, keeping the per-sentence statistics instead of extracting them twice
    metric._check_corpus_score_args(hypotheses, streams)
    sentence_stats = metric._extract_corpus_statistics(hypotheses, None)  # the cached references
    score = metric._aggregate_and_compute(sentence_stats)
    stats = np.asarray(sentence_stats, dtype=np.float64)
    return MetricResult({name: float(score.score)}, str(metric.get_signature()),
                        {name: (stats, _sum_score(class_name, metric, options))})


def _sum_score(class_name: str, metric: Any, options: dict[str, Any]) -> SumScore:
    """How the metric follows from summed sentence statistics, as data (sums.py)."""
    if class_name == "BLEU":
        return SumScore.of("bleu", max_ngram_order=metric.max_ngram_order, smooth_method=metric.smooth_method,
                           smooth_value=metric.smooth_value, effective_order=metric.effective_order)
    if class_name == "CHRF":
        return SumScore.of("chrf", order=metric.order, beta=metric.beta, eps_smoothing=metric.eps_smoothing)
    return SumScore.of("ter", **{k: v for k, v in options.items() if v is not None})


def bleu(predictions: Sequence[str], references: References, **options: Any) -> MetricResult:
    return _score("bleu", "BLEU", predictions, references, options)


def chrf(predictions: Sequence[str], references: References, **options: Any) -> MetricResult:
    return _score("chrf", "CHRF", predictions, references, options)


def chrf_plus_plus(predictions: Sequence[str], references: References, **options: Any) -> MetricResult:
    return _score("chrf++", "CHRF", predictions, references, {**options, "word_order": 2})


def ter(predictions: Sequence[str], references: References, **options: Any) -> MetricResult:
    return _score("ter", "TER", predictions, references, options)
