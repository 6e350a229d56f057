"""Limits the transformers backend applies, kept free of torch so that the memory
estimate (estimate.py) can mirror them."""

# Rows per log-likelihood batch are capped so that the logits tensor (rows x length x
# vocabulary, float32) stays under this: a 262k-vocabulary model at 8k tokens needs 8 GiB
# of logits for a single row.
LOGITS_BUDGET_BYTES = 2 * 1024**3


def rows_within_logits_budget(batch_size: int, longest: int, vocab_size: int) -> int:
    """How many rows of `longest` tokens one forward pass may take (at least one)."""
    return max(1, min(batch_size, LOGITS_BUDGET_BYTES // max(1, longest * vocab_size * 4)))
