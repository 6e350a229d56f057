"""The transformers backend: everything in benchbench that touches transformers and torch to
run a model (loading, GGUF conversion, log-likelihood, generation, span decoding, the
latency probe). Import :class:`benchbench.backends.hf.backend.HFBackend` from its module."""
