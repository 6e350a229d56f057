"""The echo backend itself: it generates, and serves nothing else."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from benchbench.backends.base import (
    GENERATE,
    ROLLING,
    Batch,
    Generation,
    GenerationSettings,
    ModelInfo,
    Profile,
    finish_text,
)
from benchbench.spec import ModelSpec, Runtime


class EchoBackend:
    def __init__(self, model: ModelSpec, runtime: Runtime, device: str) -> None:
        self.name, self.spec, self.device = model.name, model.settings, device
        self.profile = Profile("decoder-only", frozenset({GENERATE}), frozenset({GENERATE}),
                               {ROLLING: "the echo backend scores no text; it only echoes"})

    def load(self, capability: str) -> ModelInfo:
        return ModelInfo(name=self.name, source=self.spec.label(), location_kind="echo", gguf_file=None,
                         loaded_from="nowhere", revision=None, head=capability, family="decoder-only",
                         model_type="echo", architecture="EchoBackend", parameters=0, dtype=None, device=self.device,
                         attention=None, max_length=0, random_weights=False, load_seconds=0.0,
                         load_peak_rss_mib=0.0, shape={})

    def is_out_of_memory(self, error: BaseException) -> bool:
        return False

    def free_memory(self) -> None:
        pass

    def close(self) -> None:
        pass

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> Iterator[Batch[Generation]]:
        answers = [finish_text(self.spec.prefix + prompt.rsplit(": ", 1)[-1], settings.stop) for prompt in prompts]
        for start in range(0, len(prompts), batch_size):
            yield [(i, Generation(answers[i], None, None)) for i in range(start, min(start + batch_size, len(prompts)))]

    def describe_generation(self) -> dict[str, Any]:
        return {"engine": "echo"}
