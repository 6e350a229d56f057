"""Measurements recorded beside the quality metrics: timing, memory, environment.

Each measurement is a small dataclass with ``to_dict`` so the runner, the store and the
report share one shape. See docs/methodology.md.
"""

from benchbench.measure.system import environment, peak_rss_mib
from benchbench.measure.timing import Stopwatch, TaskMeasurement

__all__ = ["Stopwatch", "TaskMeasurement", "environment", "peak_rss_mib"]
