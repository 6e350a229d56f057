"""Batched log-likelihood of continuations under a causal LM.

Serves both log-likelihood capabilities: choices (a context and a continuation text,
tokenized as lm-evaluation-harness's ``_encode_pair``) and rolling windows over whole
texts (perplexity). A token request is (context tokens, continuation tokens); the model sees
``(context + continuation)[:-1]`` left-truncated to its max length, exactly as
lm-evaluation-harness's ``_loglikelihood_tokens`` does, and the log-probabilities of the
continuation tokens are summed in float64.

Where it is faster than a plain forward pass per request, without changing a figure:
- requests whose model input is the same token sequence share one row: the single-token
  choices of one prompt (" negative" / " positive") cost one pass, not one per choice;
- only the scored positions get logits, in chunks (logprobs.py), never the whole
  rows x length x vocabulary tensor;
- rows are sorted longest first and batched by token budget (batching.py), right-padded:
  real tokens keep their positions, so the result does not depend on the batch size;
- one device-to-host copy per batch.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch

from benchbench.backends.base import (
    Batch,
    LogLikelihood,
    LoglikelihoodRequest,
    RollingLogLikelihood,
    RollingSettings,
)
from benchbench.backends.hf import shared_prefix
from benchbench.backends.hf.batching import right_padded, token_budget_batches
from benchbench.backends.hf.loading import LoadedModel
from benchbench.backends.hf.logprobs import TokenScorer
from benchbench.errors import TaskConfigError

# on a CPU, rows this long are batched only with rows of their own length (batching.py)
UNPADDED_ROWS_ON_CPU = 512
Request = tuple[Sequence[int], Sequence[int]]
Window = tuple[list[int], list[int]]


def token_scorer(loaded: LoadedModel) -> TokenScorer:
    """The loaded model's scorer, made on first use: how it computes log-probabilities, and
    whether it may share a context's KV cache between choices, each checked on a probe."""
    if loaded.scorer is None:
        scorer = TokenScorer(loaded.model)
        scorer.shares_prefixes = shared_prefix.reproduces_plain_scores(
            loaded, scorer, lambda requests: [s.total for s in _collect(
                _plain_batches(loaded, scorer, list(enumerate(requests)), 1), len(requests))])
        loaded.scorer = scorer
    return loaded.scorer


def score_requests(loaded: LoadedModel, requests: list[Request], batch_size: int,
                   share_prefixes: bool = True) -> list[LogLikelihood]:
    """Each request's continuation scored, in the order given."""
    return _collect(scored_batches(loaded, requests, batch_size, share_prefixes), len(requests))


def _collect(batches: Iterator[Batch[LogLikelihood]], count: int) -> list[LogLikelihood]:
    results: list[LogLikelihood | None] = [None] * count
    for batch in batches:
        for index, scored in batch:
            results[index] = scored
    return results  # type: ignore[return-value]


def scored_batches(loaded: LoadedModel, requests: list[Request], batch_size: int,
                   share_prefixes: bool = True) -> Iterator[Batch[LogLikelihood]]:
    """Each request's continuation scored, batch by batch as the model runs them, in the
    order that wastes least (longest rows first). With `share_prefixes`, multi-token choices
    after one context reuse its KV cache where the model allows it (shared_prefix.py)."""
    if not requests:
        return
    scorer = token_scorer(loaded)
    done: set[int] = set()
    if share_prefixes and scorer.shares_prefixes:
        groups = shared_prefix.prefix_groups(requests, loaded.info.max_length)
        for scored in shared_prefix.score_groups(loaded, scorer, groups, batch_size):
            done |= set(scored)
            yield [(i, LogLikelihood(total, len(requests[i][1]), read)) for i, (total, read) in scored.items()]
    left = [(i, request) for i, request in enumerate(requests) if i not in done]
    yield from _plain_batches(loaded, scorer, left, batch_size)


def _plain_batches(loaded: LoadedModel, scorer: TokenScorer, requests: Sequence[tuple[int, Request]],
                   batch_size: int) -> Iterator[Batch[LogLikelihood]]:
    """One forward row per distinct model input ``(context + continuation)[:-1]``, left-truncated
    to the model's length; rows sorted longest first and batched by token budget."""
    max_length = loaded.info.max_length
    sharing: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
    for index, (ctx, cont) in requests:
        tokens = tuple((list(ctx) + list(cont))[-(max_length + 1):][:-1])
        if len(cont) > len(tokens):
            raise TaskConfigError(f"a continuation of {len(cont)} tokens does not fit the model's "
                                  f"{max_length}-token context; shorten the choice texts")
        sharing.setdefault(tokens, []).append((index, list(cont)))
    rows = sorted(sharing, key=len, reverse=True)
    if rows and not rows[-1]:  # an empty input scores nothing: no row to run
        yield [(index, LogLikelihood(0.0, 0, 0)) for index, _ in sharing[rows.pop()]]
    unpadded_from = UNPADDED_ROWS_ON_CPU if loaded.device.type == "cpu" else None
    for span in token_budget_batches([len(r) for r in rows], batch_size, unpadded_from):
        batch = [rows[i] for i in span]
        yield _score_rows(loaded, scorer, batch, [sharing[row] for row in batch])


@torch.inference_mode()
def _score_rows(loaded: LoadedModel, scorer: TokenScorer, rows: list[tuple[int, ...]],
                members: list[list[tuple[int, list[int]]]]) -> Batch[LogLikelihood]:
    """One batch: every member request's continuation tokens at their positions, read back
    with one device-to-host copy."""
    device = loaded.device
    ids, mask = right_padded(rows, loaded.tokenizer.pad_token_id or 0, device)
    row_of: list[int] = []
    position: list[int] = []
    target: list[int] = []
    owner: list[tuple[int, int]] = []
    for row, (tokens, group) in enumerate(zip(rows, members)):
        for k, (_, continuation) in enumerate(group):
            n = len(continuation)
            row_of += [row] * n
            position += range(len(tokens) - n, len(tokens))
            target += continuation
            owner += [(row, k)] * n
    logprobs = scorer.score(ids, mask, *(torch.tensor(column, dtype=torch.long, device=device)
                                         for column in (row_of, position, target)))
    sums: dict[tuple[int, int], float] = {}
    for key, value in zip(owner, logprobs.double().cpu().tolist()):
        sums[key] = sums.get(key, 0.0) + value
    return [(index, LogLikelihood(sums.get((row, k), 0.0), len(continuation), len(tokens) if k == 0 else 0))
            for row, (tokens, group) in enumerate(zip(rows, members))
            for k, (index, continuation) in enumerate(group)]


def special_tokens_kwargs(tokenizer: Any, text: str) -> dict[str, bool]:
    """The tokenizer's default special tokens, unless the text already starts with BOS
    (chat templates write it themselves), as lm-evaluation-harness decides."""
    bos = tokenizer.bos_token
    return {"add_special_tokens": False} if bos and text.startswith(bos) else {}


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Tokens of (context, continuation) as lm-evaluation-harness's ``_encode_pair``:
    trailing spaces of the context move to the continuation, the whole string is encoded
    once and split at the context's length. Special tokens follow the tokenizer's default
    (e.g. Gemma prepends BOS), unless the text already starts with the BOS token."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    special = special_tokens_kwargs(tokenizer, context)
    whole = tokenizer(context + continuation, **special)["input_ids"]
    context_ids = tokenizer(context, **special)["input_ids"]
    if not context_ids:  # empty prompt: condition on BOS (or EOS), as lm-evaluation-harness does
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        return [prefix], whole
    return context_ids, whole[len(context_ids):]


def rolling_windows(tokens: list[int], prefix_token: int | None, max_length: int,
                    stride: int) -> list[Window]:
    """(context, continuation) pairs covering `tokens`, each token predicted once.

    Mirrors lm-evaluation-harness ``get_rolling_token_windows`` followed by
    ``make_disjoint_window``, with ``context_len = max_length - stride + 1``. With
    ``prefix_token=None`` the first token is only context (it is never predicted).
    """
    if not 1 <= stride <= max_length:
        raise ValueError(f"stride must be in [1, max_length={max_length}], got {stride}")
    seq = list(tokens) if prefix_token is None else [prefix_token, *tokens]
    predicted_total = len(seq) - 1  # seq[0] is context only
    if predicted_total <= 0:
        return []
    first = min(max_length, predicted_total)
    windows: list[Window] = [(seq[:1], seq[1:first + 1])]
    predicted = first
    while predicted < predicted_total:
        n = min(predicted_total - predicted, stride)
        end = 1 + predicted + n  # index in seq one past the last predicted token
        window_input = seq[max(0, end - 1 - max_length):end - 1]
        context = window_input[:len(window_input) - (n - 1)]
        windows.append((context, seq[end - n:end]))
        predicted += n
    return windows


def rolling_settings(loaded: LoadedModel, max_length: int | None, stride: int | None,
                     prefix: str) -> RollingSettings:
    """Windows of at most the model's context length; the prefix token from the tokenizer."""
    tokenizer, model_limit = loaded.tokenizer, loaded.info.max_length
    max_length = min(max_length or model_limit, model_limit)
    stride = stride or max_length
    if not 1 <= stride <= max_length:
        raise TaskConfigError(f"perplexity: stride {stride} must be between 1 and max_length {max_length}")
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    prefix_token = {"bos": bos, "eos": tokenizer.eos_token_id, "none": None}[prefix]
    if prefix != "none" and prefix_token is None:
        raise TaskConfigError(f"perplexity: the tokenizer has no {prefix} token; set options.prefix: none")
    return RollingSettings(max_length, stride, prefix, prefix_token,
                           None if prefix_token is None else tokenizer.convert_ids_to_tokens(prefix_token),
                           model_limit)


def rolling_batches(loaded: LoadedModel, texts: Sequence[str], settings: RollingSettings,
                    batch_size: int) -> Iterator[Batch[RollingLogLikelihood]]:
    """Texts tokenized without special tokens and cut into windows; texts are gathered
    until they hold `batch_size` windows, then scored together."""
    chunk: list[tuple[int, list[Window]]] = []
    pending_windows = 0
    for index, text in enumerate(texts):
        tokens = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
        windows = rolling_windows(tokens, settings.prefix_token_id, settings.max_length, settings.stride)
        chunk.append((index, windows))
        pending_windows += len(windows)
        if pending_windows >= batch_size:
            yield _score_texts(loaded, chunk, batch_size)
            chunk, pending_windows = [], 0
    if chunk:
        yield _score_texts(loaded, chunk, batch_size)


def _score_texts(loaded: LoadedModel, chunk: list[tuple[int, list[Window]]],
                 batch_size: int) -> Batch[RollingLogLikelihood]:
    requests = [window for _, windows in chunk for window in windows]
    scores = iter(score_requests(loaded, requests, batch_size, share_prefixes=False))
    out = []
    for index, windows in chunk:
        window_scores = [next(scores) for _ in windows]
        out.append((index, RollingLogLikelihood(sum(s.total for s in window_scores), sum(s.tokens for s in window_scores),
                                                len(windows), sum(s.tokens_read for s in window_scores))))
    return out


def pair_loglikelihoods(loaded: LoadedModel, requests: Sequence[LoglikelihoodRequest],
                        batch_size: int) -> Iterator[Batch[LogLikelihood]]:
    """Each continuation's log-likelihood after its context, the pair encoded as
    lm-evaluation-harness does; batch by batch, all requests sorted together."""
    encoded = [encode_pair(loaded.tokenizer, r.context, r.continuation) for r in requests]
    return scored_batches(loaded, encoded, batch_size)
