"""CSV / JSON export of the comparison: one row per model x task, latest attempts."""

from __future__ import annotations

import json
from pathlib import Path

from benchbench.numbers import finite_or_none
from benchbench.results import load_results


def export_comparison(results_dir: str | Path, fmt: str, data: str = "complete") -> str:
    """One row per model x task, over one data selection per task (comparable.py), as CSV or
    JSON text; `n` is `examples`."""
    frame = load_results(results_dir, data=data)
    if fmt == "csv":
        flat = frame[[c for c in frame.columns if not frame[c].map(lambda v: isinstance(v, (dict, list))).any()]]
        return flat.to_csv(index=False)
    records = [{k: finite_or_none(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    return json.dumps(records, indent=1, default=str)
