"""The transformers backend: a hub id, local folder, GGUF file or packaged model, loaded with
the Auto class of the head each capability needs, and kept loaded while the next task
needs the same head."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch

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
    ModelInfo,
    Profile,
    RollingLogLikelihood,
    RollingSettings,
    Span,
    SpanRequest,
    SpanSettings,
)
from benchbench.backends.hf import extractive_qa, generation, scoring
from benchbench.backends.hf.classify import classify_batch
from benchbench.backends.hf.loading import LoadedModel, inspect_config, load_model, release_memory
from benchbench.backends.hf.probe import generation_probe
from benchbench.spec import CheckpointSpec, ModelSpec, Runtime


def profile_of(config: Any, family: str) -> Profile:
    """Capabilities from the config: causal LMs score and generate, seq2seq models generate,
    fine-tuned heads classify or pick spans; any model can get a fresh (random) head."""
    architectures = getattr(config, "architectures", None) or []
    native = set()
    if family == "decoder-only":
        native |= {LOGLIKELIHOOD, ROLLING, GENERATE}
    elif family == "encoder-decoder":
        native.add(GENERATE)
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        native.add(CLASSIFY)
    if any(a.endswith("ForQuestionAnswering") for a in architectures):
        native.add(SPANS)
    return Profile(family, frozenset(native), frozenset(native | {CLASSIFY, SPANS}))


def head_for(capability: str, family: str) -> str:
    """The loading.HEADS key that serves `capability` for a model of `family`."""
    if capability == GENERATE:
        return "causal-lm" if family == "decoder-only" else "seq2seq-lm"
    return {LOGLIKELIHOOD: "causal-lm", ROLLING: "causal-lm", CLASSIFY: "sequence-classification",
            SPANS: "question-answering"}[capability]


class HFBackend:
    """A backend over transformers that serves every capability (capabilities.py) and the
    extras. The config is read on construction (no weights), so an unreachable checkpoint
    fails early with ModelUnavailable."""

    def __init__(self, model: ModelSpec, runtime: Runtime, device: str) -> None:
        assert isinstance(model.settings, CheckpointSpec), model.settings
        self.name, self.checkpoint, self.device = model.name, model.settings, device
        self.default_dtype, self.no_weights = runtime.dtype, runtime.no_weights
        config, family = inspect_config(self.checkpoint, self.name)
        self.profile = profile_of(config, family)
        self._loaded: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise RuntimeError("HFBackend: load(capability) must come before requests")
        return self._loaded

    def load(self, capability: str) -> ModelInfo:
        head = head_for(capability, self.profile.family)
        if self._loaded is None or self._loaded.info.head != head:
            self.close()
            self._loaded = load_model(self.checkpoint, head, self.device, self.default_dtype, self.no_weights,
                                      self.name)
        return self._loaded.info

    def chat_prompt(self, user: str, system: str | None) -> str:
        return generation.apply_chat_template(self.loaded, user, system)

    def token_id(self, token: str) -> int | None:
        return self.loaded.tokenizer.get_vocab().get(token)

    def source_language(self, candidates: list[str]) -> str | None:
        tokenizer = self.loaded.tokenizer
        if candidates and hasattr(tokenizer, "src_lang"):
            vocab = tokenizer.get_vocab()
            tokenizer.src_lang = next((c for c in candidates if c and c in vocab), tokenizer.src_lang)
        return getattr(tokenizer, "src_lang", None)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      batch_size: int) -> Iterator[Batch[LogLikelihood]]:
        return scoring.pair_loglikelihoods(self.loaded, requests, batch_size)

    def rolling_settings(self, max_length: int | None, stride: int | None, prefix: str) -> RollingSettings:
        return scoring.rolling_settings(self.loaded, max_length, stride, prefix)

    def loglikelihood_rolling(self, texts: Sequence[str], settings: RollingSettings,
                              batch_size: int) -> Iterator[Batch[RollingLogLikelihood]]:
        return scoring.rolling_batches(self.loaded, texts, settings, batch_size)

    def describe_scoring(self, capability: str) -> dict[str, Any]:
        scorer = scoring.token_scorer(self.loaded)
        shared = {"choices_share_prompt_cache": scorer.shares_prefixes} if capability == LOGLIKELIHOOD else {}
        return {"logprobs_from": scorer.method, **shared}

    def describe_generation(self) -> dict[str, Any]:
        return generation.generation_record(self.loaded)

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> Iterator[Batch[Generation]]:
        return generation.generate_batches(self.loaded, prompts, settings, batch_size)

    def class_labels(self) -> dict[int, str]:
        return {int(i): str(name) for i, name in self.loaded.model.config.id2label.items()}

    def classify(self, requests: Sequence[ClassifyRequest], max_length: int | None) -> list[ClassPrediction]:
        return classify_batch(self.loaded, requests, max_length)

    def span_settings(self, max_seq_len: int | None, doc_stride: int | None, max_answer_len: int) -> SpanSettings:
        return extractive_qa.span_settings(self.loaded, max_seq_len, doc_stride, max_answer_len)

    def answer_spans(self, requests: Sequence[SpanRequest], settings: SpanSettings, batch_size: int) -> list[Span]:
        return extractive_qa.answer_examples(self.loaded, [r.question for r in requests],
                                             [r.context for r in requests], settings, batch_size)

    def latency_probe(self, seed_text: str, prompt_tokens: int, new_tokens: int, batch_sizes: list[int],
                      repeats: int) -> dict[str, Any] | None:
        seed_tokens = self.loaded.tokenizer(seed_text, add_special_tokens=False)["input_ids"] or [0]
        return generation_probe(self.loaded, seed_tokens, prompt_tokens, new_tokens, batch_sizes, repeats=repeats)

    def is_out_of_memory(self, error: BaseException) -> bool:
        return isinstance(error, torch.cuda.OutOfMemoryError)

    def free_memory(self) -> None:
        release_memory()

    def close(self) -> None:
        self._loaded = None
        release_memory()
