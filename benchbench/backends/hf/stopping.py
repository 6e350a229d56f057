"""Stop sequences applied while generating, not only to the text afterwards.

A sequence that reached a stop sequence stops there (transformers pads it while the rest of
its batch goes on, and the batch ends once every sequence has stopped), so its latency and
generated-token count are those of the answer, not of max_new_tokens. The rule is the one
the text is cut with afterwards (base.cut_at_stop after dropping leading whitespace), so
outputs do not change. One exception, shared with lm-evaluation-harness: a stop sequence
that would begin earlier but end later than another one is not waited for.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from transformers import StoppingCriteria


def _has_stop(tokenizer: Any, tokens: Sequence[int], stops: list[str]) -> bool:
    text = tokenizer.decode(tokens, skip_special_tokens=True).lstrip()
    return any(stop in text for stop in stops)


class StopSequences(StoppingCriteria):
    """Ends each row whose new text (leading whitespace dropped) contains a stop sequence."""

    def __init__(self, tokenizer: Any, stops: list[str], prompt_width: int) -> None:
        self.tokenizer, self.stops, self.prompt_width = tokenizer, [s for s in stops if s], prompt_width
        self.done: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        new = input_ids[:, self.prompt_width:].tolist()
        for row, tokens in enumerate(new):
            if row not in self.done and _has_stop(self.tokenizer, tokens, self.stops):
                self.done.add(row)
        return torch.tensor([row in self.done for row in range(len(new))], device=input_ids.device)


def tokens_until_stop(tokenizer: Any, tokens: Sequence[int], stops: list[str]) -> int:
    """How many of `tokens` were generated up to and including the one that completed a stop
    sequence (all of them when none did): the shortest prefix whose text holds a stop."""
    stops = [s for s in stops if s]
    if not stops or not _has_stop(tokenizer, tokens, stops):
        return len(tokens)
    low, high = 1, len(tokens)  # a prefix of `high` tokens holds a stop; find the shortest
    while low < high:
        middle = (low + high) // 2
        if _has_stop(tokenizer, tokens[:middle], stops):
            high = middle
        else:
            low = middle + 1
    return high
