"""Small builders shared by tests: suites written to a temp dir, loaded tiny models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from benchbench.backends.base import CLASSIFY, GENERATE, ROLLING, SPANS
from benchbench.backends.hf.backend import HFBackend
from benchbench.backends.hf.loading import LoadedModel, load_model
from benchbench.cli import main
from benchbench.spec import CheckpointSpec, ModelSpec, Runtime, Suite
from benchbench.suite import load_suite

CAPABILITY = {"causal-lm": ROLLING, "seq2seq-lm": GENERATE, "sequence-classification": CLASSIFY,
              "question-answering": SPANS}


def write_suite(folder: Path, document: dict[str, Any], name: str = "suite.yaml") -> Path:
    """Write a suite. Unless it says otherwise, its models run in the test's process
    (`isolation: none`): a child process per model costs ~6 s of imports, and the tests
    that are about isolation (test_isolation, test_resume) ask for it."""
    document = {**document, "runtime": {"isolation": "none", **document.get("runtime", {})}}
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def minimal_suite(model_source: str, data_path: str, **task: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "models": [{"name": "m", "source": model_source}],
        "tasks": [{"name": "ppl", "type": "perplexity", "dataset": {"path": data_path}, **task}],
    }


def load(folder: Path, head: str = "causal-lm") -> LoadedModel:
    """The transformers model and tokenizer themselves."""
    return load_model(CheckpointSpec(str(folder)), head, "cpu", name=folder.name)


def backend(folder: Path, head: str = "causal-lm") -> HFBackend:
    """The model as tasks see it, loaded with `head`."""
    model = HFBackend(ModelSpec(folder.name, "hf", CheckpointSpec(str(folder))), Runtime(), "cpu")
    model.load(CAPABILITY[head])
    return model


def parse(folder: Path, document: dict[str, Any]) -> Suite:
    return load_suite(write_suite(folder, document))


# Remote model code that kills its own process (SIGKILL, as the kernel's OOM killer does)
# when its input holds a poison token: a hostile example in a dataset. With a marker file,
# only once: the first kill creates it, and a rerun goes through.
CRASHING_MODEL = '''
import os
import signal
from pathlib import Path

from transformers import GPT2LMHeadModel

POISON = set({poison})
ONCE = {once!r}


class CrashingGPT2(GPT2LMHeadModel):
    def forward(self, input_ids=None, **kwargs):
        if input_ids is not None and POISON & set(input_ids.flatten().tolist()):
            if ONCE is None or not Path(ONCE).exists():
                if ONCE is not None:
                    Path(ONCE).touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(input_ids=input_ids, **kwargs)
'''


def crashing_model(folder: Path, tiny_gpt2: Path, once: Path | None = None) -> Path:
    """A copy of the tiny GPT-2 whose process dies by SIGKILL on an input holding "§"
    (every time, or only while the file `once` does not exist yet)."""
    from transformers import AutoTokenizer

    shutil.copytree(tiny_gpt2, folder)
    poison = AutoTokenizer.from_pretrained(folder)("§", add_special_tokens=False)["input_ids"]
    (folder / "modeling_crash.py").write_text(CRASHING_MODEL.format(poison=poison, once=once and str(once)))
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_crash.CrashingGPT2"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


SENTIMENT_ROWS = [("a good film, a joy", "positive"), ("a bad one, a long evening", "negative"),
                  ("the quick brown fox", "positive"), ("bread needs time", "negative"),
                  ("the lighthouse keeper wrote", "positive"), ("flour water salt", "negative"),
                  ("good bread, a joy", "positive"), ("a long bad film", "negative")]


def sentiment_and_perplexity(name: str, resamples: int, sentiment: Path, corpus: Path,
                             models: list[dict[str, str]]) -> dict[str, Any]:
    """A suite document: `models` on a choices classification of `sentiment` (a JSONL of
    sentence/label rows) and on perplexity over `corpus` in 16-token windows."""
    return {"name": name, "runtime": {"bootstrap_resamples": resamples}, "models": models,
            "tasks": [{"name": "sentiment", "type": "classification",
                       "dataset": {"path": str(sentiment), "fields": {"text": "sentence"}},
                       "options": {"choices": {"positive": " positive", "negative": " negative"}}},
                      {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus)},
                       "options": {"max_length": 16}}]}


def three_model_store(folder: Path, gpt2: Path, llama: Path, bert: Path, prefix: str = "") -> Path:
    """Results of three tiny models of different sizes (so limits change the pick) on a
    classification and a perplexity task, with stored predictions (so they pair); `prefix`
    goes before every model name and into the data."""
    data = folder / "sentiment.jsonl"
    data.write_text("".join(json.dumps({"sentence": prefix + t, "label": label}) + "\n" for t, label in SENTIMENT_ROWS))
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(prefix + t for t, _ in SENTIMENT_ROWS) + "\n")
    suite = write_suite(folder, sentiment_and_perplexity("three", 100, data, corpus, [
        {"name": prefix + "gpt2", "source": str(gpt2)}, {"name": "llama", "source": str(llama)},
        {"name": "bert", "source": str(bert)}]))
    out = folder / "results"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code in (0, 1), result.output  # 1: the BERT classifier has no perplexity (unsupported)
    return out


def recommend_json(results: Path, *args: str) -> dict[str, Any]:
    """`benchbench recommend --format json` on `results` (exit 1, nothing fits, is an answer)."""
    output = CliRunner().invoke(main, ["recommend", "--results", str(results), "--format", "json", *args])
    assert output.exit_code in (0, 1), output.output
    return json.loads(output.output)


def picks_of(result: dict[str, Any]) -> dict[str, str | None]:
    """The pick of each task of a recommend result, and of the overall ranking under ""."""
    chosen = {task: next((c["model"] for c in cs if c["rank"] == 1), None) for task, cs in result["tasks"].items()}
    chosen[""] = next((row["model"] for row in result["overall"] if row["rank"] == 1), None)
    return chosen
