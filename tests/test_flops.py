"""Model FLOPs utilisation: the formula, the GPU table, and why it is empty where it is."""

from __future__ import annotations

import pytest

from benchbench.measure.flops import forward_flops_per_token, peak_tflops, throughput

# SmolLM2-135M's shape: 30 layers, 576 wide, 9 heads of 64, 49,152 tokens, tied embeddings
SHAPE = {"layers": 30, "hidden_size": 576, "attention_heads": 9, "head_dim": 64, "vocab_size": 49152,
         "tied_embeddings": 1}
PARAMETERS = 134_515_008


def test_peaks_by_device_name_and_dtype():
    assert peak_tflops("NVIDIA H100 80GB HBM3", "bfloat16") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe", "bfloat16") == 756.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "float32") == 19.5
    assert peak_tflops("NVIDIA L4", "float16") == 121.0 and peak_tflops("NVIDIA L40S", "float16") == 362.0
    assert peak_tflops("Tesla T4", "bfloat16") is None  # no bf16 tensor cores
    assert peak_tflops("Some Future GPU", "bfloat16") is None and peak_tflops(None, "bfloat16") is None


def test_flops_per_token_counts_matrices_and_attention():
    # tied: the embedding matrix is also the output layer, a product, so all parameters count
    assert forward_flops_per_token(PARAMETERS, SHAPE, 0) == 2 * PARAMETERS
    assert forward_flops_per_token(PARAMETERS, SHAPE, 1000) == 2 * PARAMETERS + 2 * 30 * 1000 * 576
    untied = SHAPE | {"tied_embeddings": 0}  # the input embedding is a lookup only
    assert forward_flops_per_token(PARAMETERS, untied, 0) == 2 * (PARAMETERS - 49152 * 576)
    assert forward_flops_per_token(None, SHAPE, 10) is None
    assert forward_flops_per_token(PARAMETERS, SHAPE | {"experts": 8}, 10) is None  # active parameters unknown


def info(device: str, dtype: str = "bfloat16") -> dict:
    return {"parameters": PARAMETERS, "shape": SHAPE, "dtype": dtype, "device": device, "max_length": 2048}


def test_mfu_on_a_known_gpu():
    record = throughput(tokens=2_048_000, examples=1000, seconds=2.0, scoring=True, info=info("cuda"),
                        device_name="NVIDIA H100 80GB HBM3")
    flops = 2 * PARAMETERS + 2 * 30 * 2048 * 576
    assert record["model_flops_per_token"] == flops
    assert record["model_flops_utilisation"] == pytest.approx(flops * 2_048_000 / 2.0 / 989e12)
    assert record["mfu_note"] == ""


@pytest.mark.parametrize("device, scoring, name, why", [
    ("cpu", True, None, "not measured: the device is cpu"),
    ("cuda", False, "NVIDIA H100 80GB HBM3", "log-likelihood scoring passes only"),
    ("cuda", True, "Some Future GPU", "peak unknown for Some Future GPU at bfloat16"),
])
def test_no_mfu_says_why(device, scoring, name, why):
    record = throughput(1000, 10, 1.0, scoring, info(device), name)
    assert record["model_flops_utilisation"] is None and why in record["mfu_note"]
