"""Inference memory estimate from a model's config alone (no weights loaded).

    total = weights + KV cache + activations + logits + framework overhead

- weights: parameters x bytes per parameter (float32 4, float16/bfloat16 2, int8 1,
  4-bit 0.5 plus ~3% for scales); the parameter count is computed exactly by building
  the model on PyTorch's meta device (no memory used). Quantised (int8/int4), the input
  embeddings and the output layer stay in 16 bits, as bitsandbytes leaves them.
- KV cache: 2 (K and V) x batch x KV heads x head dim x bytes x the tokens each layer
  keeps: the sequence, or at most the window for sliding-window layers (Gemma-2/3).
- activations: the largest transient buffers of one forward pass at the given batch and
  sequence: hidden states and the MLP intermediate (x4 for the several live copies), and
  attention scores batch x heads x seq^2 when the attention is not memory-efficient
  (SDPA/flash kernels avoid them; we assume SDPA, as transformers does by default).
- logits: batch x positions x vocabulary x 4 bytes (float32); positions is 1 when
  generating (only the last position's logits are computed) and the whole sequence when
  scoring log-likelihoods (capped at 2 GiB, as benchbench splits such batches), which
  dominates for large vocabularies (Gemma: 262k).
- overhead: CUDA context and allocator reserve, a fixed 0.5 GiB plus 8% of the rest
  (docs/estimate.md explains the calibration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from benchbench.spec import CheckpointSpec, ModelSpec

GIB = 1024**3
BYTES = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "int8": 1.0, "int4": 0.5 * 1.03}
CONTEXT_GIB = 0.5
OVERHEAD_FRACTION = 0.08


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    dtype: str
    batch_size: int
    seq_len: int
    weights_gib: float
    kv_cache_gib: float
    activations_gib: float
    logits_gib: float
    overhead_gib: float
    total_gib: float
    warnings: tuple[str, ...] = ()


def estimate_from_shape(parameters: int, shape: dict[str, int | None], dtype: str, batch_size: int,
                        seq_len: int, logits_positions: int | None = 1) -> MemoryEstimate:
    """`logits_positions`: how many positions get logits at once: 1 for generation
    (transformers computes only the last position's), the sequence for scoring
    (perplexity, log-likelihood of choices), where benchbench computes them in chunks of
    LOGITS_CHUNK_BYTES (backends/hf/logprobs.py)."""
    size = BYTES[dtype]
    activation_bytes = 2.0 if size <= 2 else 4.0
    layers, sliding = shape.get("layers") or 0, shape.get("sliding_layers") or 0
    kept_tokens = (layers - sliding) * seq_len + sliding * min(seq_len, shape.get("sliding_window") or seq_len)
    kv = 2 * batch_size * kept_tokens * (shape.get("kv_heads") or 0) * (shape.get("head_dim") or 0) * activation_bytes
    hidden = shape.get("hidden_size") or 0
    inner = shape.get("intermediate_size") or 4 * hidden
    activations = 4 * batch_size * seq_len * (hidden + inner) * activation_bytes
    positions = seq_len if logits_positions is None else logits_positions
    logits = batch_size * positions * (shape.get("vocab_size") or 0) * 4.0
    if logits_positions is None:
        from benchbench.backends.hf.limits import LOGITS_CHUNK_BYTES

        logits = min(logits, 2 * LOGITS_CHUNK_BYTES)  # a chunk of logits and its log-softmax
    weights = _weight_bytes(parameters, shape, dtype)
    subtotal = (weights + kv + activations + logits) / GIB
    overhead = CONTEXT_GIB + OVERHEAD_FRACTION * subtotal
    limit = shape.get("max_positions")
    warnings = (f"{seq_len} tokens is beyond the model's context length ({limit}): it was not trained "
                "for such lengths (quality falls, and some models refuse); the estimate extrapolates",
                ) if limit and seq_len > limit else ()
    return MemoryEstimate(parameters, dtype, batch_size, seq_len, weights / GIB, kv / GIB, activations / GIB,
                          logits / GIB, overhead, subtotal + overhead, warnings)


def _weight_bytes(parameters: int, shape: dict[str, int | None], dtype: str) -> float:
    """Quantised models keep the input embeddings and the output layer (when it is not tied
    to them) in 16 bits: for an 8B Llama-3 that is 1B of its parameters."""
    if dtype not in ("int8", "int4"):
        return parameters * BYTES[dtype]
    embedding = (shape.get("vocab_size") or 0) * (shape.get("hidden_size") or 0)
    kept = min(parameters, embedding * (1 if shape.get("tied_embeddings", 1) else 2))
    return (parameters - kept) * BYTES[dtype] + kept * BYTES["bfloat16"]


def weights_gib(models: Sequence[ModelSpec], dtype: str) -> dict[str, float]:
    """Each model's weights in GiB, from its config (a lower bound of what it needs); a model not
    loaded here by the hf backend (a served one), or one whose config cannot be read here (a
    hub id offline), is left out."""
    from benchbench.backends.hf.loading import inspect_config

    out = {}
    for model in models:
        if not isinstance(model.settings, CheckpointSpec):
            continue
        try:
            config, _ = inspect_config(model.settings, model.name)
            parameters = count_parameters(config)
        except Exception:  # noqa: BLE001 - a model that cannot be judged here runs, and is judged by its run
            continue
        wanted = model.dtype or dtype
        stored = str(getattr(config, "torch_dtype", "") or getattr(config, "dtype", "")).replace("torch.", "")
        size = BYTES.get(wanted) or BYTES.get(stored) or BYTES["bfloat16"]  # unknown: the smallest float's size
        out[model.name] = parameters * size / GIB
    return out


def weights_over_budget(models: Sequence[ModelSpec], dtype: str, budget_gib: float) -> dict[str, str]:
    """The models whose weights alone need more than `budget_gib` (racing's up-front
    constraint): by name, the reason. Weights are a lower bound of what a model needs, so no
    model that would fit is left out."""
    return {name: f"eliminated by racing before round 1: its weights alone need {weights:.2f} GiB "
                  f"> race.max_memory_gb {budget_gib:g}"
            for name, weights in weights_gib(models, dtype).items() if weights > budget_gib}


def count_parameters(config: Any) -> int:
    """Exact parameter count by building the model on the meta device (no memory used)."""
    import torch

    from benchbench.backends.hf.auto import GENERATIVE_AUTO_CLASSES, build_with_first_auto_class

    with torch.device("meta"):
        model = build_with_first_auto_class(lambda auto: auto.from_config(config), (*GENERATIVE_AUTO_CLASSES, "AutoModel"))
    return sum(p.numel() for p in model.parameters())
