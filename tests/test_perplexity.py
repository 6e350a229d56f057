"""Perplexity: window boundaries, and the arithmetic against a per-token hand computation."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import backend

from benchbench.backends.hf.scoring import rolling_windows
from benchbench.metrics.perplexity import corpus_perplexity, count_words
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.base import Scoring

TOKENS = list(range(10, 20))  # ten tokens: 10 .. 19


def test_disjoint_windows_match_hand_written_boundaries():
    # max_length 4: first window after the prefix, then one full window (context: the
    # previous token), then a final partial window that keeps a full-length input.
    assert rolling_windows(TOKENS, 1, 4, 4) == [
        ([1], [10, 11, 12, 13]),
        ([13], [14, 15, 16, 17]),
        ([15, 16, 17], [18, 19]),
    ]


def test_overlapping_stride_windows():
    assert rolling_windows(TOKENS, 1, 4, 2) == [
        ([1], [10, 11, 12, 13]),
        ([11, 12, 13], [14, 15]),
        ([13, 14, 15], [16, 17]),
        ([15, 16, 17], [18, 19]),
    ]


def test_no_prefix_leaves_first_token_unpredicted():
    assert rolling_windows(TOKENS, None, 4, 4) == [
        ([10], [11, 12, 13, 14]),
        ([14], [15, 16, 17, 18]),
        ([15, 16, 17, 18], [19]),
    ]


@pytest.mark.parametrize("n,max_length,stride", [(1, 4, 4), (4, 4, 4), (5, 4, 4), (37, 8, 8), (37, 8, 3), (9, 9, 1)])
def test_every_token_predicted_once_and_inputs_fit(n, max_length, stride):
    tokens = list(range(100, 100 + n))
    windows = rolling_windows(tokens, 1, max_length, stride)
    assert [t for _, cont in windows for t in cont] == tokens
    for context, continuation in windows:
        assert len(context) + len(continuation) - 1 <= max_length


def test_windows_equal_lm_evaluation_harness():
    lm_utils = pytest.importorskip("lm_eval.utils")
    for n in (1, 3, 8, 9, 17, 40):
        for max_length in (4, 8):
            tokens = list(range(50, 50 + n))
            theirs = [lm_utils.make_disjoint_window(w) for w in lm_utils.get_rolling_token_windows(
                token_list=tokens, prefix_token=7, max_seq_len=max_length, context_len=1)]
            assert rolling_windows(tokens, 7, max_length, max_length) == [tuple(w) for w in theirs]


def test_corpus_figures_from_totals():
    figures = corpus_perplexity(loglikelihood=-20.0, tokens=10, words=5, nbytes=40)
    assert figures["token_perplexity"] == pytest.approx(math.exp(2.0))
    assert figures["word_perplexity"] == pytest.approx(math.exp(4.0))
    assert figures["byte_perplexity"] == pytest.approx(math.exp(0.5))
    assert figures["bits_per_byte"] == pytest.approx(0.5 / math.log(2))
    assert count_words("a  b\tc\nd") == 4


def _hand_loglikelihood(model, tokens: list[int], prefix: int, max_length: int) -> float:
    """Score every token by its own forward pass over exactly the context the rolling
    method gives it (derived here from the window rule, not from rolling_windows)."""
    total, n = 0.0, len(tokens)
    for i, token in enumerate(tokens):
        if i < max_length:
            context = [prefix] + tokens[:i]
        else:
            start = (i // max_length) * max_length  # window [start, end)
            end = min(start + max_length, n)
            first_input = start - 1 if end - start == max_length else end - max_length - 1
            context = tokens[first_input:i]
        with torch.no_grad():
            logits = model(torch.tensor([context])).logits[0, -1].double()
        total += float(torch.log_softmax(logits, -1)[token])
    return total


def test_task_matches_hand_computation(tiny_gpt2):
    loaded = backend(tiny_gpt2)
    task = TASK_TYPES["perplexity"]
    text = "The lighthouse keeper wrote the weather in his log every night, and bread needs time."
    options = {"max_length": 8, "stride": None, "prefix": "bos", "join": None}
    settings = task.settings(loaded, options, (), [{"text": text}])
    results = [r for batch in task.predict(loaded, [{"text": text}], settings, 3) for r in batch]
    tokenizer = loaded.loaded.tokenizer
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(tokens) > 16 and len(tokens) % 8 != 0  # full windows and a partial last one
    expected = _hand_loglikelihood(loaded.loaded.model, tokens, tokenizer.bos_token_id, 8)
    assert results[0].details["tokens"] == len(tokens)
    assert results[0].details["loglikelihood"] == pytest.approx(expected, rel=1e-5)
    figures = task.score(results, settings, Scoring()).scores
    assert figures["token_perplexity"] == pytest.approx(math.exp(-expected / len(tokens)), rel=1e-5)
    assert figures["bits_per_byte"] == pytest.approx(-expected / len(text.encode()) / math.log(2), rel=1e-5)
    assert figures["word_perplexity"] == pytest.approx(math.exp(-expected / len(text.split())), rel=1e-5)


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_batch_size_does_not_change_perplexity(fixture, request, corpus_file):
    loaded = backend(request.getfixturevalue(fixture))
    task = TASK_TYPES["perplexity"]
    rows = [{"text": line} for line in corpus_file.read_text().splitlines()]
    settings = task.settings(loaded, {"max_length": 16, "stride": None, "prefix": "bos", "join": None}, (), rows)
    scores = {}
    for batch_size in (1, 16):
        results = sorted((r for b in task.predict(loaded, rows, settings, batch_size) for r in b),
                         key=lambda r: r.index)
        scores[batch_size] = [r.details["loglikelihood"] for r in results]
    assert scores[1] == pytest.approx(scores[16], rel=1e-5)


def test_joined_documents_and_encoder_rejected(tiny_gpt2, tiny_bert_classifier):
    from benchbench.errors import TaskConfigError

    loaded = backend(tiny_gpt2)
    task = TASK_TYPES["perplexity"]
    settings = task.settings(loaded, {"max_length": None, "stride": None, "prefix": "eos", "join": "\n"},
                             (), [])
    assert settings["max_length"] == 64 and settings["documents"] == "joined"
    results = [r for b in task.predict(loaded, [{"text": "a b"}, {"text": "c"}], settings, 4) for r in b]
    assert len(results) == 1 and results[0].input == "a b\nc"
    with pytest.raises(TaskConfigError, match="decoder-only"):
        task.need({}, backend(tiny_bert_classifier, "sequence-classification").profile)
