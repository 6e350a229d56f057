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

from benchbench.comparisons import load_comparisons
from benchbench.results import load_results
from benchbench.suite import load_suite

__all__ = ["load_comparisons", "load_results", "load_suite", "__version__"]
