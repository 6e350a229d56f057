"""Which stored results are compared with each other: like with like.

Runs accumulate in a results folder, and not all of them score the same examples: a
`--limit 2` smoke run, an edited data file, a `--tasks` subset. Models are ranked on one
*example set* per task (the fingerprint of the exact examples scored), never on a mix of n=2
and n=40. By default that is the set with the most examples (the latest one among equals);
``latest`` takes the set of the most recent result; a fingerprint (or its first characters)
picks one. Within the set each model's latest attempt counts. The other sets are reported,
so nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from benchbench.errors import BenchbenchError
from benchbench.store import ResultRecord, Status

DATA_CHOICES = ("complete", "latest")


@dataclass(frozen=True)
class ExampleSet:
    """One set of examples a task was scored on, and who was scored on it."""

    suite: str
    task: str
    data: str  # fingerprint of the examples' content
    examples: int | None  # n: examples of its finished results
    models: tuple[str, ...]
    latest: str  # start time of its latest result
    latest_result: int  # and its result_id (the order results were stored in)
    shown: bool

    def describe(self) -> str:
        n = "n=?" if self.examples is None else f"n={self.examples}"
        return (f"{n} (data {self.data[:8]}; {len(self.models)} model(s): {', '.join(self.models)}; "
                f"latest {self.latest})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_comparable(attempts: Sequence[ResultRecord], data: str = "complete") -> tuple[list[ResultRecord],
                                                                                          list[ExampleSet]]:
    """From every stored attempt (oldest first), the results to compare (one per suite x model
    x task, all over one example set per task, in the order they were stored), and every
    example set seen."""
    if not attempts:
        return [], []
    _check_choice(attempts, data)
    groups: dict[tuple[str, str], list[ResultRecord]] = {}
    for record in attempts:
        groups.setdefault((record.suite, record.task), []).append(record)
    chosen, sets = [], []
    for (suite, task), group in groups.items():
        options = _example_sets(suite, task, group)
        shown = _pick(options, data)
        sets += [dataclasses.replace(s, shown=s.data == shown) for s in options]
        by_model: dict[str, list[ResultRecord]] = {}
        for record in group:
            by_model.setdefault(record.model, []).append(record)
        for model_attempts in by_model.values():
            same_data = [r for r in model_attempts if r.settings.data_fingerprint == shown]
            # a failure before any data was read (e.g. the data file is missing) has no example set
            candidates = same_data or [r for r in model_attempts if r.settings.data_fingerprint is None]
            if candidates:
                chosen.append(candidates[-1])
    return sorted(chosen, key=lambda r: r.result_id), sets


def _example_sets(suite: str, task: str, group: list[ResultRecord]) -> list[ExampleSet]:
    by_data: dict[str, list[ResultRecord]] = {}
    for record in group:
        if record.settings.data_fingerprint is not None:
            by_data.setdefault(record.settings.data_fingerprint, []).append(record)
    out = []
    for fingerprint, rows in by_data.items():
        finished = [r.examples for r in rows if r.status is Status.OK and r.examples is not None]
        out.append(ExampleSet(suite, task, fingerprint, max(finished) if finished else None,
                              tuple(dict.fromkeys(r.model for r in rows)), rows[-1].started_at, rows[-1].result_id,
                              False))
    return out


def _pick(options: list[ExampleSet], data: str) -> str | None:
    if not options:
        return None
    if data == "latest":
        return max(options, key=lambda s: s.latest_result).data
    matching = [s for s in options if s.data.startswith(data)]
    if data not in DATA_CHOICES and matching:
        return matching[0].data
    return max(options, key=lambda s: (s.examples or 0, s.latest_result)).data  # complete


def _check_choice(attempts: Sequence[ResultRecord], data: str) -> None:
    fingerprints = sorted({f for r in attempts if (f := r.settings.data_fingerprint) is not None})
    if data in DATA_CHOICES or any(f.startswith(data) for f in fingerprints):
        return
    raise BenchbenchError(f"--data {data!r} is not one of {', '.join(DATA_CHOICES)} and no stored data "
                          f"selection's fingerprint starts with it; stored: {', '.join(f[:8] for f in fingerprints)}")


def example_set_notes(sets: list[ExampleSet]) -> list[str]:
    """One line per task that has results over more than one example set: which one is shown,
    and which others are stored (for the terminal and the report)."""
    notes = []
    by_task: dict[tuple[str, str], list[ExampleSet]] = {}
    for example_set in sets:
        by_task.setdefault((example_set.suite, example_set.task), []).append(example_set)
    for (_, task), group in by_task.items():
        if len(group) > 1:
            shown = next(s for s in group if s.shown)
            others = "; ".join(s.describe() for s in group if not s.shown)
            notes.append(f"task {task}: compared on {shown.describe()}; also stored: {others}. "
                         f"Choose with --data complete|latest|FINGERPRINT")
    return notes
