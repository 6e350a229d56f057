"""The options every generating task shares, and their resolution into recorded settings.

Greedy unless num_beams or do_sample say otherwise; the same settings for every model, so
a checkpoint's own generation defaults do not silently change the comparison (the
backend records which of them it overrides).
"""

from __future__ import annotations

from typing import Any

from benchbench.backends.base import Generation, GenerationSettings, ModelBackend, from_record
from benchbench.backends.capabilities import Generator, require
from benchbench.errors import TaskConfigError
from benchbench.schema import key
from benchbench.spec import DEFAULT_SEED
from benchbench.tasks.prompts import chat_wrapping

GENERATION_OPTIONS = {
    "max_new_tokens": key(int, None, bounds="[1, inf)", help="tokens to generate at most (default per task type)"),
    "min_new_tokens": key(int, None, bounds="[1, inf)",
                          help="tokens to generate at least (EOS is held back until then); with "
                               "min_new_tokens = max_new_tokens and stop: [] every output has the same length"),
    "num_beams": key(int, 1, bounds="[1, inf)"),
    "do_sample": key(bool, False),
    "temperature": key(float, None, bounds="(0, inf)", help="with do_sample"),
    "top_p": key(float, None, bounds="(0, 1]", help="with do_sample"),
    "top_k": key(int, None, bounds="[1, inf)", help="with do_sample"),
    "seed": key(int, None, bounds="[0, inf)", help="seed for sampling (default: runtime.seed)"),
    "stop": key(list, None, help="stop sequences; output is cut at the first (default per task type)"),
    "chat_template": key(bool, False, help="decoder-only: wrap the prompt in the tokenizer's chat template"),
    "system_prompt": key(str, None, help="with chat_template: a system message"),
}


def generation_settings(backend: ModelBackend, options: dict[str, Any], default_max_new_tokens: int,
                        default_stop: list[str]) -> dict[str, Any]:
    """The generation options resolved for this model (recorded with the figures)."""
    max_new_tokens = options["max_new_tokens"] or default_max_new_tokens
    if (options["min_new_tokens"] or 0) > max_new_tokens:
        raise TaskConfigError(f"min_new_tokens ({options['min_new_tokens']}) is above max_new_tokens "
                              f"({max_new_tokens}): lower it, or raise max_new_tokens")
    return {
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": options["min_new_tokens"],
        "num_beams": options["num_beams"], "do_sample": options["do_sample"],
        "temperature": options["temperature"], "top_p": options["top_p"], "top_k": options["top_k"],
        "seed": options["seed"] if options["seed"] is not None else DEFAULT_SEED,
        "stop": list(options["stop"]) if options["stop"] is not None else default_stop,
        "chat_template": options["chat_template"], "system_prompt": options["system_prompt"],
        **chat_wrapping(backend, options["chat_template"] and backend.profile.family == "decoder-only",
                        options["system_prompt"]),
        **require(backend, Generator).describe_generation(),
    }


def generation_request(settings: dict[str, Any]) -> GenerationSettings:
    """The typed settings a backend generates with, from the recorded ones."""
    return from_record(GenerationSettings, settings)


def generation_details(out: Generation) -> dict[str, Any]:
    """What an example stores about its generation: token counts (where known) and, for a
    served model, the request's timing (what the measurements are computed from)."""
    counts = {"prompt_tokens": out.prompt_tokens, "generated_tokens": out.generated_tokens}
    timing = out.timing.to_details(out.generated_tokens) if out.timing else {}
    return {k: v for k, v in counts.items() if v is not None} | timing
