"""Signs that a model's outputs are degenerate, and what a trivial answer scores: a reader of
a ranking should know when a classifier answers one label to everything, when half the
outputs are empty or copy the prompt, and when an accuracy is no better than always answering
the most common label."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

FLAG_SHARE = 0.2  # empty or copied outputs are flagged from this share of the examples on
FEW_FOR_ONE_LABEL = 5  # one label for every example is flagged from this many examples on
COPY_WORDS = 5  # an output of at least this many words found verbatim in its input is a copy


def majority_share(references: Sequence[Any]) -> float | None:
    """The accuracy of always answering the most common reference label."""
    if not references:
        return None
    return Counter(str(r) for r in references).most_common(1)[0][1] / len(references)


def one_label(predictions: Sequence[Any]) -> list[str]:
    """A classifier that gave the same label to every example."""
    labels = {str(p) for p in predictions}
    if len(predictions) >= FEW_FOR_ONE_LABEL and len(labels) == 1:
        return [f"answered {labels.pop()!r} for every one of the {len(predictions)} examples"]
    return []


def _words(text: str) -> str:
    return " ".join(str(text).lower().split())


def degenerate_text(predictions: Sequence[Any], inputs: Sequence[str], copies_count: bool = True) -> list[str]:
    """Generated outputs that are empty, or (`copies_count`) copied from their input, in at
    least FLAG_SHARE of the examples."""
    n = len(predictions)
    if not n:
        return []
    flags = []
    empty = sum(1 for p in predictions if not str(p).strip())
    if empty / n >= FLAG_SHARE:
        flags.append(f"{empty} of {n} outputs are empty")
    if copies_count:
        copied = sum(1 for p, i in zip(predictions, inputs)
                     if len(_words(p).split()) >= COPY_WORDS and _words(p) in _words(i))
        if copied / n >= FLAG_SHARE:
            flags.append(f"{copied} of {n} outputs copy a passage of their input")
    return flags
