"""Shared fixtures: tiny random-weight models of each family, built offline in a temp dir.

Every model uses one small byte-level BPE tokenizer trained here on a few sentences, so
no test needs the hub. Weights are random (seeded): the tests check arithmetic and
plumbing, not quality.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# What whole test modules need, as markers, so a developer can leave them out while working:
#   python -m pytest -q -m "not (slow or server or ray or browser or real_data)"
# (docs/architecture.md, Tests). CI runs everything.
MODULE_MARKERS = {
    "test_api_models": ("server",),  # a real `transformers serve` on loopback
    "test_ray": ("ray",),  # a real Ray head
    "test_ray_authentication": ("ray",),
    "test_report_page": ("browser",),  # headless Chromium
    "test_real_data": ("real_data", "slow"),  # ../shared/data and the packaged models
    "test_concurrency": ("slow",),  # several runs and processes at once
    "test_durability": ("slow",),  # kills processes mid-write
    "test_isolation": ("slow",),  # a child process per model
    "test_resume": ("slow",),
    "test_signals": ("slow",),
    "test_allocator": ("slow",),
    "test_loading": ("slow",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in MODULE_MARKERS.get(item.module.__name__.rsplit(".", 1)[-1], ()):
            item.add_marker(getattr(pytest.mark, name))
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A good film is a joy; a bad one is a long evening.",
    "positive negative review sentiment label answer",
    "Bread needs flour, water, salt and time.",
    "The lighthouse keeper wrote the weather in his log every night.",
]


def build_tokenizer(folder: Path):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 20, vocab_size=320, min_frequency=1,
                            special_tokens=["<pad>", "<s>", "</s>", "<unk>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>",
                                        eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    return tokenizer


def _build(factory, name: str, seed: int, model_class: str, config_class: str, **config) -> Path:
    """Save a seeded random-weight model of `model_class` with the shared tokenizer."""
    import torch
    import transformers

    torch.manual_seed(seed)
    folder = factory.mktemp(name)
    build_tokenizer(folder)
    model = getattr(transformers, model_class)(getattr(transformers, config_class)(**config))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "tiny-gpt2", 0, "GPT2LMHeadModel", "GPT2Config",
                  vocab_size=320, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "tiny-llama", 1, "LlamaForCausalLM", "LlamaConfig",
                  vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)


@pytest.fixture(scope="session")
def tiny_bert_classifier(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "tiny-bert", 2, "BertForSequenceClassification", "BertConfig",
                  vocab_size=320, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=128, pad_token_id=0,
                  id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "tiny-t5", 3, "T5ForConditionalGeneration", "T5Config",
                  vocab_size=320, d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=2,
                  decoder_start_token_id=0, pad_token_id=0, eos_token_id=2)


@pytest.fixture(scope="session")
def tiny_bart(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "tiny-bart", 4, "BartForConditionalGeneration", "BartConfig",
                  vocab_size=320, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                  decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                  max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                  decoder_start_token_id=2, tie_word_embeddings=False)


@pytest.fixture(scope="session")
def tiny_bert_qa(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "tiny-bert-qa", 5, "BertForQuestionAnswering", "BertConfig",
                  vocab_size=320, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=512, pad_token_id=0)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test sets not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def sentiment_file(tmp_path) -> Path:
    import json

    rows = [("a good film, a joy", "positive"), ("a bad one, a long evening", "negative"),
            ("the quick brown fox", "positive"), ("bread needs time", "negative"),
            ("the lighthouse keeper wrote", "positive"), ("flour water salt", "negative")]
    path = tmp_path / "sentiment.jsonl"
    path.write_text("".join(json.dumps({"sentence": t, "label": l}) + "\n" for t, l in rows))
    return path


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n")
    return path
