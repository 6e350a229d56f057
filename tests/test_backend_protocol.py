"""Tasks know models only through the backend protocols: every registered backend implements
the core and exactly the capability protocols it can claim, and a small deterministic backend
(tests/fake_backend.py) runs every task type through the real driver, with exact figures."""

from __future__ import annotations

import json
import math
import pkgutil
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.backends.base import CAPABILITIES, CLASSIFY, GENERATE, LOGLIKELIHOOD, ROLLING, SPANS
from benchbench.backends.capabilities import conformance_problems
from benchbench.backends.registry import BACKENDS
from benchbench.cli import main

REGISTERED = {name: (entry.factory, entry.capabilities) for name, entry in BACKENDS.items()}


@pytest.mark.parametrize("backend_class, capabilities", [*REGISTERED.values(), (FakeBackend, frozenset(CAPABILITIES))],
                         ids=[*REGISTERED, "fake"])
def test_every_backend_implements_the_core_and_exactly_the_capabilities_it_can_claim(backend_class, capabilities):
    assert set(REGISTERED) >= {"hf", "api"}
    backend_class = pkgutil.resolve_name(backend_class) if isinstance(backend_class, str) else backend_class
    assert conformance_problems(backend_class, capabilities) == []


def test_the_check_finds_stubs_missing_methods_and_other_parameters():
    class Stubbed(FakeBackend):  # a generating backend that still carries a classification stub
        def generate(self, prompts, settings):  # batch_size dropped
            return iter(())

        def helper(self):
            return None

    problems = conformance_problems(Stubbed, {GENERATE, ROLLING})
    assert any("implements Classifier but its entry does not claim classify" in p for p in problems)
    assert any("Stubbed.generate(self, prompts, settings) differs from Generator.generate" in p for p in problems)
    assert any("Stubbed.helper is public but no protocol names it" in p for p in problems)
    bare = conformance_problems(object, {SPANS})
    assert bare[0].startswith("object lacks ModelBackend.load(self, capability")
    assert any(p.startswith("object lacks SpanPicker.answer_spans") for p in bare)


def test_profiles_claim_no_more_than_their_backend_can_serve():
    from benchbench.backends.api.backend import _profile
    from benchbench.backends.hf.backend import profile_of

    configs = [(SimpleNamespace(architectures=["GPT2LMHeadModel"]), "decoder-only"),
               (SimpleNamespace(architectures=["T5ForConditionalGeneration"]), "encoder-decoder"),
               (SimpleNamespace(architectures=["BertForSequenceClassification", "BertForQuestionAnswering"]), "encoder")]
    for config, family in configs:
        assert profile_of(config, family).loadable <= BACKENDS["hf"].capabilities
    for why_not_scored in (None, "the server returns no log-probabilities"):
        assert _profile(why_not_scored).loadable <= BACKENDS["api"].capabilities


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def _suite(tmp_path):
    sentences = ["good positive film", "bad negative one", "plain text"]
    long = ["the film was a joy to watch", "bread needs flour water and time", "the keeper wrote in his log"]
    return write_suite(tmp_path, {
        "name": "protocol",
        "runtime": {"batch_size": 2, "bootstrap_resamples": 0},
        "models": [{"name": "fake-lm", "source": "org/fake-lm"},
                   {"name": "fake-encoder", "source": "org/fake-encoder",
                    "task_options": {"sentiment": {"method": "head"}}}],
        "tasks": [
            {"name": "ppl", "type": "perplexity",
             "dataset": {"path": _jsonl(tmp_path / "text.jsonl", [{"text": "a b c"}, {"text": "d e"}])}},
            {"name": "sentiment", "type": "classification",
             "dataset": {"path": _jsonl(tmp_path / "sentiment.jsonl",
                                        [{"text": t, "label": label} for t, label in
                                         zip(sentences, ["positive", "negative", "negative"])])},
             "options": {"method": "choices", "prompt": "Review: {text}\nSentiment:",
                         "choices": {"positive": " positive", "negative": " negative"}}},
            {"name": "translate", "type": "translation",
             "dataset": {"path": _jsonl(tmp_path / "translation.jsonl",
                                        [{"source": s, "reference": s} for s in long])},
             "options": {"prompt": "Translate: {source}"}},
            {"name": "summarize", "type": "summarization",
             "dataset": {"path": _jsonl(tmp_path / "summaries.jsonl",
                                        [{"source": s, "reference": [s, "other"]} for s in long])},
             "options": {"prompt": "Summary: {source}"}},
            {"name": "qa", "type": "qa",
             "dataset": {"path": _jsonl(tmp_path / "qa.jsonl",
                                        [{"question": "Which film?", "context": "Paris is big.",
                                          "answers": ["Which film?", "Paris"]}])}},
        ],
    })


def test_every_task_type_runs_through_any_backend(tmp_path, monkeypatch):
    opened: list[FakeBackend] = []

    def open_fake(spec, runtime, device):
        encoder = "encoder" in spec.name
        opened.append(FakeBackend(spec.name, "encoder" if encoder else "decoder-only",
                                  (CLASSIFY, SPANS) if encoder else (LOGLIKELIHOOD, ROLLING, GENERATE)))
        return opened[-1]

    monkeypatch.setattr("benchbench.run.worker.open_backend", open_fake)
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), "-o", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output  # the encoder cannot do perplexity or generation
    frame = load_results(out).set_index(["model", "task"])

    lm = frame.loc["fake-lm"]
    assert set(lm["status"]) == {"ok"}
    # perplexity: -0.5 per word over "a b c" and "d e": 5 words, 5 tokens, 8 bytes
    assert lm.loc["ppl", "token_perplexity"] == pytest.approx(math.exp(0.5))
    assert lm.loc["ppl", "bits_per_byte"] == pytest.approx(2.5 / 8 / math.log(2))
    # choices: a label named in the text scores 5 higher; a tie goes to the first label
    assert lm.loc["sentiment", "accuracy"] == pytest.approx(2 / 3)
    assert lm.loc["sentiment", "settings"]["resolved"]["method"] == "choices"
    # generation echoes the source, which is the reference
    assert lm.loc["translate", "bleu"] == pytest.approx(100.0) and lm.loc["translate", "chrf"] == pytest.approx(100.0)
    assert lm.loc["summarize", "rougeL"] == pytest.approx(100.0)
    assert lm.loc["summarize", "settings"]["resolved"]["engine"] == "fake"  # what the backend records
    # generative QA: the echo after the last ': ' is the question, one of the gold answers
    assert lm.loc["qa", "exact_match"] == 100.0 and lm.loc["qa", "settings"]["resolved"]["method"] == "generative"
    assert lm.loc["qa", "examples"] == 1 and lm.loc["translate", "generated_tokens"] == 9

    encoder = frame.loc["fake-encoder"]
    assert encoder.loc["sentiment", "accuracy"] == 1.0  # the head: 'good' -> positive
    assert encoder.loc["sentiment", "settings"]["resolved"]["label_map"] == {"0": "negative", "1": "positive"}
    assert encoder.loc["qa", "exact_match"] == 100.0  # the span: the context's first word, 'Paris'
    assert encoder.loc["qa", "settings"]["resolved"]["method"] == "extractive"
    assert encoder.loc["ppl", "status"] == "unsupported" and "decoder-only" in encoder.loc["ppl", "reason"]
    assert encoder.loc["translate", "status"] == "unsupported" and "generates text" in encoder.loc["translate", "reason"]

    assert [b.closed for b in opened] == [True, True]
    assert opened[1].loads == [CLASSIFY, SPANS]
