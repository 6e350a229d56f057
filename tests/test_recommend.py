"""recommend and estimate: ranking, exclusions with reasons, JSON, estimates flagged."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import sentiment_and_perplexity, write_suite

from benchbench.cli import main
from benchbench.estimate import GIB, count_parameters, estimate_from_shape


@pytest.fixture
def results(tmp_path, tiny_gpt2, tiny_llama, tiny_bert_classifier, sentiment_file, corpus_file):
    suite = write_suite(tmp_path, sentiment_and_perplexity("rec", 200, sentiment_file, corpus_file, [
        {"name": "gpt2", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)},
        {"name": "bert", "source": str(tiny_bert_classifier)}, {"name": "ghost", "source": "no-such-org/nothing-here"}]))
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
    table = CliRunner().invoke(main, ["recommend", "--results", str(results), "--min-score", "accuracy=1.01"])
    assert table.exit_code == 1 and "no model fits" in table.output and "accuracy" in table.output \
        and "< 1.01" in table.output  # nothing fits: exit 1, with the reasons
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


@pytest.mark.parametrize("args,message", [
    (["--metric", "blue"], "no 'blue' score in the results"),
    (["--budget-gb", "-3"], "is not a positive number"),
    (["--budget-gb", "nan"], "is not a positive number"),
    (["--max-latency-ms", "0"], "is not a positive number"),
    (["--min-score", "30"], "METRIC=VALUE"),
    (["--min-score", "acuracy=0.5"], "did you mean 'accuracy'"),
    (["--min-score", "accuracy=lots"], "not a number"),
    (["--task", "ppl", "--min-score", "bleu=20"], "no 'bleu' score in the results of task 'ppl'"),
])
def test_recommend_rejects_nonsense_with_a_clear_error(results, args, message):
    output = CliRunner().invoke(main, ["recommend", "--results", str(results), *args])
    assert output.exit_code == 2, output.output
    assert message in output.output and "Traceback" not in output.output


def test_min_score_is_direction_aware_and_scoped_to_its_metric(results):
    data = json.loads(CliRunner().invoke(main, ["recommend", "--results", str(results), "--format", "json",
                                                "--min-score", "bits_per_byte=0.001"]).output)
    ppl = [c for c in data["tasks"]["ppl"] if c["excluded"]]
    assert ppl and all("bits_per_byte" in c["excluded"][-1] and ">" in c["excluded"][-1] for c in ppl if c["scores"])
    assert not any("bits_per_byte" in r for c in data["tasks"]["sentiment"] for r in c["excluded"])
    assert data["nothing_fits"] == ["ppl"] and data["constraints"]["min_scores"] == {"bits_per_byte": 0.001}


def test_estimate_keeps_quantised_embeddings_in_16_bits_and_caps_sliding_window_caches():
    llama3 = {"layers": 32, "kv_heads": 8, "head_dim": 128, "hidden_size": 4096, "intermediate_size": 14336,
              "vocab_size": 128256, "max_positions": 8192, "tied_embeddings": 0}
    int4 = estimate_from_shape(8_030_261_248, llama3, "int4", 1, 2048)
    embeddings = 2 * 128256 * 4096  # input embeddings and the untied output layer, in 16 bits
    assert int4.weights_gib == pytest.approx(((8_030_261_248 - embeddings) * 0.5 * 1.03 + embeddings * 2) / GIB)
    assert 5.2 < int4.weights_gib < 5.4  # not 3.85 (every parameter at 4 bits)
    gemma = {"layers": 18, "kv_heads": 1, "head_dim": 256, "sliding_window": 512, "sliding_layers": 15}
    windowed = estimate_from_shape(268_000_000, gemma, "bfloat16", 1, 32768)
    assert windowed.kv_cache_gib == pytest.approx(2 * (3 * 32768 + 15 * 512) * 256 * 2 / GIB)


def test_estimate_warns_beyond_the_context_length(tiny_llama):
    output = CliRunner().invoke(main, ["estimate", str(tiny_llama), "--seq-len", "100000"])
    assert output.exit_code == 0 and "beyond the model's context length (128)" in output.output
    quiet = CliRunner().invoke(main, ["estimate", str(tiny_llama), "--seq-len", "64"])
    assert "warning" not in quiet.output
    figures = json.loads(CliRunner().invoke(main, ["estimate", str(tiny_llama), "--seq-len", "100000",
                                                   "--format", "json"]).output)
    assert figures["warnings"] and "128" in figures["warnings"][0]
