"""The model interface: what a task may ask of a model, in typed requests and responses.

Tasks are written against these protocols alone, so a model behind another engine (an
OpenAI-compatible server, vLLM) is a new backend, not an ``if`` in every task. Every
backend implements :class:`ModelBackend`: it says what it can do before any weights are
loaded (:class:`Profile`) and loads for one *capability* at a time. It answers the
requests of each capability it serves through that capability's protocol
(capabilities.py), and implements no other:

- ``loglikelihood``: the log-probability of a continuation after a context (choices);
- ``loglikelihood_rolling``: the log-probability of whole texts, in windows (perplexity);
- ``generate``: text after a prompt;
- ``classify``: the class a classification head gives a text (or text pair);
- ``spans``: the answer span an extractive-QA head picks in a context.

A backend whose requests can fail one by one (a server over a network) answers a request
it gave up on, after its retries, with :class:`RequestFailed` in place of the response: the
run records that example as failed and a later run retries it.

Requests that need batching by token length (choices, generation, rolling windows) are
given to the backend whole and come back batch by batch, as ``(request index, response)`` lists: only
the backend knows token lengths, and the run stores and times each batch as it comes.
Every resolved setting a backend decides (window lengths, padding side, the prefix token)
comes back as a plain dict, recorded with the figures.

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from benchbench.errors import Unsupported

LOGLIKELIHOOD = "loglikelihood"
ROLLING = "loglikelihood_rolling"
GENERATE = "generate"
CLASSIFY = "classify"
SPANS = "spans"
CAPABILITIES = (LOGLIKELIHOOD, ROLLING, GENERATE, CLASSIFY, SPANS)

T = TypeVar("T")
Batch = list[tuple[int, "T | RequestFailed"]]  # (index of the request, its response), one batch


@dataclass(frozen=True)
class Profile:
    """What is known about a model before its weights are loaded.

    `native`: what the checkpoint does as it is (a causal LM scores and generates; a
    fine-tuned classifier classifies). `loadable`: what the backend can load it for at
    all (a transformers backend can put a fresh, randomly initialised head on any model).
    """

    family: str  # "encoder", "encoder-decoder", "decoder-only"
    native: frozenset[str]
    loadable: frozenset[str]
    why_not: dict[str, str] = field(default_factory=dict)  # capability: why this backend cannot serve it

    def cannot(self, capability: str, usual_reason: str) -> Unsupported:
        """The error for a task that needs `capability` from a model without it: the backend's
        own reason where it gave one (a server without log-probabilities), else the task's."""
        return Unsupported(self.why_not.get(capability, usual_reason))


@dataclass(frozen=True)
class ModelInfo:
    """What the results record about a loaded model (fields a backend cannot know are None)."""

    name: str
    source: str
    location_kind: str
    gguf_file: str | None
    loaded_from: str
    revision: str | None
    head: str
    family: str
    model_type: str
    architecture: str
    parameters: int | None
    dtype: str | None
    device: str
    attention: str | None  # the attention implementation used (eager, sdpa, ...)
    max_length: int
    random_weights: bool
    load_seconds: float
    load_peak_rss_mib: float  # peak resident memory while loading (process-wide where it cannot be reset)
    shape: dict[str, int | None]  # layers, hidden size, heads, KV heads, head dim, vocabulary (for estimates)
    # a served model: where and how it is asked (base_url, model, endpoint, concurrency, timeout_s,
    # max_retries, price_per_million_tokens, max_failed_fraction); never the API key
    serving: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoglikelihoodRequest:
    context: str
    continuation: str


@dataclass(frozen=True)
class LogLikelihood:
    total: float  # sum of natural-log probabilities of the continuation's tokens
    tokens: int  # continuation tokens scored
    tokens_read: int  # tokens the model ran to score them (0 when it shared another request's identical input)


@dataclass(frozen=True)
class RollingLogLikelihood:
    total: float
    tokens: int  # tokens predicted (every token of the text once)
    windows: int
    tokens_read: int


@dataclass(frozen=True)
class RollingSettings:
    """How texts are cut into windows; made by :meth:`RollingScorer.rolling_settings`."""

    max_length: int
    stride: int
    prefix: str  # "bos", "eos" or "none"
    prefix_token_id: int | None
    prefix_token: str | None  # its text, for the record
    model_max_length: int  # the model's context length (the cap on max_length)


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int
    num_beams: int
    do_sample: bool
    temperature: float | None
    top_p: float | None
    top_k: int | None
    seed: int
    stop: list[str]
    forced_bos_token_id: int | None = None  # NLLB/M2M: the target language's token
    min_new_tokens: int | None = None  # EOS held back until this many tokens are generated


@dataclass(frozen=True)
class RequestTiming:
    """One request to a server, timed on this machine from sending it (docs/methodology.md)."""

    first_token_seconds: float | None  # until the first generated text arrived (streaming)
    total_seconds: float  # until the response was complete
    attempts: int  # 1, plus the retries it took

    def to_details(self, generated_tokens: int | None) -> dict[str, Any]:
        """As stored with the example: milliseconds, and the time per output token after the
        first (vLLM's TPOT: (end-to-end - first token) / (tokens - 1))."""
        first = self.first_token_seconds
        per_token = ((self.total_seconds - first) / (generated_tokens - 1)
                     if first is not None and generated_tokens and generated_tokens > 1 else None)
        return {"ttft_ms": None if first is None else 1000 * first, "e2e_ms": 1000 * self.total_seconds,
                "tpot_ms": None if per_token is None else 1000 * per_token, "attempts": self.attempts}


@dataclass(frozen=True)
class RequestFailed:
    """A request a backend gave up on (after its retries), in place of its response."""

    reason: str
    attempts: int


@dataclass(frozen=True)
class Generation:
    text: str  # new text only, cut at the first stop sequence
    prompt_tokens: int | None  # tokens the model read (after truncation); None: a server that did not say
    generated_tokens: int | None  # tokens produced, up to and including EOS or the end of the stop sequence
    timing: RequestTiming | None = None  # a served model's request (None for local engines)


@dataclass(frozen=True)
class ClassifyRequest:
    text: str
    text_pair: str | None = None


@dataclass(frozen=True)
class ClassPrediction:
    class_id: int
    confidence: float  # softmax probability of that class
    tokens_read: int


@dataclass(frozen=True)
class SpanRequest:
    question: str
    context: str


@dataclass(frozen=True)
class SpanSettings:
    """Extractive QA windows and span limits; made by :meth:`SpanPicker.span_settings`."""

    max_seq_len: int
    doc_stride: int
    max_answer_len: int
    top_candidates: int
    question_first: bool


@dataclass(frozen=True)
class Span:
    text: str
    start: int  # character offsets in the context
    end: int
    score: float
    tokens_read: int


S = TypeVar("S")


def from_record(cls: type[S], record: dict[str, Any]) -> S:
    """A settings dataclass rebuilt from the recorded settings dict it was merged into."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in record.items() if k in names})


class ModelBackend(Protocol):
    """The core every backend implements: what it is before loading, loading, and memory. What
    it answers is in the capability protocols it implements (capabilities.py)."""

    profile: Profile

    def load(self, capability: str) -> ModelInfo:
        """Make the model ready for `capability` (loading weights if needed: a backend may
        keep what it loaded while the next task needs the same). Raises ModelUnavailable."""

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Whether `error` means the device ran out of memory (recorded as 'oom')."""

    def free_memory(self) -> None:
        """Free transient memory (caches, activations) after an error; the weights stay."""

    def close(self) -> None:
        """Free everything the backend holds (it is not used again)."""


def finish_text(text: str, stops: list[str]) -> str:
    """Generated text as every backend returns it: leading whitespace dropped first (a model
    that starts its answer with a newline would otherwise be cut to nothing by a "\\n"
    stop), cut at the first stop sequence, stripped."""
    return cut_at_stop(text.lstrip(), stops).strip()


def cut_at_stop(text: str, stops: list[str]) -> str:
    """`text` up to the first of the stop sequences (for backends whose engine does not stop)."""
    positions = [text.find(s) for s in stops if s and s in text]
    return text[:min(positions)] if positions else text
