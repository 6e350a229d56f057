"""The decision map: each flip it reports is real, checked by running `recommend` at the
flip's value and just past it, and the models the report pairs cover every possible pick."""

from __future__ import annotations

import pytest
from helpers import picks_of, recommend_json, three_model_store

from benchbench.metrics.catalogue import CATALOGUE
from benchbench.selection import Limits
from benchbench.selection.decision import possible_picks
from benchbench.selection.figures import REMOTE_MEMORY
from benchbench.selection.ranking import Candidate, picks, rank_under


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_gpt2, tiny_llama, tiny_bert_classifier):
    return three_model_store(tmp_path_factory.mktemp("decision"), tiny_gpt2, tiny_llama, tiny_bert_classifier)


FLAGS = {"budget_gib": "--budget-gb", "max_latency_ms": "--max-latency-ms"}


def test_every_flip_agrees_with_recommend_either_side_of_it(results):
    mapped = {entry["constraint"] if not entry["metric"] else entry["metric"]: entry
              for entry in recommend_json(results)["decision_map"]}
    assert {"budget_gib", "max_latency_ms", "accuracy", "bits_per_byte"} <= set(mapped)
    budget = mapped["budget_gib"]
    assert budget["unit"] == "GiB" and budget["stricter"] == "below" and budget["current"] is None
    assert budget["flips"], "three models of different sizes: a budget must change the pick somewhere"
    checked = 0
    for key, entry in mapped.items():
        for flip in entry["flips"]:
            at, past = flip["at"], flip["at"] * (1 - 1e-6) if entry["stricter"] == "below" else flip["at"] + 1e-6
            if key in FLAGS:
                before, after = (recommend_json(results, FLAGS[key], repr(v)) for v in (at, past))
            else:
                before, after = (recommend_json(results, "--min-score", f"{key}={v!r}") for v in (at, past))
            assert picks_of(before)[flip["task"] or ""] == flip["pick"], (key, flip)
            assert picks_of(after)[flip["task"] or ""] == flip["then"], (key, flip)
            checked += 1
    assert checked >= 3
    # the words say the same
    first = budget["flips"][0]
    assert first["text"].startswith(f"{first['task'] or 'overall'}: under {first['at']:.4g} GiB")


def test_the_map_holds_the_other_constraints_where_they_are(results):
    free = next(e for e in recommend_json(results)["decision_map"] if e["constraint"] == "budget_gib")
    tight = next(e for e in recommend_json(results, "--min-score", "accuracy=1.0")["decision_map"]
                 if e["constraint"] == "budget_gib")
    assert tight["flips"] != free["flips"]  # no model reaches accuracy 1.0 on sentiment: nothing there flips
    assert not [f for f in tight["flips"] if f["task"] == "sentiment"]


def _candidate(model: str, score: float, memory: float | None, latency: float | None, remote: bool = False) -> Candidate:
    return Candidate(model=model, task="t", metric="accuracy", score=score, ci_low=None, ci_high=None,
                     memory_gib=memory, memory_source=REMOTE_MEMORY if remote else "estimated", latency_ms=latency,
                     latency_source="probe", parameters=None, n=10, scores={"accuracy": score})


def test_possible_picks_are_exactly_the_models_some_limits_make_the_pick():
    candidates = [_candidate("big", 0.9, 8.0, 50.0), _candidate("small-slow", 0.8, 1.0, 90.0),
                  _candidate("dominated", 0.7, 9.0, 95.0), _candidate("served", 0.6, None, 200.0, remote=True),
                  _candidate("unknown-memory", 0.5, None, 10.0)]
    possible = {c.model for c in possible_picks(candidates, CATALOGUE)}
    assert possible == {"big", "small-slow", "served", "unknown-memory"}
    seen = set()
    for budget in (None, 0.5, 1.0, 8.0, 9.0):
        for latency in (None, 20.0, 60.0, 95.0, 300.0):
            seen.add(picks(rank_under({"t": candidates}, Limits(budget, latency), CATALOGUE))["t"])
    assert seen - {None} == possible
