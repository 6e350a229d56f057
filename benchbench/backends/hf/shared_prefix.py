"""Multi-token choices after one prompt: the prompt runs once, its KV cache serves every choice.

Scoring k continuations of one context the plain way runs the context k times. Here a batch
of contexts of one length runs once, its final hidden state scores each continuation's first
token, and its KV cache is copied to one row per continuation (``Cache.batch_select_indices``);
the continuations then run against it with explicit positions (context length + j),
right-padded, so no real token ever sees padding. Contexts of one length only: a padded
context would leave gaps in the cache, and models that place attention by key index (ALiBi
in MPT, GPT-Neo's local attention) would read them wrongly.

Whether a model gives the plain path's figures this way is checked once on a probe
(:func:`reproduces_plain_scores`): models without a transformers ``Cache`` (Mamba) or whose
figures differ are scored the plain way. Batches are sized by the tokens the plain path
would run (context + continuation per choice), so memory stays within what `batch_size` sized.
"""

from __future__ import annotations

import inspect
from typing import Callable, Iterator, NamedTuple, Sequence

import torch

from benchbench.backends.hf.batching import right_padded
from benchbench.backends.hf.loading import LoadedModel
from benchbench.backends.hf.logprobs import TokenScorer

_PROBE = ((5, 6, 7), [[8, 9], [10, 11, 12]])  # a context and two continuations, token ids of any vocabulary


class Group(NamedTuple):
    context: tuple[int, ...]
    members: list[tuple[int, list[int]]]  # (request index, continuation of at least 2 tokens)

    @property
    def plain_tokens(self) -> int:
        """What the plain path would run for this group: the context once per choice."""
        return sum(len(self.context) + len(c) - 1 for _, c in self.members)


def prefix_groups(requests: Sequence[tuple[Sequence[int], Sequence[int]]], max_length: int) -> list[Group]:
    """Contexts shared by at least two untruncated requests whose continuations have 2+ tokens."""
    by_context: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
    for index, (context, continuation) in enumerate(requests):
        if len(continuation) >= 2 and context and len(context) + len(continuation) - 1 <= max_length:
            by_context.setdefault(tuple(context), []).append((index, list(continuation)))
    return [Group(context, members) for context, members in by_context.items() if len(members) >= 2]


def reproduces_plain_scores(loaded: LoadedModel, scorer: TokenScorer,
                            plain: Callable[[list[tuple[Sequence[int], Sequence[int]]]], list[float]]) -> bool:
    """Whether this model scores a probe's choices the same through a shared cache as the
    plain way (`plain` scores requests one row each)."""
    if scorer.method != "hidden-states" or loaded.info.family != "decoder-only":
        return False
    context, continuations = _PROBE
    group = Group(context, list(enumerate(continuations)))
    try:
        shared = _score_batch(loaded, scorer, [group])
    except (TypeError, ValueError, AttributeError, IndexError):  # no Cache, or no position_ids
        return False
    expected = plain([(context, c) for c in continuations])
    return all(abs(shared[i][0] - e) <= 1e-4 * max(1.0, abs(e)) for i, e in enumerate(expected))


def score_groups(loaded: LoadedModel, scorer: TokenScorer, groups: list[Group],
                 batch_size: int) -> Iterator[dict[int, tuple[float, int]]]:
    """Per batch, the summed log-likelihood and tokens read of every member, by request
    index. Batches a sliding window would cut are left out: the caller scores them the plain way."""
    window = getattr(loaded.model.config.get_text_config(), "sliding_window", None)
    for batch in _batches(groups, batch_size):
        widest = len(batch[0].context) + max(len(c) for g in batch for _, c in g.members)
        if window is None or widest <= window:
            yield _score_batch(loaded, scorer, batch)


def _batches(groups: list[Group], batch_size: int) -> Iterator[list[Group]]:
    """Groups of one context length together, longest first, within the tokens the plain path
    would run for `batch_size` rows of the longest choice row."""
    groups = sorted(groups, key=lambda g: -len(g.context))
    budget = batch_size * max((len(g.context) + max(len(c) for _, c in g.members) for g in groups), default=1)
    batch: list[Group] = []
    tokens = 0  # what the plain path would run for `batch`
    for group in groups:
        if batch and (len(group.context) != len(batch[0].context) or tokens + group.plain_tokens > budget):
            yield batch
            batch, tokens = [], 0
        batch.append(group)
        tokens += group.plain_tokens
    if batch:
        yield batch


def _cache_argument(model: torch.nn.Module) -> str:
    """The name a model's forward takes its KV cache under: `cache` since transformers 5.2x, which
    warns (a FutureWarning on every run) when given the older `past_key_values`."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.inference_mode()
def _score_batch(loaded: LoadedModel, scorer: TokenScorer, groups: list[Group]) -> dict[int, tuple[float, int]]:
    device, pad = loaded.device, loaded.tokenizer.pad_token_id or 0
    length = len(groups[0].context)
    contexts = torch.tensor([list(g.context) for g in groups], device=device)
    prefix = scorer.model.base_model(input_ids=contexts, attention_mask=torch.ones_like(contexts), use_cache=True)
    owners = [g for g, group in enumerate(groups) for _ in group.members]
    owner = torch.tensor(owners, device=device)
    members = [m for group in groups for m in group.members]
    first = scorer.from_hidden(prefix.last_hidden_state[owner, length - 1],
                               torch.tensor([c[0] for _, c in members], device=device))
    cache = prefix["cache"] if "cache" in prefix else prefix["past_key_values"]
    cache.batch_select_indices(owner)
    rest, rest_mask = right_padded([c[:-1] for _, c in members], pad, device)
    positions = length + torch.arange(rest.shape[1], device=device).expand(len(members), -1)
    mask = torch.cat([torch.ones((len(members), length), dtype=rest_mask.dtype, device=device), rest_mask], 1)
    hidden = scorer.model.base_model(input_ids=rest, attention_mask=mask, position_ids=positions,
                                     **{_cache_argument(scorer.model.base_model): cache}, use_cache=True).last_hidden_state
    rows = torch.tensor([r for r, (_, c) in enumerate(members) for _ in c[1:]], device=device)
    steps = torch.tensor([j for _, c in members for j in range(len(c) - 1)], device=device)
    later = scorer.from_hidden(hidden[rows, steps], torch.tensor([t for _, c in members for t in c[1:]], device=device))
    firsts, laters = first.double().cpu().tolist(), later.double().cpu().tolist()
    out, cursor, seen = {}, 0, set()
    for r, (index, continuation) in enumerate(members):
        n = len(continuation) - 1
        context_reads = 0 if owners[r] in seen else length
        seen.add(owners[r])
        out[index] = (firsts[r] + sum(laters[cursor:cursor + n]), context_reads + n)
        cursor += n
    return out
