"""The first transformers Auto class that can build a model, when the head is not known."""

from __future__ import annotations

from typing import Any, Callable

GENERATIVE_AUTO_CLASSES = ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM")


def build_with_first_auto_class(build: Callable[[Any], Any], names: tuple[str, ...] = GENERATIVE_AUTO_CLASSES) -> Any:
    """``build(auto_class)`` with each Auto class in turn until one accepts the model
    (transformers raises ValueError when the config's type is not in a class's mapping)."""
    import transformers

    errors = []
    for name in names:
        try:
            return build(getattr(transformers, name))
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
    raise ValueError("no Auto class can build this model: " + "; ".join(errors))
