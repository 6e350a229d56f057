"""recommend and estimate: ranking, exclusions with reasons, JSON, estimates flagged."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import write_suite

from benchbench.cli import main
from benchbench.estimate import GIB, count_parameters, estimate_from_shape


@pytest.fixture
def results(tmp_path, tiny_gpt2, tiny_llama, tiny_bert_classifier, sentiment_file):
    suite = write_suite(tmp_path, {
        "name": "rec", "runtime": {"bootstrap_resamples": 200},
        "models": [{"name": "gpt2", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)},
                   {"name": "bert", "source": str(tiny_bert_classifier)},
                   {"name": "ghost", "source": "no-such-org/nothing-here"}],
        "tasks": [{"name": "sentiment", "type": "classification",
                   "dataset": {"path": str(sentiment_file), "fields": {"text": "sentence"}},
                   "options": {"choices": {"positive": " positive", "negative": " negative"}}}]})
    out = tmp_path / "results"
    CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    return out


def test_recommend_ranks_and_explains_exclusions(results):
    output = CliRunner().invoke(main, ["recommend", "--results", str(results), "--format", "json"])
    assert output.exit_code == 0, output.output
    data = json.loads(output.output)
    ranked = [c for c in data["tasks"]["sentiment"] if c["rank"] is not None]
    assert sorted(c["model"] for c in ranked) == ["bert", "gpt2", "llama"]
    scores = [c["score"] for c in ranked]
    assert scores == sorted(scores, reverse=True) and ranked[0]["tied_with_best"]
    assert all(c["memory_source"] == "estimated" and c["memory_gib"] > 0 for c in ranked)  # CPU run
    assert any(c["pareto"] for c in ranked)
    ghost = next(c for c in data["tasks"]["sentiment"] if c["model"] == "ghost")
    assert ghost["rank"] is None and "unavailable" in ghost["excluded"][0]
    assert data["constraints"]["units"]["memory"] == "GiB" and data["overall"][0]["rank"] == 1


def test_budget_and_score_constraints(results):
    output = CliRunner().invoke(main, ["recommend", "--results", str(results), "--budget-gb", "0.1",
                                       "--format", "json", "--task", "sentiment"])
    data = json.loads(output.output)
    reasons = [r for c in data["tasks"]["sentiment"] for r in c["excluded"]]
    assert any("GiB > 0.1 GiB (estimated)" in r for r in reasons)
    table = CliRunner().invoke(main, ["recommend", "--results", str(results), "--min-score", "1.01"])
    assert table.exit_code == 0 and "accuracy" in table.output and "< 1.01" in table.output
    missing = CliRunner().invoke(main, ["recommend", "--results", str(results), "--task", "sentimnt"])
    assert missing.exit_code == 2 and "did you mean 'sentiment'" in missing.output


def test_estimate_matches_hand_computation(tiny_llama):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_llama)
    parameters = count_parameters(config)
    import transformers
    assert parameters == sum(p.numel() for p in transformers.AutoModelForCausalLM.from_config(config).parameters())
    shape = {"layers": 2, "kv_heads": 2, "head_dim": 8, "hidden_size": 32, "intermediate_size": 64, "vocab_size": 320}
    result = estimate_from_shape(parameters, shape, "float16", batch_size=4, seq_len=100)
    assert result.weights_gib == pytest.approx(parameters * 2 / GIB)
    assert result.kv_cache_gib == pytest.approx(2 * 2 * 4 * 100 * 2 * 8 * 2 / GIB)
    assert result.logits_gib == pytest.approx(4 * 1 * 320 * 4 / GIB)  # generation: last position only
    scoring = estimate_from_shape(parameters, shape, "float16", batch_size=4, seq_len=100, logits_positions=None)
    assert scoring.logits_gib == pytest.approx(4 * 100 * 320 * 4 / GIB)
    assert result.total_gib > 0.5  # the fixed CUDA context reserve


def test_estimate_cli(tiny_llama):
    output = CliRunner().invoke(main, ["estimate", str(tiny_llama), "--dtype", "float32", "--seq-len", "64"])
    assert output.exit_code == 0, output.output
    assert "kv_cache" in output.output and "total" in output.output and "estimate" in output.output
    bad = CliRunner().invoke(main, ["estimate", "./no/such/folder"])
    assert bad.exit_code == 2 and "does not exist" in bad.output
