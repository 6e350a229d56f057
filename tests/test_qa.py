"""Question answering: span decoding rules, long contexts, and generative QA."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import backend, load

from benchbench.backends.hf.extractive_qa import best_spans, windows_for
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.base import Scoring

QA = TASK_TYPES["qa"]
CONTEXT = ("The lighthouse at the end of the harbour was built in the early years of the last century. "
           "Its keeper lived in a small stone house beside the tower and climbed the stairs three times "
           "each night. ") * 6
ROWS = [{"question": "Where did the keeper live?", "context": CONTEXT, "answers": ["in a small stone house"]},
        {"question": "When was it built?", "context": "It was built in 1901 by the town.", "answers": ["1901"]},
        {"question": "What did he climb?", "context": CONTEXT[:200], "answers": ["the stairs"]}]


def _options(**overrides):
    return {name: spec.default for name, spec in QA.options.items()} | {"seed": 0} | overrides


def _run(loaded, options, batch_size=4, rows=ROWS):
    settings = QA.settings(loaded, options, (), rows)
    results = sorted((r for b in QA.predict(loaded, rows, settings, batch_size) for r in b), key=lambda r: r.index)
    return settings, results


def test_best_spans_respects_rules():
    start = np.array([9.0, 1.0, 5.0, 0.0, 0.0, 0.0], dtype=np.float32)  # CLS, q, ctx, ctx, ctx, ctx
    end = np.array([9.0, 1.0, 0.0, 0.0, 0.0, 6.0], dtype=np.float32)
    desired = np.array([1, 0, 1, 1, 1, 1])
    spans = best_spans(start, end, desired, max_answer_len=4, top=5)
    s, e, score = spans[0]
    assert (s, e) == (2, 5)  # CLS is never chosen, end >= start, span within 4 tokens
    assert all(e2 >= s2 and e2 - s2 < 4 for s2, e2, _ in spans)
    assert all(s2 != 1 and e2 != 1 for s2, e2, _ in spans)  # the question token is excluded
    short = best_spans(start, end, desired, max_answer_len=2, top=1)[0]
    assert short[1] - short[0] < 2


def test_long_contexts_are_split_into_overlapping_windows(tiny_bert_qa):
    loaded = load(tiny_bert_qa, "question-answering")
    windows = windows_for(loaded, [ROWS[0]["question"]], [ROWS[0]["context"]], max_seq_len=64, doc_stride=16)
    assert len(windows) > 3 and all(len(w.input_ids) <= 64 for w in windows)
    assert {w.example for w in windows} == {0}


@pytest.mark.parametrize("max_seq_len", [48, 384])
def test_extractive_answers_are_context_spans_and_batch_invariant(tiny_bert_qa, max_seq_len):
    loaded = backend(tiny_bert_qa, "question-answering")
    options = _options(max_seq_len=max_seq_len, doc_stride=16)
    settings, single = _run(loaded, options, batch_size=1)
    _, batched = _run(loaded, options, batch_size=8)
    assert settings["method"] == "extractive" and settings["max_seq_len"] == max_seq_len
    assert [r.prediction for r in single] == [r.prediction for r in batched]
    for row, result in zip(ROWS, single):
        start, end = result.details["start"], result.details["end"]
        assert result.prediction == row["context"][start:end] and result.prediction
    assert single[0].details["score"] == pytest.approx(batched[0].details["score"], rel=1e-4)


def test_generative_qa_with_a_causal_lm(tiny_gpt2):
    loaded = backend(tiny_gpt2, "causal-lm")
    rows = [dict(r, context=r["context"][:80]) for r in ROWS]
    settings, results = _run(loaded, _options(max_new_tokens=5), rows=rows)
    assert settings["method"] == "generative" and settings["stop"] == ["\n"]
    assert results[1].input.endswith("Question: When was it built?\nAnswer:")
    scored = QA.score(results, settings, Scoring(resamples=100, seed=0))
    assert set(scored.scores) == {"exact_match", "f1"} and 0 <= scored.scores["f1"] <= 100
