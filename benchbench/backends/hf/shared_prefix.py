"""Multi-token choices after one prompt: the prompt runs once, its KV cache serves every choice.

Scoring k continuations of one context the plain way runs the context k times. Here a batch
of contexts runs once (right-padded, so real tokens keep their positions), its final hidden
state scores each continuation's first token, and its KV cache is copied to one row per
continuation (``Cache.batch_select_indices``); the continuations then run against it with
explicit positions (context length + j) and an attention mask that hides the contexts'
padding. The figures are those of the plain path to float rounding (tests compare).

Used only where it is exact by construction: the hidden-state scorer (logprobs.py), no
truncation (context + continuation fits the model's length), and no sliding-window layer
shorter than a batch's rows (such a cache drops old tokens, padding included).
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import torch

from benchbench.backends.hf.batching import right_padded, token_budget_batches
from benchbench.backends.hf.loading import LoadedModel
from benchbench.backends.hf.logprobs import TokenScorer


class Group(NamedTuple):
    context: tuple[int, ...]
    members: list[tuple[int, list[int]]]  # (request index, continuation of at least 2 tokens)


def prefix_groups(requests: Sequence[tuple[Sequence[int], Sequence[int]]], max_length: int) -> list[Group]:
    """Contexts shared by at least two untruncated requests whose continuations have 2+ tokens."""
    by_context: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
    for index, (context, continuation) in enumerate(requests):
        if len(continuation) >= 2 and context and len(context) + len(continuation) - 1 <= max_length:
            by_context.setdefault(tuple(context), []).append((index, list(continuation)))
    return [Group(context, members) for context, members in by_context.items() if len(members) >= 2]


def usable(scorer: TokenScorer, loaded: LoadedModel) -> bool:
    return scorer.method == "hidden-states" and loaded.info.family == "decoder-only"


def score_groups(loaded: LoadedModel, scorer: TokenScorer, groups: list[Group],
                 batch_size: int) -> Iterator[dict[int, tuple[float, int]]]:
    """Per batch, the summed log-likelihood and tokens read of every member, by request
    index. Batches a sliding window would cut are left out: the caller scores them the plain way."""
    groups = sorted(groups, key=lambda g: -len(g.context))
    window = getattr(loaded.model.config.get_text_config(), "sliding_window", None)
    for span in token_budget_batches([len(g.context) for g in groups], batch_size):
        batch = [groups[i] for i in span]
        widest = len(batch[0].context) + max(len(c) for g in batch for _, c in g.members)
        if window is None or widest <= window:
            yield _score_batch(loaded, scorer, batch)


@torch.inference_mode()
def _score_batch(loaded: LoadedModel, scorer: TokenScorer, groups: list[Group]) -> dict[int, tuple[float, int]]:
    device, pad = loaded.device, loaded.tokenizer.pad_token_id or 0
    lengths = torch.tensor([len(g.context) for g in groups], device=device)
    contexts, context_mask = right_padded([list(g.context) for g in groups], pad, device)
    prefix = scorer.model.base_model(input_ids=contexts, attention_mask=context_mask, use_cache=True)
    owner = torch.tensor([g for g, group in enumerate(groups) for _ in group.members], device=device)
    members = [m for group in groups for m in group.members]
    first = scorer.from_hidden(prefix.last_hidden_state[owner, lengths[owner] - 1],
                               torch.tensor([c[0] for _, c in members], device=device))
    cache = prefix.past_key_values
    cache.batch_select_indices(owner)
    rest, rest_mask = right_padded([c[:-1] for _, c in members], pad, device)
    positions = lengths[owner].unsqueeze(1) + torch.arange(rest.shape[1], device=device)
    hidden = scorer.model.base_model(input_ids=rest, attention_mask=torch.cat([context_mask[owner], rest_mask], 1),
                                     position_ids=positions, past_key_values=cache, use_cache=True).last_hidden_state
    rows = torch.tensor([r for r, (_, c) in enumerate(members) for _ in c[1:]], device=device)
    steps = torch.tensor([j for _, c in members for j in range(len(c) - 1)], device=device)
    later = scorer.from_hidden(hidden[rows, steps], torch.tensor([t for _, c in members for t in c[1:]], device=device))
    values = first.double().cpu().tolist(), later.double().cpu().tolist()
    out, cursor, seen = {}, 0, set()
    for r, (index, continuation) in enumerate(members):
        n = len(continuation) - 1
        context_reads = 0 if int(owner[r]) in seen else len(groups[int(owner[r])].context)
        seen.add(int(owner[r]))
        out[index] = (values[0][r] + sum(values[1][cursor:cursor + n]), context_reads + n)
        cursor += n
    return out
