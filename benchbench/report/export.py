"""CSV / JSON export of the comparison: one row per model x task, latest attempts."""

from __future__ import annotations

import json
from pathlib import Path

from benchbench.numbers import finite_or_none
from benchbench.results import load_results


def export_comparison(results_dir: str | Path, target: Path, fmt: str, data: str = "complete") -> None:
    """One row per model x task, over one data selection per task (comparable.py); `n` is `examples`."""
    frame = load_results(results_dir, data=data)
    if fmt == "csv":
        flat = frame[[c for c in frame.columns if not frame[c].map(lambda v: isinstance(v, (dict, list))).any()]]
        flat.to_csv(target, index=False)
    else:
        records = [{k: finite_or_none(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        target.write_text(json.dumps(records, indent=1, default=str), encoding="utf-8")
