"""Limits the transformers backend applies, kept free of torch so that the memory
estimate (estimate.py) can mirror them."""

# Scoring computes logits only for the positions it scores, in chunks of at most this many
# bytes of float32 logits (logprobs.py): a 262k-vocabulary model needs 1 MiB per position.
LOGITS_CHUNK_BYTES = 256 * 1024**2

# Models whose head the hidden-state path cannot reproduce are scored from their full logits,
# with as few rows per forward pass as keeps rows x length x vocabulary x 4 bytes under this
# (a 262k-vocabulary model at 2k tokens needs 2 GiB for one row: it still gets one row).
FULL_LOGITS_BYTES = 2 * 1024**3
