"""Batched log-likelihood of continuations under a causal LM.

Serves both log-likelihood capabilities: choices (a context and a continuation text,
tokenized as lm-evaluation-harness's ``_encode_pair``) and rolling windows over whole
texts (perplexity). A token request is (context tokens, continuation tokens); the model sees
``(context + continuation)[:-1]`` left-truncated to its max length, exactly as
lm-evaluation-harness's ``_loglikelihood_tokens`` does, and the log-probabilities of the
continuation tokens are summed in float64.

Batches are sorted longest-first and right-padded: real tokens keep their positions, so
the result does not depend on the batch size. The rows per batch are also capped so the
logits tensor (rows x length x vocabulary, float32) stays under LOGITS_BUDGET_BYTES:
a 262k-vocabulary model at 8k tokens needs 8 GiB of logits for a single row (limits.py).
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
from benchbench.backends.hf.limits import rows_within_logits_budget
from benchbench.backends.hf.loading import LoadedModel
from benchbench.errors import TaskConfigError

Request = tuple[Sequence[int], Sequence[int]]
Window = tuple[list[int], list[int]]


def score_requests(loaded: LoadedModel, requests: list[Request], batch_size: int) -> list[tuple[float, int]]:
    """(summed log-likelihood, tokens scored) of each request's continuation, in the order given."""
    max_length = loaded.info.max_length
    inputs = [(list(ctx) + list(cont))[-(max_length + 1):][:-1] for ctx, cont in requests]
    order = sorted(range(len(requests)), key=lambda i: -len(inputs[i]))
    results: list[tuple[float, int] | None] = [None] * len(requests)
    vocab = int(loaded.model.config.get_text_config().vocab_size)
    start = 0
    while start < len(order):
        rows = rows_within_logits_budget(batch_size, len(inputs[order[start]]), vocab)
        batch = order[start:start + rows]
        for index, value in zip(batch, _score_batch(loaded, [inputs[i] for i in batch],
                                                    [list(requests[i][1]) for i in batch])):
            results[index] = value
        start += rows
    return results  # type: ignore[return-value]


@torch.inference_mode()
def _score_batch(loaded: LoadedModel, inputs: list[list[int]],
                 continuations: list[list[int]]) -> list[tuple[float, int]]:
    width = max(len(x) for x in inputs)
    pad_id = loaded.tokenizer.pad_token_id or 0
    ids = torch.full((len(inputs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(inputs), width), dtype=torch.long)
    for row, tokens in enumerate(inputs):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        mask[row, :len(tokens)] = 1
    logits = loaded.model(input_ids=ids.to(loaded.device),
                          attention_mask=mask.to(loaded.device)).logits
    totals = []
    for row, (tokens, continuation) in enumerate(zip(inputs, continuations)):
        n = len(continuation)
        logprobs = torch.log_softmax(logits[row, len(tokens) - n:len(tokens)].float(), dim=-1)
        target = torch.tensor(continuation, device=logprobs.device)
        totals.append(logprobs.gather(1, target.unsqueeze(1)).squeeze(1).double().sum())
    # one device-to-host copy per batch, not one synchronisation per row
    return [(total, len(continuation)) for total, continuation in zip(torch.stack(totals).tolist(), continuations)]


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
    scores = iter(score_requests(loaded, requests, batch_size))
    out = []
    for index, windows in chunk:
        window_scores = [next(scores) for _ in windows]
        read = sum(min(len(ctx) + len(cont) - 1, loaded.info.max_length) for ctx, cont in windows)
        out.append((index, RollingLogLikelihood(sum(total for total, _ in window_scores),
                                                sum(tokens for _, tokens in window_scores), len(windows), read)))
    return out


def pair_loglikelihoods(loaded: LoadedModel, requests: Sequence[LoglikelihoodRequest],
                        batch_size: int) -> list[LogLikelihood]:
    """Each continuation's log-likelihood after its context, the pair encoded as lm-evaluation-harness does."""
    encoded = [encode_pair(loaded.tokenizer, r.context, r.continuation) for r in requests]
    return [LogLikelihood(total, tokens, len(ctx) + len(cont) - 1)
            for (total, tokens), (ctx, cont) in zip(score_requests(loaded, encoded, batch_size), encoded)]
