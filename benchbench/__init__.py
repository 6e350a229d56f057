"""benchbench: pick the right language model for a job.

Run YAML task suites over candidate models, record quality and performance in one
result store, and compare. Public Python API:

- :func:`load_results` -- the results folder as a pandas DataFrame.
- :func:`load_comparisons` -- each model against the best of each task and metric, paired.
- :func:`load_suite` -- parse and validate a suite file.
- :mod:`benchbench.metrics` -- ``compute(name, predictions, references)``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

# The public functions are imported on first use (PEP 562): importing them here would make every
# command, `benchbench validate` and `list` too, pay for pandas and scikit-learn at start-up.
_PUBLIC = {"load_comparisons": "benchbench.comparisons", "load_results": "benchbench.results",
           "load_suite": "benchbench.suite"}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'benchbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_PUBLIC[name]), name)
