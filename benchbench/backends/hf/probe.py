"""A fixed-length generation latency probe (the optimum-benchmark method).

Quality runs generate as many tokens as each model wants, so their timings cannot be
compared across models. The probe fixes the lengths: a prompt of `prompt_tokens` tokens,
generation forced to exactly `new_tokens` tokens (min_new_tokens = max_new_tokens),
greedy. Prefill latency = a generate call with exactly 1 new token; decode latency =
the full call minus the prefill (mean over repeats); per-token latency = decode /
(new_tokens - 1). Measured at batch size 1 and at the task's batch size, after warm-up
calls that are not counted.
"""

from __future__ import annotations

from typing import Any

import torch

from benchbench.backends.hf.loading import LoadedModel
from benchbench.measure.stats import LatencyStats
from benchbench.measure.timing import Stopwatch


def _inputs(loaded: LoadedModel, seed_tokens: list[int], prompt_tokens: int, batch_size: int) -> dict[str, Any]:
    tokens = (seed_tokens * (prompt_tokens // max(1, len(seed_tokens)) + 1))[:prompt_tokens]
    ids = torch.tensor([tokens] * batch_size, device=loaded.device)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


@torch.inference_mode()
def _time_generate(loaded: LoadedModel, inputs: dict[str, Any], new_tokens: int, repeats: int,
                   warmup: int) -> list[float]:
    from transformers import GenerationConfig

    pad = loaded.tokenizer.pad_token_id
    config = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, num_beams=1,
                              pad_token_id=pad, eos_token_id=loaded.tokenizer.eos_token_id,
                              decoder_start_token_id=getattr(loaded.model.generation_config, "decoder_start_token_id", None))
    seconds = []
    for attempt in range(warmup + repeats):
        with Stopwatch(loaded.info.device) as watch:
            output = loaded.model.generate(**inputs, generation_config=config)
        produced = output.shape[1] - (inputs["input_ids"].shape[1] if loaded.info.family == "decoder-only" else 1)
        if produced != new_tokens:
            raise RuntimeError(f"latency probe: asked for exactly {new_tokens} tokens, got {produced}")
        if attempt >= warmup:
            seconds.append(watch.seconds)
    return seconds


def generation_probe(loaded: LoadedModel, seed_tokens: list[int], prompt_tokens: int, new_tokens: int,
                     batch_sizes: list[int], repeats: int = 5, warmup: int = 2) -> dict[str, Any]:
    """Prefill, decode and per-token latency at each batch size (milliseconds)."""
    if new_tokens < 2:
        raise ValueError("the latency probe needs new_tokens >= 2 to separate prefill from decode")
    out: dict[str, Any] = {"prompt_tokens": prompt_tokens, "new_tokens": new_tokens, "repeats": repeats,
                           "warmup": warmup, "method": "Stopwatch (synchronised perf_counter) around generate"}
    for batch_size in sorted(set(batch_sizes)):
        inputs = _inputs(loaded, seed_tokens, prompt_tokens, batch_size)
        prefill = LatencyStats.from_seconds(_time_generate(loaded, inputs, 1, repeats, warmup))
        total = LatencyStats.from_seconds(_time_generate(loaded, inputs, new_tokens, repeats, warmup))
        decode_ms = max(0.0, total.mean_ms - prefill.mean_ms)
        per_token_ms = decode_ms / (new_tokens - 1)
        out[f"batch_{batch_size}"] = {
            "prefill": prefill.to_dict(), "total": total.to_dict(), "decode_ms": decode_ms,
            "per_token_ms": per_token_ms,
            "decode_tokens_per_second": batch_size * 1000.0 / per_token_ms if per_token_ms > 0 else None}
    return out
