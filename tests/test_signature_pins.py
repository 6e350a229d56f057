"""The settings signatures of existing suite models are pinned: a store written by an earlier
version is reused only while every model's signature stays byte-identical (docs/results.md).
These hashes were computed before the backends moved behind a registry; a change to how a
model is described must not move them."""

from __future__ import annotations

import json

from helpers import parse

from benchbench.data import load_examples
from benchbench.run.plan import _plan_task
from benchbench.tasks import TASK_TYPES

PINNED = {
    "checkpoint": "296a68f7ebfdd96b3c85",
    "checkpoint-defaults": "df680a2ff7db69e70057",
    "served": "7941111205a61d2b4cda",
}


def test_signatures_of_existing_models_stay_byte_identical(tmp_path):
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": s, "reference": s}) + "\n" for s in ("a b", "c d e")))
    suite = parse(tmp_path, {
        "name": "pins", "runtime": {"dtype": "float16"},
        "models": [
            {"name": "checkpoint", "source": "./models/tiny", "revision": "main", "dtype": "bfloat16",
             "gguf_file": "m.gguf", "tokenizer": "org/tokenizer", "trust_remote_code": True,
             "attn_implementation": "sdpa"},
            {"name": "checkpoint-defaults", "source": "org/model"},
            {"name": "served", "api": {"base_url": "http://127.0.0.1:8000/v1/", "model": "m", "endpoint": "chat",
                                       "concurrency": 3, "extra_body": {"min_tokens": 2},
                                       "price_per_million_tokens": {"input": 1, "output": 2}}}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 8}}],
    })
    task = suite.tasks[0]
    examples = load_examples(task.dataset, TASK_TYPES[task.type].fields, suite.runtime.seed, task.name)
    signatures = {model.name: _plan_task(suite, model, task, examples, "cpu").signature for model in suite.models}
    assert signatures == PINNED
