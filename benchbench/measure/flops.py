"""Throughput against the hardware: model FLOPs utilisation (MFU) of scoring passes.

MFU = (model FLOPs per token x tokens read) / seconds / the GPU's peak for the dtype.

Model FLOPs per token of a forward pass (Kaplan et al. 2020, "Scaling laws", table 1;
the convention of PaLM's MFU, Chowdhery et al. 2022, appendix B):
    2 x (parameters used in matrix products)  +  2 x layers x context x attention width
The first term counts every weight matrix once per token: the input embedding is a lookup,
not a product, so it is left out unless it is tied to the output layer. The second is the
attention scores and their weighted sum (2 x 2 x position x width per layer, averaged over
a row of `context` tokens). These are the FLOPs the model defines; where benchbench skips
some (logits only at scored positions) the saving counts in its favour, as MFU intends.

Approximations, stated with each figure: the row length is the mean tokens read per example,
capped at the model's window (exact when an example is one row, as a prompt whose choices
are single tokens; high when an example spans several rows). Every parameter counts, so a
multimodal checkpoint's vision tower is included; mixture-of-experts models, whose active
parameters per token the config alone does not give reliably, get no MFU.

Peaks are dense (no structured sparsity) tensor-core figures from NVIDIA's datasheets, for
the dtype the weights are in; float32 is the plain FP32 rate (PyTorch does not use TF32 for
float32 matrix products unless told to). Unknown GPUs, and CPUs, get no MFU, with the reason.
"""

from __future__ import annotations

import re
from typing import Any

# (device-name pattern, {dtype: dense peak TFLOPS}); first match wins, so specific names first
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    (r"H100.*PCIe", {"bfloat16": 756.0, "float16": 756.0, "float32": 51.0}),
    (r"H100.*NVL", {"bfloat16": 835.0, "float16": 835.0, "float32": 60.0}),
    (r"H100|H200|GH200", {"bfloat16": 989.0, "float16": 989.0, "float32": 67.0}),
    (r"A100", {"bfloat16": 312.0, "float16": 312.0, "float32": 19.5}),
    (r"L40S", {"bfloat16": 362.0, "float16": 362.0, "float32": 91.6}),
    (r"\bL4\b", {"bfloat16": 121.0, "float16": 121.0, "float32": 30.3}),
    (r"RTX 4090", {"bfloat16": 165.2, "float16": 165.2, "float32": 82.6}),
    (r"V100", {"float16": 125.0, "float32": 15.7}),
    (r"\bT4\b", {"float16": 65.0, "float32": 8.1}),
)


def peak_tflops(device_name: str | None, dtype: str | None) -> float | None:
    """The dense peak of `device_name` at `dtype`, or None when the table does not know it."""
    if not device_name or not dtype:
        return None
    for pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, device_name):
            return peaks.get(dtype.removeprefix("torch."))
    return None


def forward_flops_per_token(parameters: int | None, shape: dict[str, Any], context: float) -> float | None:
    """Model FLOPs of one token's forward pass at an average row length of `context` tokens."""
    layers, hidden, vocab = shape.get("layers"), shape.get("hidden_size"), shape.get("vocab_size")
    if not parameters or not layers or not hidden or (shape.get("experts") or 1) > 1:
        return None
    lookup_only = 0 if shape.get("tied_embeddings", 1) else (vocab or 0) * hidden
    width = (shape.get("attention_heads") or 0) * (shape.get("head_dim") or 0) or hidden
    return 2.0 * (parameters - lookup_only) + 2.0 * layers * context * width


def throughput(tokens: int | None, examples: int, seconds: float, scoring: bool, info: dict[str, Any],
               device_name: str | None) -> dict[str, Any]:
    """Tokens per second and, for scoring passes on a known GPU, MFU (with why not otherwise)."""
    record: dict[str, Any] = {"device_name": device_name, "model_flops_per_token": None, "peak_tflops": None,
                              "model_flops_utilisation": None, "mfu_note": ""}
    if not tokens or seconds <= 0:
        return record | {"mfu_note": "no tokens counted"}
    if not scoring:
        return record | {"mfu_note": "computed for log-likelihood scoring passes only"}
    context = min(tokens / max(1, examples), info.get("max_length") or float("inf"))
    flops = forward_flops_per_token(info.get("parameters"), info.get("shape") or {}, context)
    peak = peak_tflops(device_name, info.get("dtype"))
    record |= {"model_flops_per_token": flops, "peak_tflops": peak}
    if info.get("device") != "cuda":
        return record | {"mfu_note": f"not measured: the device is {info.get('device')}"}
    if flops is None or peak is None:
        return record | {"mfu_note": f"peak unknown for {device_name} at {info.get('dtype')}"
                         if peak is None else "model shape unknown, or a mixture of experts"}
    return record | {"model_flops_utilisation": flops * tokens / seconds / (peak * 1e12)}
