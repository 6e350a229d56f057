"""A model's work as a worker receives it: plain, picklable data, no store, no open files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchbench.measure.segment import MeterSegment
from benchbench.spec import ModelSpec, Runtime, TaskSpec
from benchbench.tasks import ExampleResult


@dataclass
class TaskPlan:
    """A model x task to run: its merged options, signature, the rows it scores, the result
    the driver claimed for it, and (when that result was interrupted, or an earlier round of
    a race scored some) the examples already scored there, which are not recomputed."""

    task: TaskSpec
    options: dict[str, Any]
    fields: dict[str, Any]  # what the signature hashes, stored with the result
    signature: str
    rows: list[dict[str, Any]]
    result_id: int | None = None
    resumed: bool = False
    done: list[ExampleResult] = field(default_factory=list)
    round_rows: list[int] | None = None  # racing: score only these rows this round, then report the round
    shown: int = 0  # of `done`, those an earlier round of this run scored: counted on the bar, not "resumed"
    segments: list[MeterSegment] = field(default_factory=list)  # racing: what the earlier rounds measured


@dataclass(frozen=True)
class WorkerSpec:
    """What a model's worker is started with. `remote`: it runs on another machine than the
    driver's (Ray), so each result records the environment it was measured in."""

    model: ModelSpec
    runtime: Runtime
    device: str
    remote: bool = False
