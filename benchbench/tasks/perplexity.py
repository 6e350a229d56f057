"""Language-model perplexity over a corpus, by lm-evaluation-harness's rolling windows.

Each document goes to the backend's ``loglikelihood_rolling``: tokenized without special
tokens and cut into windows of `max_length` tokens (default: the model's context length,
resolved as lm-evaluation-harness does). The first window is prefixed with the BOS token
(EOS when there is none), so every token of the document is predicted exactly once. With
the default stride (= max_length) the windows are disjoint, as in lm-evaluation-harness;
a smaller `stride` gives overlapping windows in which each new window predicts `stride`
tokens with the rest as context (the transformers "fixed-length models" method). See
docs/metrics.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Iterator

import numpy as np

from benchbench.backends.base import ROLLING, ModelBackend, Profile, RollingSettings, from_record
from benchbench.backends.capabilities import RollingScorer, require
from benchbench.metrics.base import MetricResult
from benchbench.metrics.perplexity import PERPLEXITY_METRICS, corpus_perplexity, count_bytes, count_words
from benchbench.metrics.sums import SumScore
from benchbench.schema import key
from benchbench.tasks.base import ExampleResult, Scoring, TaskScores


class Perplexity:
    name = "perplexity"
    description = "corpus perplexity (token, word, byte) and bits per byte of a causal LM"
    fields = {"text": key(str, required=True, help="the document text")}
    metrics = PERPLEXITY_METRICS
    primary_metric = "bits_per_byte"  # comparable across tokenizers, unlike token perplexity
    example_score_name = "-bits per byte"
    options = {
        "max_length": key(int, None, bounds="[1, inf)", help="window length in tokens (default, and upper bound: the model's "
                                          "context length)"),
        "stride": key(int, None, bounds="[1, inf)", help="tokens predicted per window after the first "
                                      "(default: max_length, i.e. disjoint windows)"),
        "prefix": key(str, "bos", choices=("bos", "eos", "none"),
                      help="token before the first window: bos (eos if the model has none), eos, or none"),
        "join": key(str, None, help="join all rows with this separator into one document "
                                    "(default: each row is a document)"),
    }

    def need(self, options: dict[str, Any], profile: Profile) -> str:
        if ROLLING not in profile.loadable:
            raise profile.cannot(ROLLING, f"perplexity needs a decoder-only (causal) LM; this model is "
                                          f"{profile.family}")
        return ROLLING

    def settings(self, backend: ModelBackend, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        scorer = require(backend, RollingScorer)
        windows = scorer.rolling_settings(options["max_length"], options["stride"], options["prefix"])
        return {
            **asdict(windows), "windows": "disjoint" if windows.stride == windows.max_length else "overlapping",
            "documents": "joined" if options["join"] is not None else "separate",
            "join": options["join"], "add_special_tokens": False,
            "word_count": "len(re.split(r'\\s+', document)) on the scored text",
            "byte_count": "UTF-8 bytes of the scored text", **scorer.describe_scoring(ROLLING),
        }

    def predict(self, backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        texts = [text for _, text in self._documents(rows, settings)]
        scorer = require(backend, RollingScorer)
        for batch in scorer.loglikelihood_rolling(texts, from_record(RollingSettings, settings), batch_size):
            yield [self._result(index, texts[index], scored) for index, scored in batch]

    @staticmethod
    def prepare_rows(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
        """With `join`, all rows become one document: one example, one result (resumed as one)."""
        if options["join"] is None:
            return rows
        return [{"text": options["join"].join(str(row["text"] or "") for row in rows)}]

    def _documents(self, rows: list[dict[str, Any]], settings: dict[str, Any]) -> list[tuple[int, str]]:
        return list(enumerate(str(row["text"] or "") for row in self.prepare_rows(rows, settings)))

    @staticmethod
    def _result(index: int, text: str, scored: Any) -> ExampleResult:
        empty = not text.strip()
        details = {"loglikelihood": scored.total, "tokens": scored.tokens, "windows": scored.windows,
                   "prompt_tokens": scored.tokens_read, "words": 0 if empty else count_words(text),
                   "bytes": count_bytes(text), "skipped_empty": empty}
        return ExampleResult(index=index, input=text, prediction=scored.total, reference=None, details=details)

    def score(self, results: list[ExampleResult], settings: dict[str, Any], scoring: Scoring) -> TaskScores:
        columns = ("loglikelihood", "tokens", "words", "bytes")
        stats = np.array([[r.details[c] for c in columns] for r in results], dtype=np.float64)
        totals = stats.sum(axis=0)
        figures = corpus_perplexity(*(float(t) for t in totals))
        wanted = [name for name in figures if name in (scoring.metrics or figures)]
        signature = (f"rolling windows max_length={settings['max_length']} stride={settings['stride']} "
                     f"prefix={settings['prefix']} documents={settings['documents']}")
        result = MetricResult({n: figures[n] for n in wanted}, signature,
                              {n: (stats, SumScore.of("perplexity", name=n)) for n in wanted})
        intervals = result.intervals(scoring.resamples, scoring.seed) if scoring.resamples else {}
        return TaskScores(result.scores, intervals, {n: signature for n in wanted}, stats=dict(result.stats))

    def example_score(self, prediction: Any, reference: Any, details: dict[str, Any]) -> float:
        nbytes = details.get("bytes") or 0
        return details.get("loglikelihood", 0.0) / nbytes / math.log(2) if nbytes else float("nan")

    def sequence_lengths(self, settings: dict[str, Any]) -> tuple[int | None, int]:
        return settings.get("max_length"), 0

