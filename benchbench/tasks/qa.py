"""Question answering: extractive (a QA head picks a span of the context) or generative
(a language model writes the answer). Scored with the official SQuAD EM and F1, max over
all gold answers."""

from __future__ import annotations

from typing import Any, Iterator

from benchbench.errors import TaskConfigError
from benchbench.models.loading import LoadedModel
from benchbench.schema import key
from benchbench.tasks.base import ExampleResult
from benchbench.tasks.extractive_qa import PIPELINE_DEFAULTS, answer_examples
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
    metrics=("exact_match", "f1"), max_new_tokens=32, stop=("\n",))


class QuestionAnswering(TextToText):
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
             "max_seq_len": key(int, None, help="extractive: tokens per window (default min(384, model's))"),
             "doc_stride": key(int, None, help="extractive: overlap between windows (default min(len/2, 128))"),
             "max_answer_len": key(int, PIPELINE_DEFAULTS["max_answer_len"], help="extractive: tokens")})

    def head(self, options: dict[str, Any], config: Any, family: str) -> str:
        has_head = any(a.endswith("ForQuestionAnswering") for a in (getattr(config, "architectures", None) or []))
        if options["method"] == "extractive" or (options["method"] == "auto" and has_head):
            return "question-answering"
        if family == "encoder":
            raise TaskConfigError("qa: this encoder has no question-answering head in its config; use a "
                                  "model fine-tuned for extractive QA, or a generative model")
        return super().head(options, config, family)

    def settings(self, loaded: LoadedModel, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        if loaded.info.head != "question-answering":
            return {"method": "generative", **super().settings(loaded, options, metrics, rows)}
        max_seq_len = options["max_seq_len"] or min(loaded.tokenizer.model_max_length, PIPELINE_DEFAULTS["max_seq_len"])
        doc_stride = options["doc_stride"] or min(max_seq_len // 2, PIPELINE_DEFAULTS["doc_stride"])
        if doc_stride >= max_seq_len:
            raise TaskConfigError(f"qa: doc_stride {doc_stride} must be smaller than max_seq_len {max_seq_len}")
        return {"method": "extractive", "max_seq_len": max_seq_len, "doc_stride": doc_stride,
                "max_answer_len": options["max_answer_len"], "top_candidates": PIPELINE_DEFAULTS["top_candidates"],
                "question_first": loaded.tokenizer.padding_side == "right", "align_to_words": True}

    def _row_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"question": str(row["question"]), "context": as_text(row["context"])}

    def _reference(self, row: dict[str, Any]) -> list[str]:
        return as_references(row["answers"])

    def predict(self, loaded: LoadedModel, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        if settings["method"] == "generative":
            yield from super().predict(loaded, rows, settings, batch_size)
            return
        examples_per_batch = max(1, batch_size)
        for begin in range(0, len(rows), examples_per_batch):
            chunk = rows[begin:begin + examples_per_batch]
            fields = [self._row_fields(r) for r in chunk]
            answers = answer_examples(loaded, [f["question"] for f in fields], [f["context"] for f in fields],
                                      settings, batch_size)
            yield [ExampleResult(index=begin + j, input=f"{f['question']}\n\n{f['context']}", prediction=a.text,
                                 reference=self._reference(row),
                                 details={"start": a.start, "end": a.end, "score": a.score,
                                          "prompt_tokens": a.prompt_tokens})
                   for j, (f, row, a) in enumerate(zip(fields, chunk, answers))]
