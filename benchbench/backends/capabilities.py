"""What a backend can answer, one small protocol per capability (base.py lists them).

A backend implements base.ModelBackend and the protocols of the capabilities it serves, and
no others: a server that cannot run perplexity windows has no ``loglikelihood_rolling`` to
stub. A task asks for the protocol it needs through :func:`require`, so it never calls a
method its backend lacks. Three extras are not capabilities of a Profile, and a backend
implements them where it can: ChatPrompts (a chat format for ``chat_template: true``),
Vocabulary (NLLB/M2M's language tokens) and LatencyProbe (the fixed-length generation
probe of local engines).
"""

from __future__ import annotations

import inspect
from typing import Any, Iterable, Iterator, Protocol, Sequence, TypeVar, runtime_checkable

from benchbench.backends.base import (
    CLASSIFY,
    GENERATE,
    LOGLIKELIHOOD,
    ROLLING,
    SPANS,
    Batch,
    ClassifyRequest,
    ClassPrediction,
    Generation,
    GenerationSettings,
    LogLikelihood,
    LoglikelihoodRequest,
    ModelBackend,
    RollingLogLikelihood,
    RollingSettings,
    Span,
    SpanRequest,
    SpanSettings,
)
from benchbench.errors import Unsupported


@runtime_checkable
class Scorer(Protocol):
    """``loglikelihood``: continuations scored after a context (classification by choices)."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      batch_size: int) -> Iterator[Batch[LogLikelihood]]:
        """The log-likelihood of each continuation after its context, batch by batch in the
        backend's order (all requests are given at once, so it can sort and share work)."""

    def describe_scoring(self, capability: str) -> dict[str, Any]:
        """How the backend computes log-likelihoods for `capability` (LOGLIKELIHOOD or ROLLING),
        to record with the figures (e.g. from hidden states or full logits, whether choices
        share a prompt's cache)."""


@runtime_checkable
class RollingScorer(Protocol):
    """``loglikelihood_rolling``: every token of whole texts scored, in windows (perplexity)."""

    def rolling_settings(self, max_length: int | None, stride: int | None, prefix: str) -> RollingSettings:
        """Windows resolved against the model (max_length capped at its context length).
        Raises TaskConfigError for impossible values."""

    def loglikelihood_rolling(self, texts: Sequence[str], settings: RollingSettings,
                              batch_size: int) -> Iterator[Batch[RollingLogLikelihood]]:
        """Every token of each text predicted once, batch by batch."""

    def describe_scoring(self, capability: str) -> dict[str, Any]:
        """As Scorer.describe_scoring."""


@runtime_checkable
class Generator(Protocol):
    """``generate``: text after a prompt (translation, summarization, generative QA)."""

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> Iterator[Batch[Generation]]:
        """Text for each prompt, batch by batch (longest prompts first)."""

    def describe_generation(self) -> dict[str, Any]:
        """What the backend decides about generation on its own, to record (padding side,
        the checkpoint's generation defaults it overrides)."""


@runtime_checkable
class Classifier(Protocol):
    """``classify``: a classification head."""

    def class_labels(self) -> dict[int, str]:
        """The classification head's class id -> label name."""

    def classify(self, requests: Sequence[ClassifyRequest], max_length: int | None) -> list[ClassPrediction]:
        """One batch of texts through the classification head."""


@runtime_checkable
class SpanPicker(Protocol):
    """``spans``: an extractive-QA head picks the answer span in a context."""

    def span_settings(self, max_seq_len: int | None, doc_stride: int | None,
                      max_answer_len: int) -> SpanSettings:
        """Extractive QA windows resolved against the tokenizer. Raises TaskConfigError."""

    def answer_spans(self, requests: Sequence[SpanRequest], settings: SpanSettings,
                     batch_size: int) -> list[Span]:
        """The best answer span of each request (windows batched across requests)."""


@runtime_checkable
class ChatPrompts(Protocol):
    """A chat format for prompts (a task's ``chat_template: true``)."""

    def chat_prompt(self, user: str, system: str | None) -> str:
        """`user` (and a system message) in the model's chat format. Raises TaskConfigError
        when the model has none."""


@runtime_checkable
class Vocabulary(Protocol):
    """Tokens by name, for multilingual seq2seq models (NLLB, M2M: the target language's token)."""

    def token_id(self, token: str) -> int | None:
        """The id of `token` in the vocabulary, or None."""

    def source_language(self, candidates: list[str]) -> str | None:
        """Set the tokenizer's source language to the first candidate code it knows; return
        the code in use (None: the tokenizer has no such setting)."""


@runtime_checkable
class LatencyProbe(Protocol):
    """Fixed-length generation latency (docs/methodology.md), for engines that run here."""

    def latency_probe(self, seed_text: str, prompt_tokens: int, new_tokens: int, batch_sizes: list[int],
                      repeats: int) -> dict[str, Any] | None:
        """The probe's timings; None where not measurable."""


CAPABILITY_PROTOCOLS: dict[str, type] = {LOGLIKELIHOOD: Scorer, ROLLING: RollingScorer, GENERATE: Generator,
                                         CLASSIFY: Classifier, SPANS: SpanPicker}
EXTRAS: tuple[type, ...] = (ChatPrompts, Vocabulary, LatencyProbe)

P = TypeVar("P")


def require(backend: ModelBackend, protocol: type[P]) -> P:
    """`backend` as `protocol`, for a task about to use it. Raises Unsupported (the backend's
    own reason where its Profile gives one) when the backend does not implement it."""
    if isinstance(backend, protocol):
        return backend
    capability = next((c for c, p in CAPABILITY_PROTOCOLS.items() if p is protocol), None)
    methods = ", ".join(name for name in vars(protocol) if not name.startswith("_"))
    usual = f"the model's backend ({type(backend).__name__}) does not implement {protocol.__name__} ({methods})"
    raise backend.profile.cannot(capability, usual) if capability else Unsupported(usual)


def conformance_problems(backend_class: type, capabilities: Iterable[str]) -> list[str]:
    """Why `backend_class` does not implement exactly the core and the protocols of
    `capabilities` (its registry entry's), with their parameters; empty when it does. The
    extras are checked where implemented. For a backend's own tests (docs/backends.md)."""
    claimed = set(capabilities)
    name = backend_class.__name__
    implemented = [p for p in (*CAPABILITY_PROTOCOLS.values(), *EXTRAS) if _has_methods(backend_class, p)]
    problems = [f"{name} implements {protocol.__name__} but its entry does not claim {capability}"
                for capability, protocol in CAPABILITY_PROTOCOLS.items()
                if protocol in implemented and capability not in claimed]
    wanted = [ModelBackend, *(p for c, p in CAPABILITY_PROTOCOLS.items() if c in claimed),
              *(p for p in EXTRAS if p in implemented)]
    for protocol in wanted:
        for method, expected in _methods(protocol).items():
            ours = getattr(backend_class, method, None)
            if not callable(ours):
                problems.append(f"{name} lacks {protocol.__name__}.{method}{expected}")
            elif _parameters(inspect.signature(ours)) != _parameters(expected):
                problems.append(f"{name}.{method}{inspect.signature(ours)} differs from "
                                f"{protocol.__name__}.{method}{expected}")
    named = set().union(*(_methods(p) for p in (ModelBackend, *CAPABILITY_PROTOCOLS.values(), *EXTRAS)))
    problems += [f"{name}.{method} is public but no protocol names it (make it private: no task calls it)"
                 for method, _ in inspect.getmembers(backend_class, inspect.isfunction)
                 if not method.startswith("_") and method not in named]
    return problems


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def _has_methods(backend_class: type, protocol: type) -> bool:
    return all(callable(getattr(backend_class, method, None)) for method in _methods(protocol))


def _parameters(signature: inspect.Signature) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in signature.parameters.values()]
