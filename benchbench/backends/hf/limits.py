"""Limits the transformers backend applies, kept free of torch so that the memory
estimate (estimate.py) can mirror them."""

# Scoring computes logits only for the positions it scores, in chunks of at most this many
# bytes of float32 logits (logprobs.py): a 262k-vocabulary model needs 1 MiB per position.
LOGITS_CHUNK_BYTES = 256 * 1024**2
