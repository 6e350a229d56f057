"""The fast scoring paths give the figures of the plain one: a forward pass per request with
full logits, log-softmax and gather (lm-evaluation-harness's way)."""

from __future__ import annotations

from dataclasses import astuple

import pytest
import torch
import transformers

from benchbench.backends.hf.batching import token_budget_batches
from benchbench.backends.hf.logprobs import TokenScorer
from benchbench.backends.hf.scoring import score_requests
from tests.helpers import load

SHAPE = dict(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0)
ARCHITECTURES = {
    "llama": ("LlamaForCausalLM", "LlamaConfig", SHAPE),
    "gpt2": ("GPT2LMHeadModel", "GPT2Config", dict(vocab_size=320, n_positions=64, n_embd=32, n_layer=2, n_head=2)),
    # final logit soft-capping, applied by the scorer itself
    "gemma2": ("Gemma2ForCausalLM", "Gemma2Config", SHAPE | dict(head_dim=8, final_logit_softcapping=0.01)),
    # logits scaled inside the model's head: the scorer must notice and fall back to the full logits
    "cohere": ("CohereForCausalLM", "CohereConfig", SHAPE | dict(logit_scale=3.0)),
    # sliding-window layers: their KV cache drops old tokens
    "gemma3": ("Gemma3ForCausalLM", "Gemma3TextConfig", SHAPE | dict(head_dim=8, sliding_window=64)),
    # attention placed by key index (ALiBi), a local window of its own name, no KV cache at all
    "mpt": ("MptForCausalLM", "MptConfig", dict(vocab_size=320, d_model=32, n_heads=4, n_layers=2, max_seq_len=128)),
    "gpt-neo": ("GPTNeoForCausalLM", "GPTNeoConfig",
                dict(vocab_size=320, hidden_size=32, num_layers=2, num_heads=4, window_size=4,
                     attention_types=[[["global", "local"], 1]], max_position_embeddings=128)),
    "mamba": ("MambaForCausalLM", "MambaConfig", dict(vocab_size=320, hidden_size=32, num_hidden_layers=2,
                                                      state_size=4)),
}


def tiny(architecture: str, **overrides):
    model_class, config_class, config = ARCHITECTURES[architecture]
    torch.manual_seed(0)
    return getattr(transformers, model_class)(getattr(transformers, config_class)(**(config | overrides))).eval()


def reference_logprob(model, tokens: list[int], position: int, target: int) -> float:
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0, position].float()
    return float(torch.log_softmax(logits, -1)[target])


@pytest.mark.parametrize("architecture, method", [("llama", "hidden-states"), ("gpt2", "hidden-states"),
                                                  ("gemma2", "hidden-states"), ("cohere", "full-logits")])
def test_scorer_reproduces_the_models_logits(architecture, method):
    model = tiny(architecture)
    generator = torch.Generator().manual_seed(1)
    rows = [torch.randint(3, 320, (n,), generator=generator).tolist() for n in (12, 7, 3)]
    scorer = TokenScorer(model)
    assert scorer.method == method
    ids = torch.zeros((3, 12), dtype=torch.long)
    mask = torch.zeros((3, 12), dtype=torch.long)
    for r, tokens in enumerate(rows):
        ids[r, :len(tokens)], mask[r, :len(tokens)] = torch.tensor(tokens), 1
    picks = [(0, 11, 5), (0, 3, 300), (1, 6, 17), (1, 0, 4), (2, 2, 250)]
    got = scorer.score(ids, mask, *(torch.tensor(column) for column in zip(*picks)))
    expected = [reference_logprob(model, rows[r][:p + 1], p, t) for r, p, t in picks]
    assert got.tolist() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_soft_capping_changes_the_figures():
    """The Gemma 2 case above is not vacuous: without the cap the figures differ."""
    model = tiny("gemma2")
    tokens = list(range(5, 17))
    capped = reference_logprob(model, tokens, 11, 42)
    model.config.final_logit_softcapping = None
    assert abs(reference_logprob(model, tokens, 11, 42) - capped) > 1e-3


def test_token_budget_batches():
    assert [list(r) for r in token_budget_batches([10, 10, 5, 5, 5, 2], 1)] == [[0], [1], [2, 3], [4, 5]]
    assert [list(r) for r in token_budget_batches([10, 4, 4, 4, 1], 2)] == [[0, 1], [2, 3, 4]]
    assert list(token_budget_batches([], 4)) == []
    # long rows (>= 8 here) are batched only with rows of their length; shorter ones are padded
    assert [list(r) for r in token_budget_batches([10, 10, 10, 9, 4, 3, 3], 3, unpadded_from=8)] == \
        [[0, 1, 2], [3], [4, 5, 6]]


def count_rows(model) -> list[int]:
    seen: list[int] = []
    model.base_model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["input_ids"].shape[0]),
                                               with_kwargs=True)
    return seen


def test_single_token_choices_share_one_row_and_keep_their_figures(tiny_llama):
    loaded = load(tiny_llama)
    prompts = [[5, 6, 7, 8, 9], [10, 11, 12], [13, 14, 15, 16]]
    requests = [(p, [c]) for p in prompts for c in (40, 41, 42)]  # three single-token choices each
    alone = [score_requests(loaded, [r], 1)[0] for r in requests]
    seen = count_rows(loaded.model)
    together = score_requests(loaded, requests, 8)
    assert seen == [3]  # one row per prompt, one pass for all nine requests
    assert [s.tokens for s in together] == [1] * 9
    assert [s.tokens_read for s in together] == [5, 0, 0, 3, 0, 0, 4, 0, 0]  # each prompt counted once
    assert [s.total for s in together] == pytest.approx([s.total for s in alone], rel=1e-6)
    for (prompt, (choice,)), scored in zip(requests, together):
        assert scored.total == pytest.approx(reference_logprob(loaded.model, prompt, len(prompt) - 1, choice), rel=1e-5)


def test_multi_token_continuations_at_any_batch_size(tiny_gpt2):
    loaded = load(tiny_gpt2)
    requests = [([5, 6, 7], [8, 9, 10]), ([5, 6, 7], [8, 9, 11]), ([20], [21, 22]), ([30, 31, 32, 33, 34], []),
                ([1] * 70, [40, 41])]  # the last is left-truncated to the model's 64 positions
    by_batch = {b: score_requests(loaded, requests, b) for b in (1, 2, 8)}
    sums = {b: [s.total for s in scored] for b, scored in by_batch.items()}
    assert sums[1] == pytest.approx(sums[2], rel=1e-6) and sums[1] == pytest.approx(sums[8], rel=1e-6)
    assert [s.tokens for s in by_batch[1]] == [s.tokens for s in by_batch[8]] == [3, 3, 2, 0, 2]
    assert [s.tokens_read for s in by_batch[8]] == [5, 2, 2, 4, 64]  # the shared context [5, 6, 7] is run once
    (first, n), second = (by_batch[8][0].total, by_batch[8][0].tokens), by_batch[8][1].total
    expected = sum(reference_logprob(loaded.model, [5, 6, 7, 8, 9], p, t) for p, t in ((2, 8), (3, 9), (4, 10)))
    assert n == 3 and first == pytest.approx(expected, rel=1e-5)
    assert second != pytest.approx(first)  # different last token, different figure
    assert (by_batch[8][3].total, by_batch[8][3].tokens) == (0.0, 0)  # an empty continuation scores nothing


def reference_sum(model, context: list[int], continuation: list[int]) -> float:
    tokens = context + continuation
    return sum(reference_logprob(model, tokens, len(context) - 1 + j, t) for j, t in enumerate(continuation))


@pytest.mark.parametrize("architecture, sliding_window, shares", [
    ("llama", None, True), ("gpt2", None, True), ("gemma3", 64, True), ("gemma3", 4, True), ("mpt", None, True),
    ("gpt-neo", None, True), ("mamba", None, False)])
def test_multi_token_choices_after_a_shared_prompt(architecture, sliding_window, shares, monkeypatch):
    """Contexts of several lengths, several choices each, the same figures as one plain row per
    choice. Models without a KV cache (Mamba) are found by the probe and scored the plain way;
    batches longer than a 4-token sliding window fall back to the plain path."""
    from types import SimpleNamespace

    from benchbench.backends.hf import shared_prefix
    from benchbench.backends.hf.scoring import token_scorer

    model = tiny(architecture, **({"sliding_window": sliding_window} if sliding_window else {}))
    tokenizer = SimpleNamespace(pad_token_id=0)
    info = SimpleNamespace(max_length=60, family="decoder-only")
    loaded = SimpleNamespace(model=model, tokenizer=tokenizer, info=info, device=torch.device("cpu"), scorer=None)
    assert token_scorer(loaded).shares_prefixes == shares
    contexts = [[5, 6, 7], [8, 9, 10, 11, 12], list(range(20, 29)), [30, 31, 32]]
    choices = [[40, 41], [42, 43, 44], [45, 46, 47, 48]]
    requests = [(c, k) for c in contexts for k in choices]
    used = []
    real = shared_prefix._score_batch
    monkeypatch.setattr(shared_prefix, "_score_batch", lambda *a: used.append(1) or real(*a))
    scored = score_requests(loaded, requests, 4)
    assert bool(used) == (shares and sliding_window != 4)
    expected = [reference_sum(model, c, k) for c, k in requests]
    assert [s.total for s in scored] == pytest.approx(expected, rel=1e-5)
    if used:  # each context counted once, every choice's own tokens after it
        assert sum(s.tokens_read for s in scored) == sum(map(len, contexts)) + 4 * sum(len(k) - 1 for k in choices)


def test_a_batch_of_empty_continuations_scores_zero(tiny_llama):
    assert [astuple(s) for s in score_requests(load(tiny_llama), [([5, 6], []), ([7], [])], 4)] == [(0.0, 0, 1),
                                                                                                 (0.0, 0, 0)]
    assert [astuple(s) for s in score_requests(load(tiny_llama), [([7], [])], 4)] == [(0.0, 0, 0)]  # no row at all


def test_a_continuation_longer_than_the_context_window_is_an_error(tiny_gpt2):
    from benchbench.errors import TaskConfigError

    with pytest.raises(TaskConfigError, match="a continuation of 70 tokens does not fit the model's 64-token context"):
        score_requests(load(tiny_gpt2), [([5, 6], list(range(10, 80)))], 4)


def test_full_logits_fallback_in_bfloat16_and_rows_per_pass(monkeypatch):
    """Gemma 2 in bfloat16 keeps the hidden-state path (soft-capping in the model's dtype); a
    model scored from full logits runs as few rows per pass as the logits budget allows."""
    from benchbench.backends.hf import logprobs

    gemma = tiny("gemma2", final_logit_softcapping=30.0).to(torch.bfloat16)
    with torch.no_grad():
        gemma.lm_head.weight.mul_(1000)  # realistic logit sizes (tens), where the cap matters
    assert TokenScorer(gemma).method == "hidden-states"
    cohere = tiny("cohere")
    scorer = TokenScorer(cohere)
    monkeypatch.setattr(logprobs, "FULL_LOGITS_BYTES", 2 * 12 * 320 * 4)  # two rows of 12 per pass
    seen = count_rows(cohere)
    ids = torch.randint(3, 320, (5, 12), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    picks = [(0, 11, 5), (2, 3, 7), (4, 6, 9), (4, 0, 11)]
    got = scorer.score(ids, mask, *(torch.tensor(column) for column in zip(*picks)))
    assert seen == [2, 2, 1]
    expected = [reference_logprob(cohere, ids[r, :p + 1].tolist(), p, t) for r, p, t in picks]
    assert got.tolist() == pytest.approx(expected, rel=1e-5, abs=1e-6)
