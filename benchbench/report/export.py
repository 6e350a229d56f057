"""CSV / JSON export of the comparison: one row per model x task (load_results' columns), with
each row's standing under the limits given: its rank on the task (empty when excluded), whether
it is tied with the best, on the Pareto front, and why a limit excludes it."""

from __future__ import annotations

import json

from benchbench.numbers import finite_or_none
from benchbench.selection import Limits, Selection
from benchbench.selection.results import frame_of

STANDING = ("rank", "tied_with_best", "pareto", "excluded")


def export_comparison(selection: Selection, fmt: str, limits: Limits = Limits()) -> str:
    """The selection's comparable results as CSV or JSON text (`n` is `examples`)."""
    frame = frame_of(selection.records)
    ranked = selection.recommend(limits)
    standing = {(c.task, c.model): c for cs in ranked.tasks.values() for c in cs}
    if not frame.empty:
        for column in STANDING:
            values = [getattr(standing[(t, m)], column) if (t, m) in standing else None
                      for t, m in zip(frame["task"], frame["model"])]
            frame[column] = ["; ".join(v) if isinstance(v, list) else v for v in values]
    if fmt == "csv":
        flat = frame[[c for c in frame.columns if not frame[c].map(lambda v: isinstance(v, (dict, list))).any()]]
        return flat.to_csv(index=False)
    records = [{k: finite_or_none(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    return json.dumps(records, indent=1, default=str)
