"""Batched log-likelihood of continuations under a causal LM.

Shared by perplexity (rolling windows) and classification by choice (prompt + choice).
A request is (context tokens, continuation tokens); the model sees
``(context + continuation)[:-1]`` left-truncated to its max length, exactly as
lm-evaluation-harness's ``_loglikelihood_tokens`` does, and the log-probabilities of the
continuation tokens are summed in float64.

Batches are sorted longest-first and right-padded: real tokens keep their positions, so
the result does not depend on the batch size. The rows per batch are also capped so the
logits tensor (rows x length x vocabulary, float32) stays under LOGITS_BUDGET_BYTES:
a 262k-vocabulary model at 8k tokens needs 8 GiB of logits for a single row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from benchbench.models.loading import LoadedModel

LOGITS_BUDGET_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class LogLikelihood:
    total: float  # sum of log-probabilities (natural log) of the continuation tokens
    tokens: int  # number of continuation tokens scored
    greedy: bool  # whether every continuation token was the argmax


Request = tuple[Sequence[int], Sequence[int]]


def score_requests(loaded: LoadedModel, requests: list[Request], batch_size: int) -> list[LogLikelihood]:
    """Log-likelihood of each request's continuation, in the order given."""
    max_length = loaded.info.max_length
    inputs = [(list(ctx) + list(cont))[-(max_length + 1):][:-1] for ctx, cont in requests]
    order = sorted(range(len(requests)), key=lambda i: -len(inputs[i]))
    results: list[LogLikelihood | None] = [None] * len(requests)
    vocab = int(loaded.model.config.get_text_config().vocab_size)
    start = 0
    while start < len(order):
        longest = len(inputs[order[start]])
        rows = max(1, min(batch_size, LOGITS_BUDGET_BYTES // max(1, longest * vocab * 4)))
        batch = order[start:start + rows]
        for index, value in zip(batch, _score_batch(loaded, [inputs[i] for i in batch],
                                                    [list(requests[i][1]) for i in batch])):
            results[index] = value
        start += rows
    return results  # type: ignore[return-value]


@torch.inference_mode()
def _score_batch(loaded: LoadedModel, inputs: list[list[int]],
                 continuations: list[list[int]]) -> list[LogLikelihood]:
    width = max(len(x) for x in inputs)
    pad_id = loaded.tokenizer.pad_token_id or 0
    ids = torch.full((len(inputs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(inputs), width), dtype=torch.long)
    for row, tokens in enumerate(inputs):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        mask[row, :len(tokens)] = 1
    logits = loaded.model(input_ids=ids.to(loaded.device),
                          attention_mask=mask.to(loaded.device)).logits
    totals, greedy = [], []
    for row, (tokens, continuation) in enumerate(zip(inputs, continuations)):
        n = len(continuation)
        row_logits = logits[row, len(tokens) - n:len(tokens)].float()
        logprobs = torch.log_softmax(row_logits, dim=-1)
        target = torch.tensor(continuation, device=logprobs.device)
        totals.append(logprobs.gather(1, target.unsqueeze(1)).squeeze(1).double().sum())
        greedy.append((row_logits.argmax(dim=-1) == target).all())
    # one device-to-host copy per batch, not one synchronisation per row
    return [LogLikelihood(total, len(continuation), is_greedy) for total, continuation, is_greedy
            in zip(torch.stack(totals).tolist(), continuations, torch.stack(greedy).tolist())]
