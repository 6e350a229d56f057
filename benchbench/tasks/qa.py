"""Question answering: extractive (a QA head picks a span of the context) or generative
(a language model writes the answer). Scored with the official SQuAD EM and F1, max over
all gold answers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Iterator

from benchbench.backends.base import GENERATE, SPANS, ModelBackend, Profile, SpanRequest, SpanSettings, from_record
from benchbench.backends.capabilities import SpanPicker, require
from benchbench.metrics.squad import f1_score
from benchbench.schema import key
from benchbench.tasks.base import ExampleResult
from benchbench.tasks.text_to_text import (
    TEXT_METRICS,
    Defaults,
    TextToText,
    as_references,
    as_text,
)

_GENERATIVE = Defaults(
    decoder_prompt="Answer the question with a short span from the context.\n\n"
                   "Context: {context}\nQuestion: {question}\nAnswer:",
    encoder_decoder_prompt="question: {question} context: {context}",
    metrics=("exact_match", "f1"), max_new_tokens=32, stop=("\n",), primary_metric="f1")
MAX_ANSWER_TOKENS = 15  # the transformers question-answering pipeline's default


class QuestionAnswering(TextToText):
    copies_are_degenerate = False  # an answer is a span of the context
    fields = {
        "question": key(str, required=True),
        "context": key((str, list), required=True),
        "answers": key((str, list), required=True, help="gold answer(s); SQuAD: answers.text"),
    }

    def __init__(self) -> None:
        super().__init__(
            "qa", "answer a question about a context; official SQuAD exact match and F1",
            TEXT_METRICS, _GENERATIVE,
            {"method": key(str, "auto", choices=("auto", "extractive", "generative"),
                           help="auto: extractive when the model has a QA head"),
             "max_seq_len": key(int, None, bounds="[2, inf)", help="extractive: tokens per window (default min(384, model's))"),
             "doc_stride": key(int, None, bounds="[1, inf)", help="extractive: overlap between windows (default min(len/2, 128))"),
             "max_answer_len": key(int, MAX_ANSWER_TOKENS, bounds="[1, inf)", help="extractive: tokens")})
        self.example_score_name = "SQuAD F1"

    def need(self, options: dict[str, Any], profile: Profile) -> str:
        if options["method"] == "extractive" or (options["method"] == "auto" and SPANS in profile.native):
            if SPANS not in profile.loadable:
                raise profile.cannot(SPANS, "qa: extractive answers need a model with a question-answering head")
            return SPANS
        if GENERATE not in profile.loadable:
            raise profile.cannot(GENERATE, f"qa: this {profile.family} has no question-answering head in its "
                                           "config; use a model fine-tuned for extractive QA, or a generative model")
        return GENERATE

    def settings(self, backend: ModelBackend, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        if self.need(options, backend.profile) == GENERATE:
            return {"method": "generative", **super().settings(backend, options, metrics, rows)}
        spans = require(backend, SpanPicker).span_settings(options["max_seq_len"], options["doc_stride"],
                                                           options["max_answer_len"])
        return {"method": "extractive", **asdict(spans), "align_to_words": True}

    def _row_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"question": str(row["question"]), "context": as_text(row["context"])}

    def _reference(self, row: dict[str, Any]) -> list[str]:
        return as_references(row["answers"])

    def predict(self, backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        if settings["method"] == "generative":
            yield from super().predict(backend, rows, settings, batch_size)
            return
        spans, picker = from_record(SpanSettings, settings), require(backend, SpanPicker)
        for begin in range(0, len(rows), batch_size):
            chunk = rows[begin:begin + batch_size]
            fields = [self._row_fields(r) for r in chunk]
            answers = picker.answer_spans([SpanRequest(f["question"], f["context"]) for f in fields], spans,
                                          batch_size)
            yield [ExampleResult(index=begin + j, input=f"{f['question']}\n\n{f['context']}", prediction=a.text,
                                 reference=self._reference(row),
                                 details={"start": a.start, "end": a.end, "score": a.score,
                                          "prompt_tokens": a.tokens_read})
                   for j, (f, row, a) in enumerate(zip(fields, chunk, answers))]

    def example_score(self, prediction: Any, reference: Any, details: dict[str, Any]) -> float:
        return max(f1_score(str(prediction), gold) for gold in as_references(reference))

    def sequence_lengths(self, settings: dict[str, Any]) -> tuple[int | None, int]:
        return settings.get("max_seq_len"), int(settings.get("max_new_tokens") or 0)
