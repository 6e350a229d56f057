"""Measurements recorded beside the quality metrics: timing, memory, power, environment.

Each measurement is a small dataclass with ``to_dict`` so the runner, the store and the
report share one shape. See docs/methodology.md.
"""

from benchbench.measure.segment import TaskMeasurement
from benchbench.measure.stats import LatencyStats
from benchbench.measure.system import environment, peak_rss_mib
from benchbench.measure.timing import Stopwatch, TaskMeter

__all__ = ["LatencyStats", "Stopwatch", "TaskMeasurement", "TaskMeter", "environment", "peak_rss_mib"]
