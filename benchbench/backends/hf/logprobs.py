"""Log-probabilities of chosen tokens at chosen positions, without the full logits tensor.

A causal LM's forward pass returns logits for every position: rows x length x vocabulary.
Scoring needs far fewer: the last position of a prompt for single-token choices, the
continuation's positions otherwise. So the model body is run alone (``model.base_model``),
the hidden states of the scored positions are gathered, and the output layer, the final
logit soft-capping (Gemma 2), log-softmax in float32 and the gather of the target token are
applied in chunks of at most LOGITS_CHUNK_BYTES of logits.

This reproduces the model's own head only where the model's head is that simple; models
that scale or transform their logits in other ways exist (Cohere's logit_scale, Granite's
logits_scaling, ...). So the first use compares both ways on a short probe; a model whose
logits the hidden-state path does not reproduce is scored from its full logits, a few rows
per pass so that they stay under FULL_LOGITS_BYTES, and the choice is recorded with the
task's settings (``TokenScorer.method``, through ``describe_scoring``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from benchbench.backends.hf.limits import FULL_LOGITS_BYTES, LOGITS_CHUNK_BYTES

_PROBE = list(range(5, 13))  # eight token ids that every vocabulary has


class TokenScorer:
    """Log-probabilities of (row, position, target) triples of a batch of token rows."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.head = model.get_output_embeddings()
        text_config = model.config.get_text_config()
        self.softcap = getattr(text_config, "final_logit_softcapping", None)
        self.vocab_size = int(text_config.vocab_size)
        self.method = "hidden-states" if self._reproduces_logits() else "full-logits"
        self.shares_prefixes = False  # set by scoring.token_scorer after its own probe (shared_prefix.py)

    @torch.inference_mode()
    def _reproduces_logits(self) -> bool:
        if self.head is None or self.model.base_model is self.model:
            return False
        ids = torch.tensor([_PROBE], device=self.model.device)
        mask = torch.ones_like(ids)
        try:
            expected = self.model(input_ids=ids, attention_mask=mask).logits[0].float()
            ours = self._logits(self._hidden(ids, mask)[0])
        except torch.cuda.OutOfMemoryError:
            raise
        except (TypeError, ValueError, AttributeError, RuntimeError):
            return False
        return ours.shape == expected.shape and torch.allclose(ours, expected, rtol=1e-4, atol=1e-4)

    def _hidden(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The output layer and soft-capping in the model's dtype, as its forward does them."""
        logits = self.head(hidden)
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits.float()

    @torch.inference_mode()
    def score(self, ids: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor, positions: torch.Tensor,
              targets: torch.Tensor) -> torch.Tensor:
        """log P(targets[i] | ids[rows[i], :positions[i] + 1]) for every i, float32, on the device."""
        if self.method == "hidden-states":
            return self.from_hidden(self._hidden(ids, mask)[rows, positions], targets)
        # full logits: a few rows per pass, so rows x length x vocabulary stays under FULL_LOGITS_BYTES
        per_pass = max(1, FULL_LOGITS_BYTES // (ids.shape[1] * self.vocab_size * 4))
        out = torch.zeros(len(targets), device=targets.device)
        for first in range(0, ids.shape[0], per_pass):
            logits = self.model(input_ids=ids[first:first + per_pass], attention_mask=mask[first:first + per_pass]).logits
            mine = (rows >= first) & (rows < first + per_pass)
            local_rows, local_positions = rows[mine] - first, positions[mine]
            out[mine] = self._chunked(lambda i, j: logits[local_rows[i:j], local_positions[i:j]].float(), targets[mine])
        return out

    def from_hidden(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log P(targets[i]) from the final hidden state before each (positions x hidden size)."""
        return self._chunked(lambda i, j: self._logits(hidden[i:j]), targets)

    def _chunked(self, logits_of: Callable[[int, int], torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        """Log-softmax and gather over positions [i, j) at a time, at most LOGITS_CHUNK_BYTES of logits."""
        chunk = max(1, LOGITS_CHUNK_BYTES // (self.vocab_size * 4))
        parts = [_gather(logits_of(i, i + chunk), targets[i:i + chunk]) for i in range(0, len(targets), chunk)]
        return torch.cat(parts) if parts else torch.zeros(0, device=targets.device)


def _gather(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1)
