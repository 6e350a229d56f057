"""Racing on a real classification set: SST-2 dev (872 sentences, ../shared/data) with four
models: the two packaged ones (SmolLM2-135M-Instruct, Gemma-3-270M) and two tiny randomly
initialised Llama models with SmolLM2's tokenizer. Runs the suite once with `--race` and
once in full, into separate stores, and prints each run's winner, the model-examples each
scored, what racing saved, both wall times and their ratio, and how many model workers the
race started. Exits 1 unless the race picks the full run's winner, scores at most 60% of the
model-examples, takes at least 40% less time, and starts one worker per model.

    python benchmarks/race_sst2.py [--data ../shared/data] [--work /tmp/race-sst2]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_random_llama(folder: Path, seed: int) -> Path:
    """A 2-layer Llama with random weights and SmolLM2's tokenizer: a model that guesses."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if (folder / "config.json").exists():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(_smollm2_folder())
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _smollm2_folder() -> str:
    """The transformers folder benchbench converts the packaged SmolLM2 GGUF into."""
    from benchbench.backends.hf.gguf_cache import converted_folder
    from benchbench.backends.packaged import locate_packaged

    gguf = locate_packaged("smollm2-135m-instruct")
    return str(converted_folder(str(gguf.parent), gguf.name))


def write_suite(work: Path, data: Path, limit: int | None = None) -> Path:
    models = [{"name": "smollm2-135m-instruct", "source": "packaged:smollm2-135m-instruct"},
              {"name": "gemma-3-270m", "source": "packaged:gemma-3-270m"},
              {"name": "random-a", "source": str(tiny_random_llama(work / "random-a", 1))},
              {"name": "random-b", "source": str(tiny_random_llama(work / "random-b", 2))}]
    suite = {"name": "race-sst2", "runtime": {"batch_size": 16, "bootstrap_resamples": 200},
             "models": models,
             "tasks": [{"name": "sst2", "type": "classification",
                        "dataset": {"path": str(data / "classification/sst2/dev.tsv"), "format": "tsv",
                                    "fields": {"text": "sentence"}, **({"limit": limit} if limit else {})},
                        "options": {"method": "choices", "prompt": "Review: {text}\nSentiment (positive or negative):",
                                    "choices": {1: " positive", 0: " negative"}},
                        "metrics": ["accuracy"]}]}
    path = work / "race-sst2.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def run(suite: Path, out: Path, *flags: str) -> tuple[float, str]:
    """Wall seconds of a whole `benchbench run` (interpreter start included), and its output."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchbench.cli", "run", str(suite), "-o", str(out), "--no-progress",
                           *flags], capture_output=True, text=True)
    print(done.stdout[-1500:])
    if done.returncode not in (0, 1):
        sys.exit(f"benchbench run failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path("/tmp/race-sst2"))
    parser.add_argument("--limit", type=int, help="the first N sentences only (the test suite's shorter race)")
    parser.add_argument("--no-time-check", action="store_true",
                        help="leave the wall-time goal out of the exit status (a loaded machine: the test suite)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.no_time_check:  # untimed: the models' files and libraries cached, so no timed run pays for a cold disk
        (args.work / "warm-up").mkdir(exist_ok=True)
        run(write_suite(args.work / "warm-up", args.data, 16), args.work / "warm-up" / "results")
    suite = write_suite(args.work, args.data, args.limit)
    from benchbench import load_results

    raced_seconds, raced_output = run(suite, args.work / "raced", "--race")
    full_seconds, _ = run(suite, args.work / "full")
    started = re.search(r"(\d+) model worker\(s\) started", raced_output)
    workers = int(started.group(1)) if started else None
    raced = load_results(args.work / "raced", all_attempts=True).set_index("model")
    full = load_results(args.work / "full").set_index("model")
    raced_winner = raced[raced["status"] == "ok"]["accuracy"].idxmax()
    full_winner = full["accuracy"].idxmax()
    scored, total = int(raced["examples"].sum()), int(full["examples"].sum())
    for model in full.index:
        print(f"{model:<24} full: accuracy {full.loc[model, 'accuracy']:.4f} on {full.loc[model, 'examples']}   "
              f"raced: {raced.loc[model, 'status']} on {raced.loc[model, 'examples']} examples")
    print(f"winner: raced {raced_winner}, full {full_winner} ({'same' if raced_winner == full_winner else 'DIFFERENT'})")
    print(f"model-examples: raced {scored}, full {total}: {1 - scored / total:.1%} fewer")
    print(f"wall time: raced {raced_seconds:.0f} s, full {full_seconds:.0f} s: the race takes "
          f"{raced_seconds / full_seconds:.0%} of the full run's time ({1 - raced_seconds / full_seconds:.0%} less)")
    print(f"model workers the race started: {workers} for {len(full.index)} models")
    skipped = full["examples"] - raced["examples"].reindex(full.index)
    most = float((skipped / full["examples_per_second"]).sum())
    print(f"the most racing could save here: the examples the stopped models skipped, at their speed in the full "
          f"run: {most:.0f} s of the full run's {full_seconds:.0f} s ({most / full_seconds:.0%})")
    slow = raced_seconds > 0.6 * full_seconds and not args.no_time_check
    if raced_winner != full_winner or scored > 0.6 * total or slow or workers != len(full.index):
        sys.exit(1)


if __name__ == "__main__":
    main()
