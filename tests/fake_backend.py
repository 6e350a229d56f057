"""A small deterministic backend with no model behind it, serving every capability: what a
backend provides (base.ModelBackend and the protocols of capabilities.py), and a way to
check every task type's arithmetic exactly."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from benchbench.backends.base import (
    CAPABILITIES,
    Batch,
    ClassifyRequest,
    ClassPrediction,
    Generation,
    GenerationSettings,
    LogLikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Profile,
    RollingLogLikelihood,
    RollingSettings,
    Span,
    SpanRequest,
    SpanSettings,
    cut_at_stop,
)
from benchbench.errors import TaskConfigError


def words(text: str) -> int:
    return len(text.split())


class FakeBackend:
    """Scores and answers by simple rules on the text:

    - a continuation scores -len(continuation), +5 when its word appears in the context;
    - a text scores -0.5 per word, one token per word, one window;
    - generation echoes the part of the prompt after its last ': ', cut at the stop sequences;
    - the classifier says 'positive' (id 1) when the text contains 'good', else 'negative';
    - the span is the context's first word.
    """

    def __init__(self, name: str = "fake", family: str = "decoder-only",
                 capabilities: Sequence[str] = CAPABILITIES) -> None:
        self.name = name
        self.profile = Profile(family, frozenset(capabilities), frozenset(capabilities))
        self.loads: list[str] = []
        self.closed = False

    def load(self, capability: str) -> ModelInfo:
        self.loads.append(capability)
        return ModelInfo(name=self.name, source="fake:" + self.name, location_kind="fake", gguf_file=None,
                         loaded_from="nowhere", revision=None, head=capability, family=self.profile.family,
                         model_type="fake", architecture="FakeBackend", parameters=1000, dtype=None, device="cpu",
                         attention=None, max_length=128, random_weights=False, load_seconds=0.0,
                         load_peak_rss_mib=0.0, shape={})

    def chat_prompt(self, user: str, system: str | None) -> str:
        return f"<user>{user}</user>"

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      batch_size: int) -> Iterator[Batch[LogLikelihood]]:
        out = []
        for i, r in enumerate(requests):
            bonus = 5.0 if r.continuation.strip() in r.context else 0.0
            out.append((i, LogLikelihood(-float(len(r.continuation)) + bonus, words(r.continuation),
                                         words(r.context) + words(r.continuation))))
        for start in reversed(range(0, len(out), batch_size)):  # not in request order, as a backend may
            yield out[start:start + batch_size]

    def rolling_settings(self, max_length: int | None, stride: int | None, prefix: str) -> RollingSettings:
        length = min(max_length or 128, 128)
        return RollingSettings(length, stride or length, prefix, None, None, 128)

    def loglikelihood_rolling(self, texts: Sequence[str], settings: RollingSettings,
                              batch_size: int) -> Iterator[Batch[RollingLogLikelihood]]:
        scored = [(i, RollingLogLikelihood(-0.5 * words(t), words(t), 1, words(t))) for i, t in enumerate(texts)]
        for start in range(0, len(scored), batch_size):
            yield scored[start:start + batch_size]

    def describe_scoring(self, capability: str) -> dict[str, Any]:
        return {"logprobs_from": "rules"}

    def describe_generation(self) -> dict[str, Any]:
        return {"engine": "fake"}

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> Iterator[Batch[Generation]]:
        answers = [(i, Generation(cut_at_stop(p.rsplit(": ", 1)[-1], settings.stop).strip(), words(p), 3))
                   for i, p in enumerate(prompts)]
        for start in range(0, len(answers), batch_size):
            yield answers[start:start + batch_size]

    def class_labels(self) -> dict[int, str]:
        return {0: "negative", 1: "positive"}

    def classify(self, requests: Sequence[ClassifyRequest], max_length: int | None) -> list[ClassPrediction]:
        return [ClassPrediction(int("good" in r.text), 0.9, words(r.text)) for r in requests]

    def span_settings(self, max_seq_len: int | None, doc_stride: int | None, max_answer_len: int) -> SpanSettings:
        if doc_stride is not None and max_seq_len is not None and doc_stride >= max_seq_len:
            raise TaskConfigError("qa: doc_stride must be smaller than max_seq_len")
        return SpanSettings(max_seq_len or 64, doc_stride or 16, max_answer_len, 5, True)

    def answer_spans(self, requests: Sequence[SpanRequest], settings: SpanSettings, batch_size: int) -> list[Span]:
        out = []
        for r in requests:
            first = r.context.split()[0]
            out.append(Span(first, 0, len(first), 1.0, words(r.question) + words(r.context)))
        return out

    def is_out_of_memory(self, error: BaseException) -> bool:
        return False

    def free_memory(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
