"""What a served model's task cost, from the token counts the server reported and the
price the suite gives (per million prompt and generated tokens, in the price's currency)."""

from __future__ import annotations

from typing import Any

PER_MILLION = 1_000_000


def task_cost(price: dict[str, float] | None, prompt_tokens: int | None, generated_tokens: int | None,
              examples: int) -> dict[str, Any] | None:
    """Total cost, per example, per 1,000 examples and per million tokens (prompt and generated
    together); None without a price. A server that reported no token counts gives no cost
    (with the reason) rather than a guess."""
    if not price:
        return None
    if prompt_tokens is None or generated_tokens is None:
        return {"note": "the server reported no token counts (usage), so no cost could be computed",
                "price_per_million_tokens": price}
    total = (prompt_tokens * price["input"] + generated_tokens * price["output"]) / PER_MILLION
    tokens = prompt_tokens + generated_tokens
    return {"total": total, "per_example": total / examples if examples else None,
            "per_1k_examples": 1000 * total / examples if examples else None,
            "per_million_tokens": PER_MILLION * total / tokens if tokens else None,
            "price_per_million_tokens": price}
