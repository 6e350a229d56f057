"""Which stored results are compared with each other: like with like.

Runs accumulate in a results folder, and not all of them score the same examples: a
`--limit 2` smoke run, an edited data file, a `--tasks` subset. Models are ranked on one
*data selection* per task (the fingerprint of the exact examples scored), never on a mix
of n=2 and n=40. By default that is the selection with the most examples (the latest one
among equals); ``latest`` takes the selection of the most recent result; a fingerprint
(or its first characters) picks one. Within the selection each model's latest attempt
counts. The other selections are reported, so nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from benchbench.errors import BenchbenchError

DATA_CHOICES = ("complete", "latest")


@dataclass(frozen=True)
class DataSelection:
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


def choose_comparable(attempts: pd.DataFrame, data: str = "complete") -> tuple[pd.DataFrame, list[DataSelection]]:
    """From every stored attempt, the results to compare (one row per suite x model x task,
    all over one data selection per task), and every data selection seen."""
    if attempts.empty:
        return attempts, []
    _check_choice(attempts, data)
    chosen_rows, selections = [], []
    for (suite, task), group in attempts.groupby(["suite", "task"], sort=False):
        options = _selections(suite, task, group)
        shown = _pick(options, data)
        selections += [dataclasses.replace(s, shown=s.data == shown) for s in options]
        for _, attempts_of_model in group.groupby("model", sort=False):
            same_data = attempts_of_model[attempts_of_model["data"] == shown]
            # a failure before any data was read (e.g. the data file is missing) has no selection
            candidates = same_data if len(same_data) else attempts_of_model[attempts_of_model["data"].isna()]
            if len(candidates):
                chosen_rows.append(candidates.iloc[-1])
    frame = pd.DataFrame(chosen_rows).sort_values("result_id") if chosen_rows else attempts.iloc[0:0]
    return frame.reset_index(drop=True), selections


def _selections(suite: str, task: str, group: pd.DataFrame) -> list[DataSelection]:
    out = []
    for fingerprint, rows in group[group["data"].notna()].groupby("data", sort=False):
        finished = pd.to_numeric(rows.loc[rows["status"] == "ok", "examples"], errors="coerce").dropna()
        out.append(DataSelection(suite, task, str(fingerprint), int(finished.max()) if len(finished) else None,
                                 tuple(dict.fromkeys(rows["model"])), str(rows["started_at"].iloc[-1]),
                                 int(rows["result_id"].iloc[-1]), False))
    return out


def _pick(options: list[DataSelection], data: str) -> str | None:
    if not options:
        return None
    if data == "latest":
        return max(options, key=lambda s: s.latest_result).data
    matching = [s for s in options if s.data.startswith(data)]
    if data not in DATA_CHOICES and matching:
        return matching[0].data
    return max(options, key=lambda s: (s.examples or 0, s.latest_result)).data  # complete


def _check_choice(attempts: pd.DataFrame, data: str) -> None:
    fingerprints = sorted({str(d) for d in attempts["data"].dropna()})
    if data in DATA_CHOICES or any(f.startswith(data) for f in fingerprints):
        return
    raise BenchbenchError(f"--data {data!r} is not one of {', '.join(DATA_CHOICES)} and no stored data "
                          f"selection's fingerprint starts with it; stored: {', '.join(f[:8] for f in fingerprints)}")


def selection_notes(selections: list[DataSelection]) -> list[str]:
    """One line per task that has results over more than one data selection: which one is
    shown, and which others are stored (for the terminal and the report)."""
    notes = []
    by_task: dict[tuple[str, str], list[DataSelection]] = {}
    for selection in selections:
        by_task.setdefault((selection.suite, selection.task), []).append(selection)
    for (_, task), group in by_task.items():
        if len(group) > 1:
            shown = next(s for s in group if s.shown)
            others = "; ".join(s.describe() for s in group if not s.shown)
            notes.append(f"task {task}: compared on {shown.describe()}; also stored: {others}. "
                         f"Choose with --data complete|latest|FINGERPRINT")
    return notes
