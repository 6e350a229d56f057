"""Compare two benchbench results stores, result by result: every figure, interval, setting,
count, non-timing measurement and stored prediction. Used to show that a change of code
leaves the figures of a suite (e.g. the quickstart) identical.

    python benchmarks/compare_stores.py BEFORE/benchbench.sqlite AFTER/benchbench.sqlite [--ignore-dataset-path]
        [--ignore measurements.unit_latency ...]

--ignore-dataset-path: leave out the dataset's path from the comparison (two checkouts in
different folders record different absolute paths). --ignore PART.KEY (repeatable): leave out
a key of a result's JSON part, e.g. one a newer benchbench adds (`--ignore counts.baselines`).
Exits 1 when anything differs, and says what.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

# Measurements that are timings or memory peaks: they differ from run to run by nature.
VARYING = {"load_seconds", "task_seconds", "examples_per_second", "prompt_tokens_per_second",
           "generated_tokens_per_second", "batch_latency", "peak_rss_mib", "load_peak_rss_mib"}


def finished_results(path: str, ignore_dataset_path: bool, ignore: tuple[str, ...] = ()) -> dict[tuple[str, str], dict]:
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
        for dotted in ignore:  # e.g. counts.baselines, settings.resolved.chat_prompt
            *path, key = dotted.split(".")
            where = out[(row["model_name"], row["task_name"])]
            for step in path:
                where = where.get(step, {}) if isinstance(where, dict) else {}
            if isinstance(where, dict):
                where.pop(key, None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--ignore-dataset-path", action="store_true")
    parser.add_argument("--ignore", action="append", default=[], metavar="PART.KEY")
    args = parser.parse_args()
    before = finished_results(args.before, args.ignore_dataset_path, tuple(args.ignore))
    after = finished_results(args.after, args.ignore_dataset_path, tuple(args.ignore))
    if before.keys() != after.keys():
        print(f"different results: {sorted(before.keys() ^ after.keys())}")
        return 1
    differences = [(key, part) for key in sorted(before) for part in before[key]
                   if before[key][part] != after[key][part]]
    for key, part in differences:
        old, new = before[key][part], after[key][part]
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)) if isinstance(old, dict) else []
        print(f"differs: {key[0]} / {key[1]}: {part}" + (f" ({', '.join(keys)})" if keys else ""))
    examples = sum(len(r["predictions"]) for r in before.values())
    print(f"{len(before)} results and {examples} predictions compared: {len(differences)} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
