"""benchbench: pick the right language model for a job.

Run YAML task suites over candidate models, record quality and performance in one
result store, and compare. Public Python API:

- :func:`load_results` -- the results folder as a pandas DataFrame.
- :func:`load_comparisons` -- each model against the best of each task and metric, paired.
- :class:`Selection` -- the results of a folder, opened once: ``Selection.open("results")``,
  then ``.recommend(Limits(budget_gib=16))`` gives the typed recommendation.
- :func:`load_suite` -- parse and validate a suite file.
- :mod:`benchbench.metrics` -- ``compute(name, predictions, references)``.

Names are imported when first used, so ``import benchbench`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_WHERE = {"load_results": "benchbench.selection", "load_comparisons": "benchbench.selection",
          "Selection": "benchbench.selection", "Limits": "benchbench.selection", "load_suite": "benchbench.suite"}
__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'benchbench' has no attribute {name!r}")
