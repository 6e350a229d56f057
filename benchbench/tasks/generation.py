"""Batched, deterministic text generation for every model family.

- decoder-only: the prompt (optionally wrapped in the tokenizer's chat template) is
  left-padded; only the newly generated tokens are decoded, then cut at the first stop
  sequence. Prompts longer than the window minus max_new_tokens are left-truncated.
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

from dataclasses import dataclass
from typing import Any

import torch

from benchbench.errors import TaskConfigError
from benchbench.models.loading import LoadedModel
from benchbench.schema import key

GENERATION_OPTIONS = {
    "max_new_tokens": key(int, None, help="tokens to generate at most (default per task type)"),
    "num_beams": key(int, 1),
    "do_sample": key(bool, False),
    "temperature": key(float, None),
    "top_p": key(float, None),
    "top_k": key(int, None),
    "seed": key(int, None, help="seed for sampling (default: runtime.seed)"),
    "stop": key(list, None, help="stop sequences; output is cut at the first (default per task type)"),
    "chat_template": key(bool, False, help="decoder-only: wrap the prompt in the tokenizer's chat template"),
    "system_prompt": key(str, None, help="with chat_template: a system message"),
}


def render(template: str, row: dict[str, Any], extra: dict[str, Any]) -> str:
    try:
        return template.format(**{**extra, **row})
    except (KeyError, IndexError) as exc:
        names = ", ".join("{" + n + "}" for n in [*row, *extra])
        raise TaskConfigError(f"prompt {template!r} uses {exc}, which is not available; "
                              f"available: {names}") from None


def apply_chat_template(loaded: LoadedModel, prompt: str, system_prompt: str | None) -> str:
    tokenizer = loaded.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise TaskConfigError(f"chat_template is true but the tokenizer of {loaded.info.name!r} has none")
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
        [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def special_tokens_kwargs(tokenizer: Any, text: str) -> dict[str, bool]:
    """The tokenizer's default special tokens, unless the text already starts with BOS
    (chat templates write it themselves), as lm-evaluation-harness decides."""
    bos = tokenizer.bos_token
    return {"add_special_tokens": False} if bos and text.startswith(bos) else {}


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, **special_tokens_kwargs(tokenizer, text))["input_ids"]


def cut_at_stop(text: str, stops: list[str]) -> str:
    positions = [text.find(s) for s in stops if s and s in text]
    return text[:min(positions)] if positions else text


def generation_settings(loaded: LoadedModel, options: dict[str, Any], default_max_new_tokens: int,
                        default_stop: list[str], seed: int) -> dict[str, Any]:
    """The generation options resolved for this model (recorded with the figures)."""
    if options["num_beams"] < 1:
        raise TaskConfigError("num_beams must be at least 1")
    return {
        "max_new_tokens": options["max_new_tokens"] or default_max_new_tokens,
        "num_beams": options["num_beams"], "do_sample": options["do_sample"],
        "temperature": options["temperature"], "top_p": options["top_p"], "top_k": options["top_k"],
        "seed": options["seed"] if options["seed"] is not None else seed,
        "stop": list(options["stop"]) if options["stop"] is not None else default_stop,
        "chat_template": options["chat_template"], "system_prompt": options["system_prompt"],
        "padding_side": "left" if loaded.info.family == "decoder-only" else "right",
        "model_generation_config_ignored": _model_generation_defaults(loaded),
    }


def _model_generation_defaults(loaded: LoadedModel) -> dict[str, Any]:
    config = getattr(loaded.model, "generation_config", None)
    if config is None:
        return {}
    diff = config.to_diff_dict()
    return {k: v for k, v in diff.items() if k in ("num_beams", "do_sample", "length_penalty", "min_length",
                                                    "no_repeat_ngram_size", "max_length", "early_stopping",
                                                    "temperature", "top_p", "top_k", "repetition_penalty")}


def _generation_config(loaded: LoadedModel, settings: dict[str, Any], forced_bos: int | None) -> Any:
    from transformers import GenerationConfig

    model_config = getattr(loaded.model, "generation_config", None)
    eos = getattr(model_config, "eos_token_id", None) or loaded.tokenizer.eos_token_id
    sampling = {k: settings[k] for k in ("temperature", "top_p", "top_k") if settings[k] is not None}
    return GenerationConfig(
        max_new_tokens=settings["max_new_tokens"], num_beams=settings["num_beams"],
        do_sample=settings["do_sample"], **(sampling if settings["do_sample"] else {}),
        eos_token_id=eos, pad_token_id=loaded.tokenizer.pad_token_id,
        bos_token_id=getattr(model_config, "bos_token_id", None),
        decoder_start_token_id=getattr(model_config, "decoder_start_token_id", None),
        forced_bos_token_id=forced_bos)


@dataclass(frozen=True)
class Generated:
    text: str  # decoded new text, cut at the first stop sequence
    prompt_tokens: int  # tokens the model read (after truncation)
    generated_tokens: int  # tokens the model produced, up to and including EOS


def encode_prompts(loaded: LoadedModel, prompts: list[str], max_new_tokens: int) -> list[list[int]]:
    """Token ids of each rendered prompt as the model reads them: a decoder-only prompt
    keeps its last (context length - max_new_tokens) tokens; an encoder input is cut to
    the model's length."""
    tokenizer = loaded.tokenizer
    if loaded.info.family == "decoder-only":
        limit = max(1, loaded.info.max_length - max_new_tokens)
        return [encode_prompt(tokenizer, p)[-limit:] for p in prompts]
    return tokenizer(prompts, truncation=True, max_length=loaded.info.max_length)["input_ids"]


@torch.inference_mode()
def generate(loaded: LoadedModel, encoded: list[list[int]], settings: dict[str, Any],
             forced_bos: int | None = None) -> list[Generated]:
    """Generate for one batch of encoded prompts (encode_prompts)."""
    tokenizer = loaded.tokenizer
    config = _generation_config(loaded, settings, forced_bos)
    if loaded.info.family == "decoder-only":
        width = max(len(e) for e in encoded)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
    else:
        batch = tokenizer.pad({"input_ids": encoded}, return_tensors="pt")
        ids, mask, width = batch["input_ids"], batch["attention_mask"], 0
    if settings["do_sample"]:
        torch.manual_seed(settings["seed"])
    output = loaded.model.generate(input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device),
                                   generation_config=config)
    new_tokens = output[:, width:] if loaded.info.family == "decoder-only" else output[:, 1:]
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    produced = _lengths_until_eos(new_tokens, config.eos_token_id)
    # Leading whitespace is dropped before the stop sequences apply: a model that starts its
    # answer with a newline would otherwise be cut to nothing by a "\n" stop.
    return [Generated(cut_at_stop(t.lstrip(), settings["stop"]).strip(), int(n_in), n_out)
            for t, n_in, n_out in zip(texts, mask.sum(dim=1).tolist(), produced)]


def _lengths_until_eos(tokens: torch.Tensor, eos: int | list[int] | None) -> list[int]:
    """Per row, the number of generated tokens up to and including the first EOS."""
    eos_ids = torch.tensor(eos if isinstance(eos, list) else [eos] if eos is not None else [], dtype=tokens.dtype)
    is_eos = torch.isin(tokens.cpu(), eos_ids)
    first = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, torch.full((len(tokens),), tokens.shape[1]))
    return first.tolist()

