"""Texts through a sequence-classification head: argmax class, its probability, tokens read."""

from __future__ import annotations

from typing import Sequence

import torch

from benchbench.backends.base import ClassifyRequest, ClassPrediction
from benchbench.backends.hf.loading import LoadedModel


@torch.inference_mode()
def classify_batch(loaded: LoadedModel, requests: Sequence[ClassifyRequest],
                   max_length: int | None) -> list[ClassPrediction]:
    """One right-padded batch; pairs are encoded as pairs only when every request has one."""
    tokenizer, model = loaded.tokenizer, loaded.model
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    pairs = [r.text_pair for r in requests]
    encoded = tokenizer([r.text for r in requests], pairs if all(p is not None for p in pairs) else None,
                        padding=True, truncation=True, max_length=max_length or loaded.info.max_length,
                        return_tensors="pt").to(loaded.device)
    logits = model(**encoded).logits.float()
    probabilities = torch.softmax(logits, dim=-1)
    lengths = encoded["attention_mask"].sum(dim=1).tolist()
    return [ClassPrediction(class_id, float(probs[class_id]), int(n))
            for class_id, probs, n in zip(logits.argmax(dim=-1).tolist(), probabilities, lengths)]
