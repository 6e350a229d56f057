"""Batched, deterministic text generation with transformers, for every model family.

- decoder-only: the prompt (optionally wrapped in the tokenizer's chat template) is
  left-padded; a sequence stops once its new text holds a stop sequence (stopping.py), and
  only the newly generated tokens are decoded, then cut at the first stop sequence. Prompts longer than the window minus max_new_tokens are left-truncated.
- encoder-decoder: the rendered source goes to the encoder (truncated to the model's
  length); a forced first target token (NLLB/M2M language code) is set when asked.

Examples are sorted by token length (longest first) so batches waste little padding.
The generation config is built from the task settings alone (greedy unless num_beams or
do_sample say otherwise), so a model's own generation_config (e.g. beam search,
no_repeat_ngram_size in BART-CNN's) does not silently change the comparison; it is
recorded in the settings. Greedy and beam outputs do not depend on the batch size
(tests check it); sampling is seeded per batch, so it is reproducible for one batch size.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch
from transformers import StoppingCriteriaList

from benchbench.backends.base import Batch, Generation, GenerationSettings, finish_text
from benchbench.backends.hf.loading import LoadedModel
from benchbench.backends.hf.scoring import special_tokens_kwargs
from benchbench.backends.hf.stopping import StopSequences, tokens_until_stop
from benchbench.errors import TaskConfigError


def apply_chat_template(loaded: LoadedModel, prompt: str, system_prompt: str | None) -> str:
    tokenizer = loaded.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise TaskConfigError(f"chat_template is true but the tokenizer of {loaded.info.name!r} has none")
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
        [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, **special_tokens_kwargs(tokenizer, text))["input_ids"]


def generation_record(loaded: LoadedModel) -> dict[str, Any]:
    """What this backend decides about generation on its own, recorded with the figures."""
    return {"padding_side": "left" if loaded.info.family == "decoder-only" else "right",
            "model_generation_config_ignored": _model_generation_defaults(loaded)}


def _model_generation_defaults(loaded: LoadedModel) -> dict[str, Any]:
    config = getattr(loaded.model, "generation_config", None)
    if config is None:
        return {}
    diff = config.to_diff_dict()
    return {k: v for k, v in diff.items() if k in ("num_beams", "do_sample", "length_penalty", "min_length",
                                                    "no_repeat_ngram_size", "max_length", "early_stopping",
                                                    "temperature", "top_p", "top_k", "repetition_penalty")}


def _generation_config(loaded: LoadedModel, settings: GenerationSettings) -> Any:
    from transformers import GenerationConfig

    model_config = getattr(loaded.model, "generation_config", None)
    eos = getattr(model_config, "eos_token_id", None) or loaded.tokenizer.eos_token_id
    sampling = {k: getattr(settings, k) for k in ("temperature", "top_p", "top_k") if getattr(settings, k) is not None}
    return GenerationConfig(
        max_new_tokens=settings.max_new_tokens, min_new_tokens=settings.min_new_tokens, num_beams=settings.num_beams,
        do_sample=settings.do_sample, **(sampling if settings.do_sample else {}),
        eos_token_id=eos, pad_token_id=loaded.tokenizer.pad_token_id,
        bos_token_id=getattr(model_config, "bos_token_id", None),
        decoder_start_token_id=getattr(model_config, "decoder_start_token_id", None),
        forced_bos_token_id=settings.forced_bos_token_id)


def encode_prompts(loaded: LoadedModel, prompts: list[str], max_new_tokens: int) -> list[list[int]]:
    """Token ids of each rendered prompt as the model reads them: a decoder-only prompt
    keeps its last (context length - max_new_tokens) tokens; an encoder input is cut to
    the model's length."""
    tokenizer = loaded.tokenizer
    if loaded.info.family == "decoder-only":
        limit = max(1, loaded.info.max_length - max_new_tokens)
        return [encode_prompt(tokenizer, p)[-limit:] for p in prompts]
    return tokenizer(prompts, truncation=True, max_length=loaded.info.max_length)["input_ids"]


def generate_batches(loaded: LoadedModel, prompts: Sequence[str], settings: GenerationSettings,
                     batch_size: int) -> Iterator[Batch[Generation]]:
    """Generation for every prompt, longest first (little padding), one batch at a time."""
    encoded = encode_prompts(loaded, list(prompts), settings.max_new_tokens)  # once: for the order and the model
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        yield list(zip(batch, generate(loaded, [encoded[i] for i in batch], settings)))


@torch.inference_mode()
def generate(loaded: LoadedModel, encoded: list[list[int]], settings: GenerationSettings) -> list[Generation]:
    """Generate for one batch of encoded prompts (encode_prompts)."""
    tokenizer = loaded.tokenizer
    config = _generation_config(loaded, settings)
    if loaded.info.family == "decoder-only":
        width = max(len(e) for e in encoded)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
    else:
        batch = tokenizer.pad({"input_ids": encoded}, return_tensors="pt")
        ids, mask, width = batch["input_ids"], batch["attention_mask"], 0
    if settings.do_sample:
        torch.manual_seed(settings.seed)
    decoder_only = loaded.info.family == "decoder-only"
    # beam search keeps its own per-beam bookkeeping: stop sequences cut its text afterwards
    stopping = ([StopSequences(tokenizer, settings.stop, width if decoder_only else 1)]
                if settings.stop and settings.num_beams == 1 else [])
    output = loaded.model.generate(input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device),
                                   generation_config=config, stopping_criteria=StoppingCriteriaList(stopping))
    new_tokens = output[:, width:] if decoder_only else output[:, 1:]
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    produced = [min(until_eos, tokens_until_stop(tokenizer, row, settings.stop))
                for until_eos, row in zip(_lengths_until_eos(new_tokens, config.eos_token_id), new_tokens.tolist())]
    return [Generation(finish_text(t, settings.stop), int(n_in), n_out)
            for t, n_in, n_out in zip(texts, mask.sum(dim=1).tolist(), produced)]


def _lengths_until_eos(tokens: torch.Tensor, eos: int | list[int] | None) -> list[int]:
    """Per row, the number of generated tokens up to and including the first EOS."""
    eos_ids = torch.tensor(eos if isinstance(eos, list) else [eos] if eos is not None else [], dtype=tokens.dtype)
    is_eos = torch.isin(tokens.cpu(), eos_ids)
    first = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, torch.full((len(tokens),), tokens.shape[1]))
    return first.tolist()

