"""Load a transformers model with the Auto class of a head, on a device and dtype.

The backend (backend.py) picks the *head* ("causal-lm", "sequence-classification", ...)
for the capability a task needs and gets a LoadedModel whose info records family,
architecture, parameter count, dtype, device and load time. Any failure to find or read a
checkpoint becomes :class:`ModelUnavailable` with the reason, so the run records it and
goes on with the other models.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any

import torch

from benchbench.backends.base import ModelInfo
from benchbench.backends.hf.gguf_cache import converted_folder
from benchbench.backends.hf.hub import hub_unreachable
from benchbench.backends.reference import ModelLocation, locate
from benchbench.errors import ModelUnavailable, first_line
from benchbench.measure.allocator import keep_freed_memory
from benchbench.measure.system import peak_rss_mib, reset_peak_rss
from benchbench.spec import CheckpointSpec

HEADS = {
    "causal-lm": "AutoModelForCausalLM",
    "seq2seq-lm": "AutoModelForSeq2SeqLM",
    "sequence-classification": "AutoModelForSequenceClassification",
    "question-answering": "AutoModelForQuestionAnswering",
}
DEFAULT_MAX_LENGTH = 2048  # lm-evaluation-harness's fallback when nothing declares a length
_TOKENIZER_INFINITY = 1000000000000000019884624838656
_LOAD_ERRORS = (OSError, ValueError, ImportError, KeyError, RuntimeError)
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class LoadedModel:
    """A transformers model and its tokenizer, loaded for one head."""

    model: Any
    tokenizer: Any
    info: ModelInfo
    scorer: Any = None  # scoring.token_scorer's TokenScorer, made on first use

    @property
    def device(self) -> torch.device:
        return torch.device(self.info.device)


def resolve_device(requested: str) -> str:
    """'auto' -> cuda when a GPU is visible, else cpu. Asking for cuda without one is an error."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable("device 'cuda' was requested but torch sees no CUDA GPU; "
                               "use --device cpu or auto")
    return requested


def release_memory() -> None:
    """Drop unreferenced tensors and return cached GPU blocks (between heads, after an OOM)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def resolve_dtype(requested: str | None, device: str) -> Any:
    """'auto' keeps the checkpoint's dtype, except half precision on CPU becomes float32."""
    if requested in _DTYPES:
        return _DTYPES[requested]
    return "auto" if device != "cpu" else torch.float32


def _pretrained_kwargs(checkpoint: CheckpointSpec, where: ModelLocation) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_remote_code": checkpoint.trust_remote_code}
    if checkpoint.revision:
        kwargs["revision"] = checkpoint.revision
    if where.gguf_file:
        kwargs["gguf_file"] = where.gguf_file
    return kwargs


def _unavailable(name: str, source: str, what: str, exc: BaseException) -> ModelUnavailable:
    hint = ""
    if "gguf" in str(exc).lower() and isinstance(exc, ImportError):
        hint = " (install the gguf extra: pip install 'benchbench[gguf]')"
    return ModelUnavailable(f"cannot load {what} for model {name!r} from {source!r}: "
                            f"{type(exc).__name__}: {first_line(exc)}{hint}")


def materialize(checkpoint: CheckpointSpec, name: str = "model") -> ModelLocation:
    """Where to load from; a GGUF checkpoint is converted once to a cached folder. `name`:
    the suite's name of the model, for messages."""
    where = locate(checkpoint.source, checkpoint.gguf_file)
    if not where.gguf_file or where.kind == "hub":
        return where
    try:
        folder = converted_folder(where.pretrained, where.gguf_file, checkpoint.trust_remote_code)
    except _LOAD_ERRORS as exc:
        raise _unavailable(name, checkpoint.source, "GGUF checkpoint", exc) from exc
    return ModelLocation(where.kind, str(folder), None, original_gguf=where.gguf_file)


def inspect_config(checkpoint: CheckpointSpec, name: str = "model") -> tuple[Any, str]:
    """The model's config and family, read without loading weights. A hub id that is neither
    in the local cache nor reachable fails at once (hub.py), not after the client's retries."""
    from transformers import AutoConfig

    where = materialize(checkpoint, name)
    kwargs = _pretrained_kwargs(checkpoint, where)
    try:
        if where.kind == "hub":
            try:
                return _with_family(AutoConfig.from_pretrained(where.pretrained, local_files_only=True, **kwargs))
            except _LOAD_ERRORS:
                why = hub_unreachable()
                if why:
                    named = repr(checkpoint.source) if name == checkpoint.source else f"{name!r} ({checkpoint.source!r})"
                    raise ModelUnavailable(
                        f"model {named} is a hub id that is not in the local hub cache, and the hub cannot be "
                        f"reached: {why}; give a local folder, a .gguf file or packaged:NAME, or run where the "
                        f"hub is reachable") from None
        return _with_family(AutoConfig.from_pretrained(where.pretrained, **kwargs))
    except _LOAD_ERRORS as exc:
        raise _unavailable(name, checkpoint.source, "config", exc) from exc


def _with_family(config: Any) -> tuple[Any, str]:
    return config, family_of(config)


def family_of(config: Any) -> str:
    """encoder, encoder-decoder or decoder-only, from the config alone."""
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")) for a in architectures):
        return "decoder-only"
    if architectures:
        return "encoder"
    return "decoder-only" if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES else "encoder"


def model_shape(config: Any) -> dict[str, int | None]:
    """The dimensions that drive inference memory (KV cache, activations, logits)."""
    text = getattr(config, "text_config", None) or config

    def first(*names: str) -> int | None:
        for name in names:
            value = getattr(text, name, None)
            if isinstance(value, int):
                return value
        return None

    hidden = first("hidden_size", "d_model", "n_embd")
    heads = first("num_attention_heads", "n_head", "num_heads", "encoder_attention_heads")
    layers = first("num_hidden_layers", "n_layer", "num_layers", "decoder_layers")
    window = first("sliding_window")
    return {
        "layers": layers,
        "hidden_size": hidden, "attention_heads": heads,
        "kv_heads": first("num_key_value_heads") or heads,
        "head_dim": first("head_dim", "d_kv") or (hidden // heads if hidden and heads else None),
        "intermediate_size": first("intermediate_size", "n_inner", "d_ff", "decoder_ffn_dim"),
        "vocab_size": first("vocab_size"),
        "max_positions": first("n_positions", "max_position_embeddings", "n_ctx"),
        "tied_embeddings": int(bool(getattr(config, "tie_word_embeddings", True))),
        "sliding_window": window, "sliding_layers": _sliding_layers(text, layers, window),
        "experts": first("num_local_experts", "num_experts", "n_routed_experts"),
    }


def _sliding_layers(text_config: Any, layers: int | None, window: int | None) -> int:
    """How many layers attend within a sliding window only (their KV cache stops growing at
    the window): Gemma-2/3 alternate (layer_types), Mistral-7B-v0.1 windows every layer,
    Qwen2 declares a window it does not use (use_sliding_window: false)."""
    if not window or getattr(text_config, "use_sliding_window", True) is False:
        return 0
    types = getattr(text_config, "layer_types", None)
    if types:
        return sum(kind == "sliding_attention" for kind in types)
    return layers or 0


def context_length(config: Any, tokenizer: Any) -> int:
    """The model's maximum sequence length, resolved as lm-evaluation-harness does."""
    text_config = getattr(config, "text_config", None) or config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(text_config, attr, None)
        if value is not None:
            return int(value)
    limit = getattr(tokenizer, "model_max_length", None)
    if limit is not None and limit != _TOKENIZER_INFINITY:
        return int(limit)
    return DEFAULT_MAX_LENGTH


def load_model(checkpoint: CheckpointSpec, head: str, device: str, default_dtype: str = "auto",
               no_weights: bool = False, name: str = "model") -> LoadedModel:
    """Load tokenizer and model with the Auto class for `head`; time the whole load.

    With `no_weights`, the model is built from its config with random weights (for
    speed and memory of a model whose checkpoint is not at hand)."""
    import transformers

    reset_peak_rss()
    started = time.perf_counter()
    where = materialize(checkpoint, name)
    kwargs = _pretrained_kwargs(checkpoint, where)
    dtype = resolve_dtype(checkpoint.dtype or default_dtype, device)
    try:
        tokenizer = _load_tokenizer(checkpoint, where, kwargs, name)
    except _LOAD_ERRORS as exc:
        raise _unavailable(name, checkpoint.source, "tokenizer", exc) from exc
    auto_class = getattr(transformers, HEADS[head])
    attention = {"attn_implementation": checkpoint.attn_implementation} if checkpoint.attn_implementation else {}
    try:
        if no_weights:
            config = transformers.AutoConfig.from_pretrained(where.pretrained, **kwargs)
            if dtype == "auto":  # the checkpoint's dtype, as from_pretrained would use
                dtype = getattr(config, "dtype", None) or torch.float32
            model = auto_class.from_config(config, dtype=dtype, trust_remote_code=checkpoint.trust_remote_code,
                                           **attention)
        else:
            model = auto_class.from_pretrained(where.pretrained, dtype=dtype, **kwargs, **attention)
    except _LOAD_ERRORS as exc:
        raise _unavailable(name, checkpoint.source, f"{HEADS[head]} weights", exc) from exc
    model.to(device)
    model.eval()
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "cpu":  # after the load, whose large temporaries are best handed back at once
        keep_freed_memory()  # the passes' large activations reused, not page-faulted in per layer (measure/allocator.py)
    config = model.config
    info = ModelInfo(
        name=name, source=checkpoint.source, location_kind=where.kind,
        gguf_file=where.original_gguf or where.gguf_file, loaded_from=where.pretrained,
        revision=checkpoint.revision, head=head, family=family_of(config),
        model_type=str(config.model_type),
        architecture=type(model).__name__,
        parameters=sum(p.numel() for p in model.parameters()),
        dtype=str(next(model.parameters()).dtype).replace("torch.", ""), device=device,
        attention=getattr(config, "_attn_implementation", None), max_length=context_length(config, tokenizer), random_weights=no_weights,
        load_seconds=time.perf_counter() - started, load_peak_rss_mib=peak_rss_mib(), shape=model_shape(config))
    return LoadedModel(model=model, tokenizer=tokenizer, info=info)


def _load_tokenizer(checkpoint: CheckpointSpec, where: ModelLocation, kwargs: dict[str, Any], name: str) -> Any:
    from transformers import AutoTokenizer

    if checkpoint.tokenizer:  # another source, resolved (and GGUF-converted) like a model source
        where = materialize(CheckpointSpec(checkpoint.tokenizer), name)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("gguf_file", "revision")}
        if where.gguf_file:
            kwargs["gguf_file"] = where.gguf_file
    tokenizer = AutoTokenizer.from_pretrained(where.pretrained, **kwargs)
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out; any id will do
    return tokenizer
