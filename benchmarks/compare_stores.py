"""Compare two benchbench results stores, result by result: every figure, interval, setting,
count, non-timing measurement and stored prediction. Used to show that a change of code
leaves the figures of a suite (e.g. the quickstart) identical.

    python benchmarks/compare_stores.py BEFORE/benchbench.sqlite AFTER/benchbench.sqlite [--ignore-dataset-path]

--ignore-dataset-path: leave out the dataset's path from the comparison (two checkouts in
different folders record different absolute paths). Exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

# Measurements that are timings or memory peaks: they differ from run to run by nature.
VARYING = {"load_seconds", "task_seconds", "examples_per_second", "prompt_tokens_per_second",
           "generated_tokens_per_second", "batch_latency", "peak_rss_mib", "load_peak_rss_mib"}


def finished_results(path: str, ignore_dataset_path: bool) -> dict[tuple[str, str], dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    out = {}
    for row in db.execute("SELECT * FROM results WHERE status='ok' ORDER BY result_id"):
        settings = json.loads(row["settings"])
        if ignore_dataset_path:
            settings["signature"]["dataset"].pop("path", None)
        predictions = [dict(p) for p in db.execute(
            "SELECT example_index, input, prediction, reference, details FROM predictions "
            "WHERE result_id=? ORDER BY example_index", (row["result_id"],))]
        out[(row["model_name"], row["task_name"])] = {
            "metrics": json.loads(row["metrics"]), "intervals": json.loads(row["intervals"]), "settings": settings,
            "counts": json.loads(row["counts"]), "predictions": predictions,
            "measurements": {k: v for k, v in json.loads(row["measurements"]).items() if k not in VARYING},
            "model_info": {k: v for k, v in json.loads(row["model_info"]).items() if k not in VARYING}}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--ignore-dataset-path", action="store_true")
    args = parser.parse_args()
    before = finished_results(args.before, args.ignore_dataset_path)
    after = finished_results(args.after, args.ignore_dataset_path)
    if before.keys() != after.keys():
        print(f"different results: {sorted(before.keys() ^ after.keys())}")
        return 1
    differences = [(key, part) for key in sorted(before) for part in before[key]
                   if before[key][part] != after[key][part]]
    for key, part in differences:
        print(f"differs: {key[0]} / {key[1]}: {part}")
    examples = sum(len(r["predictions"]) for r in before.values())
    print(f"{len(before)} results and {examples} predictions compared: {len(differences)} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
