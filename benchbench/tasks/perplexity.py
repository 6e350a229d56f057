"""Language-model perplexity over a corpus, by lm-evaluation-harness's rolling windows.

Each document is tokenized without special tokens and cut into windows of `max_length`
tokens (default: the model's context length, resolved as lm-evaluation-harness does).
The first window is prefixed with the BOS token (EOS when there is none), so every token
of the document is predicted exactly once. With the default stride (= max_length) the
windows are disjoint, as in ``loglikelihood_rolling``; a smaller `stride` gives
overlapping windows in which each new window predicts `stride` tokens with the rest as
context (the transformers "fixed-length models" method). See docs/metrics.md.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Iterator

import numpy as np

from benchbench.errors import TaskConfigError
from benchbench.metrics.base import MetricResult
from benchbench.metrics.perplexity import (
    PERPLEXITY_METRICS,
    corpus_perplexity,
    count_bytes,
    count_words,
    perplexity_from_sums,
)
from benchbench.models.loading import LoadedModel
from benchbench.schema import key
from benchbench.tasks.base import ExampleResult, TaskScores
from benchbench.tasks.loglikelihood import score_requests

Window = tuple[list[int], list[int]]


def rolling_windows(tokens: list[int], prefix_token: int | None, max_length: int,
                    stride: int) -> list[Window]:
    """(context, continuation) pairs covering `tokens`, each token predicted once.

    Mirrors lm-evaluation-harness ``get_rolling_token_windows`` followed by
    ``make_disjoint_window``, with ``context_len = max_length - stride + 1``. With
    ``prefix_token=None`` the first token is only context (it is never predicted).
    """
    if not 1 <= stride <= max_length:
        raise ValueError(f"stride must be in [1, max_length={max_length}], got {stride}")
    seq = list(tokens) if prefix_token is None else [prefix_token, *tokens]
    predicted_total = len(seq) - 1  # seq[0] is context only
    if predicted_total <= 0:
        return []
    first = min(max_length, predicted_total)
    windows: list[Window] = [(seq[:1], seq[1:first + 1])]
    predicted = first
    while predicted < predicted_total:
        n = min(predicted_total - predicted, stride)
        end = 1 + predicted + n  # index in seq one past the last predicted token
        window_input = seq[max(0, end - 1 - max_length):end - 1]
        context = window_input[:len(window_input) - (n - 1)]
        windows.append((context, seq[end - n:end]))
        predicted += n
    return windows


class Perplexity:
    name = "perplexity"
    description = "corpus perplexity (token, word, byte) and bits per byte of a causal LM"
    fields = {"text": key(str, required=True, help="the document text")}
    metrics = PERPLEXITY_METRICS
    options = {
        "max_length": key(int, None, help="window length in tokens (default, and upper bound: the model's "
                                          "context length)"),
        "stride": key(int, None, help="tokens predicted per window after the first "
                                      "(default: max_length, i.e. disjoint windows)"),
        "prefix": key(str, "bos", choices=("bos", "eos", "none"),
                      help="token before the first window: bos (eos if the model has none), eos, or none"),
        "join": key(str, None, help="join all rows with this separator into one document "
                                    "(default: each row is a document)"),
    }

    def head(self, options: dict[str, Any], config: Any, family: str) -> str:
        if family != "decoder-only":
            raise TaskConfigError(f"perplexity needs a decoder-only (causal) LM; this model is {family}")
        return "causal-lm"

    def settings(self, loaded: LoadedModel, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        tokenizer = loaded.tokenizer
        model_limit = loaded.info.max_length
        max_length = min(options["max_length"] or model_limit, model_limit)
        stride = options["stride"] or max_length
        if not 1 <= stride <= max_length:
            raise TaskConfigError(f"perplexity: stride {stride} must be between 1 and max_length {max_length}")
        prefix_token = {"bos": tokenizer.bos_token_id if tokenizer.bos_token_id is not None
                        else tokenizer.eos_token_id,
                        "eos": tokenizer.eos_token_id, "none": None}[options["prefix"]]
        if options["prefix"] != "none" and prefix_token is None:
            raise TaskConfigError(f"perplexity: the tokenizer has no {options['prefix']} token; "
                                  "set options.prefix: none")
        return {
            "max_length": max_length, "model_max_length": model_limit, "stride": stride, "windows": "disjoint" if stride == max_length
            else "overlapping", "prefix": options["prefix"], "prefix_token_id": prefix_token,
            "prefix_token": None if prefix_token is None else tokenizer.convert_ids_to_tokens(prefix_token),
            "documents": "joined" if options["join"] is not None else "separate",
            "join": options["join"], "add_special_tokens": False,
            "word_count": "len(re.split(r'\\s+', document)) on the scored text",
            "byte_count": "UTF-8 bytes of the scored text",
        }

    def predict(self, loaded: LoadedModel, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        documents = self._documents(rows, settings)
        chunk: list[tuple[int, str, list[Window]]] = []
        pending_windows = 0
        for index, text in documents:
            tokens = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
            windows = rolling_windows(tokens, settings["prefix_token_id"], settings["max_length"],
                                      settings["stride"])
            chunk.append((index, text, windows))
            pending_windows += len(windows)
            if pending_windows >= batch_size:
                yield self._score_chunk(loaded, chunk, batch_size)
                chunk, pending_windows = [], 0
        if chunk:
            yield self._score_chunk(loaded, chunk, batch_size)

    @staticmethod
    def prepare_rows(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
        """With `join`, all rows become one document: one example, one result (resumed as one)."""
        if options["join"] is None:
            return rows
        return [{"text": options["join"].join(str(row["text"] or "") for row in rows)}]

    def _documents(self, rows: list[dict[str, Any]], settings: dict[str, Any]) -> list[tuple[int, str]]:
        return list(enumerate(str(row["text"] or "") for row in self.prepare_rows(rows, settings)))

    @staticmethod
    def _score_chunk(loaded: LoadedModel, chunk: list[tuple[int, str, list[Window]]],
                     batch_size: int) -> list[ExampleResult]:
        requests = [window for _, _, windows in chunk for window in windows]
        scores = iter(score_requests(loaded, requests, batch_size))
        results = []
        for index, text, windows in chunk:
            window_scores = [next(scores) for _ in windows]
            loglik = sum(s.total for s in window_scores)
            tokens = sum(s.tokens for s in window_scores)
            empty = not text.strip()
            read = sum(min(len(ctx) + len(cont) - 1, loaded.info.max_length) for ctx, cont in windows)
            details = {"loglikelihood": loglik, "tokens": tokens, "windows": len(windows), "prompt_tokens": read,
                       "words": 0 if empty else count_words(text),
                       "bytes": count_bytes(text), "skipped_empty": empty}
            results.append(ExampleResult(index=index, input=text, prediction=loglik,
                                         reference=None, details=details))
        return results

    def score(self, results: list[ExampleResult], settings: dict[str, Any],
              metrics: tuple[str, ...]) -> TaskScores:
        columns = ("loglikelihood", "tokens", "words", "bytes")
        stats = np.array([[r.details[c] for c in columns] for r in results], dtype=np.float64)
        totals = stats.sum(axis=0)
        figures = corpus_perplexity(*(float(t) for t in totals))
        wanted = [name for name in figures if name in (metrics or figures)]
        signature = (f"rolling windows max_length={settings['max_length']} stride={settings['stride']} "
                     f"prefix={settings['prefix']} documents={settings['documents']}")
        result = MetricResult({n: figures[n] for n in wanted}, signature,
                              {n: (stats, partial(perplexity_from_sums, n)) for n in wanted})
        bootstrap = settings.get("bootstrap", {"resamples": 0, "seed": 0})
        intervals = result.intervals(bootstrap["resamples"], bootstrap["seed"]) if bootstrap["resamples"] else {}
        return TaskScores(result.scores, intervals, {n: signature for n in wanted})

