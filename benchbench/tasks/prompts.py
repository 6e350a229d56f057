"""Prompts from templates: one rendering rule for every task that writes a prompt."""

from __future__ import annotations

from typing import Any

from benchbench.backends.base import ModelBackend
from benchbench.backends.capabilities import ChatPrompts, require
from benchbench.errors import TaskConfigError, shown


def render(template: str, row: dict[str, Any], extra: dict[str, Any]) -> str:
    """`template` with the row's fields (and `extra` variables) filled in."""
    try:
        return template.format(**{**extra, **row})
    except (KeyError, IndexError) as exc:
        names = ", ".join("{" + n + "}" for n in [*row, *extra])
        raise TaskConfigError(f"prompt {shown(template)} uses {exc}, which is not available; "
                              f"available: {names}") from None


def check_chat_format(backend: ModelBackend, chat_template: bool) -> None:
    """Before any example runs: prompts to wrap in a chat format need a backend that has one
    (Unsupported, in one line, when it does not)."""
    if chat_template:
        require(backend, ChatPrompts)


def render_prompt(backend: ModelBackend, template: str, row: dict[str, Any], extra: dict[str, Any],
                  chat_template: bool, system_prompt: str | None = None) -> str:
    """The rendered template, wrapped in the model's chat format when asked."""
    prompt = render(template, row, extra)
    return require(backend, ChatPrompts).chat_prompt(prompt, system_prompt) if chat_template else prompt


PROMPT_STAND_IN = "{prompt}"


def chat_wrapping(backend: ModelBackend, chat_template: bool, system_prompt: str | None) -> dict[str, Any]:
    """With chat_template on, what the model reads around every rendered prompt: the chat
    template applied to a stand-in, `{prompt}`, recorded with the settings. A template may add
    text of its own, e.g. SmolLM2's default system message when system_prompt is None, which the
    settings would not show otherwise. A template the tokenizer lacks fails here, before any
    example runs."""
    return {"chat_prompt": require(backend, ChatPrompts).chat_prompt(PROMPT_STAND_IN, system_prompt)} \
        if chat_template else {}
