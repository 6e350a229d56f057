"""The served-model rules that need no server: when and how long to wait before a retry,
and how a generated answer is matched to a label."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from types import SimpleNamespace

import pytest

from benchbench.backends.api.retry import (
    CAP_SECONDS,
    LONGEST_RETRY_AFTER,
    backoff_seconds,
    retry_after_seconds,
    retryable_status,
)
from benchbench.backends.base import RequestTiming
from benchbench.errors import TaskConfigError
from benchbench.measure.cost import task_cost
from benchbench.tasks.classification import match_answer


@pytest.mark.parametrize("status, retry", [(408, True), (409, True), (429, True), (500, True), (503, True),
                                           (400, False), (401, False), (403, False), (404, False), (422, False)])
def test_which_statuses_are_retried(status, retry):
    assert retryable_status(status) is retry


def test_retry_after_in_milliseconds_seconds_and_as_a_date():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds({"Retry-After-Ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"Retry-After": format_datetime(now + timedelta(seconds=7), usegmt=True)}, now) == 7.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None and retry_after_seconds({}) is None


def test_backoff_honours_retry_after_and_otherwise_jitters_exponentially():
    rng = random.Random(0)
    assert backoff_seconds(1, 4.0, rng) == 4.0
    assert backoff_seconds(1, 10_000.0, rng) == LONGEST_RETRY_AFTER
    for attempt in range(1, 12):
        waits = [backoff_seconds(attempt, None, rng) for _ in range(200)]
        ceiling = min(CAP_SECONDS, 0.5 * 2 ** (attempt - 1))
        assert 0 <= min(waits) and max(waits) <= ceiling and max(waits) > 0.8 * ceiling  # full jitter, capped
        assert len(set(waits)) > 150  # clients that failed together do not come back together


@pytest.mark.parametrize("answer, label", [
    ("The film is very positive.", "positive"), ("Negative. Not good at all.", "negative"),
    ("POSITIVE", "positive"), ("I liked it", None), ("positively", None), ("negative or positive", "negative")])
def test_answers_are_matched_to_the_first_label_named(answer, label):
    assert match_answer(answer, {"positive": " positive", "negative": " negative"}) == label


def test_the_longest_choice_wins_at_one_position():
    assert match_answer("not bad at all", {"ok": " not bad", "bad": " not"}) == "ok"


def test_request_timing_as_stored():
    details = RequestTiming(first_token_seconds=0.2, total_seconds=1.0, attempts=2).to_details(generated_tokens=5)
    assert details == {"ttft_ms": 200.0, "e2e_ms": 1000.0, "tpot_ms": pytest.approx(200.0), "attempts": 2}
    assert RequestTiming(None, 1.0, 1).to_details(5)["tpot_ms"] is None  # no first token seen: no per-token time


def test_cost_from_token_counts_and_price():
    cost = task_cost({"input": 2.0, "output": 6.0}, prompt_tokens=1_000, generated_tokens=500, examples=10)
    assert cost["total"] == pytest.approx(0.005) and cost["per_example"] == pytest.approx(0.0005)
    assert cost["per_1k_examples"] == pytest.approx(0.5) and cost["per_million_tokens"] == pytest.approx(0.005 / 1500 * 1e6)
    assert task_cost(None, 1, 1, 1) is None
    assert "no token counts" in task_cost({"input": 1.0, "output": 1.0}, None, 5, 1)["note"]


def test_the_continuation_is_the_tokens_that_end_after_the_context():
    from benchbench.backends.api.backend import continuation_loglikelihood

    # "Review: good" + " positive", echoed as [Review][:][ good][ positive] + one generated token
    text = "Review: good positive"
    offsets, values = [0, 6, 7, 12, 21], [None, -1.0, -2.0, -0.5, -3.0]
    scored = continuation_loglikelihood(offsets, values, context_end=len("Review: good"), text_length=len(text))
    assert (scored.total, scored.tokens, scored.tokens_read) == (-0.5, 1, 4)
    with pytest.raises(TaskConfigError):  # nothing before the continuation: no context to condition on
        continuation_loglikelihood([0, 7], [None, -1.0], context_end=0, text_length=12)


def test_echoed_logprobs_are_used_only_where_they_agree_with_generation():
    from benchbench.backends.api.backend import echo_disagreement

    def echo(values):
        return SimpleNamespace(text_offset=[0, 3, 11, 14, 21, 24], token_logprobs=values)

    prefix = 24  # "The capital of France is" + the generated token, which starts at 24
    assert echo_disagreement(-0.30, echo([None, -5.0, -1.0, -2.0, -1.5, -0.35]), prefix) is None
    wrong = echo_disagreement(-0.26, echo([None, -13.1, -15.4, -13.0, -11.5, -8.45]), prefix)  # llama-cpp-python
    assert wrong and "disagrees" in wrong and "-8.450" in wrong
    assert "no prompt log-probabilities" in echo_disagreement(-0.3, echo([None] * 6), prefix)
    assert "no prompt log-probabilities" in echo_disagreement(-0.3, SimpleNamespace(text_offset=[24],
                                                                                   token_logprobs=[-0.3]), prefix)
