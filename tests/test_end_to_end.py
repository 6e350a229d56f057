"""The CLI end to end on tiny models: run, store, load_results, one bad model recorded."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main
from benchbench.store import Store


def _suite(tmp_path, gpt2, bert, sentiment, corpus):
    return write_suite(tmp_path, {
        "name": "e2e",
        "runtime": {"device": "cpu", "batch_size": 2},
        "models": [
            {"name": "gpt2-tiny", "source": str(gpt2)},
            {"name": "bert-tiny", "source": str(bert)},
            {"name": "ghost", "source": "no-such-org/no-such-model-xyz"},
        ],
        "tasks": [
            {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus)},
             "options": {"max_length": 8}},
            {"name": "sentiment", "type": "classification",
             "dataset": {"path": str(sentiment), "fields": {"text": "sentence"}},
             "options": {"choices": {"positive": " positive", "negative": " negative"}}},
        ],
    })


def test_run_stores_every_model_and_task(tmp_path, tiny_gpt2, tiny_bert_classifier, sentiment_file, corpus_file):
    suite = _suite(tmp_path, tiny_gpt2, tiny_bert_classifier, sentiment_file, corpus_file)
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output  # ghost is unavailable, bert cannot do perplexity
    assert "task: ppl (perplexity)" in result.output and "task: sentiment (classification)" in result.output

    frame = load_results(out).set_index(["model", "task"])
    assert len(frame) == 6
    ok = frame[frame["status"] == "ok"]
    assert sorted(ok.index) == [("bert-tiny", "sentiment"), ("gpt2-tiny", "ppl"), ("gpt2-tiny", "sentiment")]
    for metric in ("word_perplexity", "bits_per_byte", "token_perplexity"):
        assert math.isfinite(frame.loc[("gpt2-tiny", "ppl"), metric])
    assert 0 <= frame.loc[("gpt2-tiny", "sentiment"), "acc_norm"] <= 1
    assert frame.loc[("bert-tiny", "sentiment"), "settings"]["resolved"]["method"] == "head"
    assert frame.loc[("bert-tiny", "ppl"), "status"] == "unsupported"
    assert "decoder-only" in frame.loc[("bert-tiny", "ppl"), "reason"]
    assert (frame.loc["ghost", "status"] == "unavailable").all()
    assert frame.loc[("gpt2-tiny", "ppl"), "examples"] == 5
    assert frame.loc[("gpt2-tiny", "ppl"), "family"] == "decoder-only"
    assert frame.loc[("gpt2-tiny", "ppl"), "examples_per_second"] > 0
    assert frame.loc[("gpt2-tiny", "ppl"), "environment"]["libraries"]["torch"]

    store = Store(out)
    result_id = int(frame.loc[("gpt2-tiny", "sentiment"), "result_id"])
    predictions = store.predictions(result_id)
    store.close()
    assert [p["example_index"] for p in predictions] == list(range(6))
    assert predictions[0]["reference"] == "positive" and "loglikelihoods" in predictions[0]["details"]


def test_limit_and_task_selection_and_accumulation(tmp_path, tiny_gpt2, tiny_bert_classifier,
                                                    sentiment_file, corpus_file):
    suite = _suite(tmp_path, tiny_gpt2, tiny_bert_classifier, sentiment_file, corpus_file)
    out = tmp_path / "results"
    args = ["run", str(suite), "-o", str(out), "--no-progress", "--models", "gpt2-tiny",
            "--tasks", "sentiment", "--limit", "3"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, args)  # same settings: the finished result is reused
    assert again.exit_code == 0 and "1 reused" in again.output and "task: sentiment" in again.output
    assert len(load_results(out, all_attempts=True)) == 1
    fresh = CliRunner().invoke(main, args + ["--fresh"])
    assert fresh.exit_code == 0 and "reused" not in fresh.output
    latest = load_results(out)
    assert len(latest) == 1 and latest.loc[0, "examples"] == 3
    every = load_results(out, all_attempts=True)
    assert len(every) == 2 and every["signature"].nunique() == 1  # same settings, same signature


def test_changed_option_changes_signature(tmp_path, tiny_gpt2, tiny_bert_classifier, sentiment_file, corpus_file):
    suite = _suite(tmp_path, tiny_gpt2, tiny_bert_classifier, sentiment_file, corpus_file)
    out = tmp_path / "results"
    base = ["run", str(suite), "-o", str(out), "--no-progress", "--models", "gpt2-tiny", "--tasks", "ppl"]
    CliRunner().invoke(main, base)
    CliRunner().invoke(main, base + ["--limit", "2"])
    assert load_results(out, all_attempts=True)["signature"].nunique() == 2


def test_missing_dataset_column_stops_the_suite_before_the_run(tmp_path, tiny_gpt2, sentiment_file):
    from benchbench.data import load_examples
    from benchbench.errors import DatasetUnavailable
    from benchbench.spec import DatasetSpec
    from benchbench.tasks import TASK_TYPES

    suite = write_suite(tmp_path, {
        "name": "cols", "models": [{"name": "g", "source": str(tiny_gpt2)}],
        "tasks": [{"name": "s", "type": "classification", "dataset": {"path": str(sentiment_file)}}]})
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 2 and not out.exists(), result.output  # a local file's columns are read first
    assert "sentiment.jsonl has no column 'text' for field 'text'" in result.output
    assert "its columns: label, sentence (map the field with fields: {text: <column>})" in result.output
    # where the columns show only once the data is loaded (a hub dataset), loading says the same
    with pytest.raises(DatasetUnavailable, match=r"no column 'text' .* dataset\.fields\.text"):
        load_examples(DatasetSpec(path=str(sentiment_file), format="jsonl"), TASK_TYPES["classification"].fields, 0)


def test_list_shows_registries():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    for text in ("perplexity", "classification", "acc_norm", "packaged:NAME", "quickstart.yaml"):
        assert text in result.output


def test_generation_tasks_end_to_end_with_nested_fields(tmp_path, tiny_t5, tiny_gpt2, tiny_bert_qa):
    import json

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"translation": {"en": s, "de": s.upper()}, "answers": {"text": [s[:5]]},
                                        "question": "what?", "context": s}) + "\n"
                            for s in ["a good film", "the quick brown fox", "bread needs time"]))
    suite = write_suite(tmp_path, {
        "name": "gen", "runtime": {"bootstrap_resamples": 50},
        "models": [{"name": "t5", "source": str(tiny_t5)}, {"name": "gpt2", "source": str(tiny_gpt2)},
                   {"name": "bert-qa", "source": str(tiny_bert_qa)}],
        "tasks": [
            {"name": "mt", "type": "translation", "options": {"max_new_tokens": 5},
             "dataset": {"path": str(data), "fields": {"source": "translation.en", "reference": "translation.de"}},
             "metrics": ["bleu", "chrf"], "metric_options": {"bleu": {"lowercase": True}}},
            {"name": "qa", "type": "qa", "options": {"max_new_tokens": 4},
             "dataset": {"path": str(data), "fields": {"answers": "answers.text"}}},
        ]})
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    frame = load_results(out).set_index(["model", "task"])
    assert result.exit_code == 1  # bert-qa cannot translate
    assert frame.loc[("bert-qa", "mt"), "status"] == "unsupported"
    for key in [("t5", "mt"), ("gpt2", "mt"), ("t5", "qa"), ("gpt2", "qa"), ("bert-qa", "qa")]:
        assert frame.loc[key, "status"] == "ok", frame.loc[key, "reason"]
    row = frame.loc[("t5", "mt")]
    assert "case:lc" in row["settings"]["metric_signatures"]["bleu"]
    assert row["bleu_ci_low"] <= row["bleu"] <= row["bleu_ci_high"]
    assert frame.loc[("bert-qa", "qa"), "settings"]["resolved"]["method"] == "extractive"
    assert frame.loc[("gpt2", "qa"), "settings"]["resolved"]["method"] == "generative"


def test_out_of_memory_is_recorded_and_the_run_goes_on(tmp_path, tiny_gpt2, tiny_llama, corpus_file, monkeypatch):
    import torch

    from benchbench.tasks import TASK_TYPES

    perplexity = TASK_TYPES["perplexity"]
    original = perplexity.predict

    def predict(backend, rows, settings, batch_size):
        if backend.loaded.info.model_type == "gpt2":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        yield from original(backend, rows, settings, batch_size)

    monkeypatch.setattr(perplexity, "predict", predict)
    suite = write_suite(tmp_path, {
        "name": "oom",  # runs in this process (tests/helpers.py), where the patched task lives
        "models": [{"name": "gpt2", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)}],
        "tasks": [{"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus_file)}}]})
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 1
    frame = load_results(out).set_index("model")
    assert frame.loc["gpt2", "status"] == "oom" and "20.00 GiB" in frame.loc["gpt2", "reason"]
    assert frame.loc["llama", "status"] == "ok" and math.isfinite(frame.loc["llama", "bits_per_byte"])


@pytest.mark.parametrize("content,expected", [("", "empty file"),
                                              ('{"sentence": "ok", "label": "a"}\n{not json\n', "valid jsonl")])
def test_broken_data_files_get_a_clear_reason(tmp_path, tiny_gpt2, content, expected):
    data = tmp_path / "data.jsonl"
    data.write_text(content)
    suite = write_suite(tmp_path, {"name": "bad", "models": [{"name": "g", "source": str(tiny_gpt2)}],
                                   "tasks": [{"name": "t", "type": "classification",
                                              "dataset": {"path": str(data), "fields": {"text": "sentence"}}}]})
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    row = load_results(tmp_path / "r").iloc[0]
    assert row["status"] == "unavailable" and expected in row["reason"]
