"""Small builders shared by tests: suites written to a temp dir, loaded tiny models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchbench.models.loading import LoadedModel, load_model
from benchbench.suite import ModelSpec, Suite, load_suite


def write_suite(folder: Path, document: dict[str, Any], name: str = "suite.yaml") -> Path:
    """Write a suite. Unless it says otherwise, its models run in the test's process
    (`isolation: none`): a child process per model costs ~6 s of imports, and the tests
    that are about isolation (test_isolation, test_resume) ask for it."""
    document = {**document, "runtime": {"isolation": "none", **document.get("runtime", {})}}
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def minimal_suite(model_source: str, data_path: str, **task: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "models": [{"name": "m", "source": model_source}],
        "tasks": [{"name": "ppl", "type": "perplexity", "dataset": {"path": data_path}, **task}],
    }


def load(folder: Path, head: str = "causal-lm") -> LoadedModel:
    return load_model(ModelSpec(name=folder.name, source=str(folder)), head, "cpu")


def parse(folder: Path, document: dict[str, Any]) -> Suite:
    return load_suite(write_suite(folder, document))
