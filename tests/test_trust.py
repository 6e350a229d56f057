"""Figures a user can trust (issue 29): latency that compares like with like and counts only
beyond its noise, a defined tie-break, cautions where a careful reader would add them, ties that
look like contradictions explained, exports that apply the limits, and a resumed served result
that counts every example."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.backends.base import Generation, RequestTiming
from benchbench.cli import main
from benchbench.metrics.catalogue import CATALOGUE
from benchbench.report.terminal import LEGEND, format_table
from benchbench.run.signals import RunInterrupted
from benchbench.selection import Limits, Selection
from benchbench.selection.ranking import Candidate, rank, speed_order

SECONDS_PER_STEP = 0.004


class Wordy(FakeBackend):
    """Echoes as FakeBackend does, writing `tokens` tokens per answer, each decoding step of a
    batch taking SECONDS_PER_STEP: two of them differ only in how much they write."""

    tokens = 3

    def generate(self, prompts, settings, batch_size):
        for batch in super().generate(prompts, settings, batch_size):
            time.sleep(SECONDS_PER_STEP * self.tokens)  # a batch takes as many steps as its longest answer
            yield [(i, replace(out, generated_tokens=self.tokens)) for i, out in batch]


class Terse(Wordy):
    tokens = 2


class Verbose(Wordy):
    tokens = 12


def _translation_suite(tmp_path, models, rows=24, **runtime):
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps({"source": f"sentence number {i} about bread", "reference": f"sentence {i}"})
                            + "\n" for i in range(rows)))
    return write_suite(tmp_path, {"name": "trust", "runtime": {"batch_size": 4, "bootstrap_resamples": 100, **runtime},
                                  "models": [{"name": m, "source": f"org/{m}"} for m in models],
                                  "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                                             "options": {"prompt": "Translate: {source}"}}]})


def _recommend(out, *args):
    done = CliRunner().invoke(main, ["recommend", "--results", str(out), "--format", "json", *args])
    assert done.exit_code in (0, 1), done.output
    return json.loads(done.output)


def test_a_model_that_writes_more_is_not_called_slower(tmp_path, monkeypatch):
    backends = {"terse": Terse, "verbose": Verbose}
    monkeypatch.setattr("benchbench.run.worker.open_backend",
                        lambda spec, runtime, device: backends[spec.name](spec.name))
    out = tmp_path / "r"
    assert CliRunner().invoke(main, ["run", str(_translation_suite(tmp_path, backends)), "-o", str(out),
                                     "--no-progress"]).exit_code == 0
    candidates = {c["model"]: c for c in _recommend(out)["tasks"]["mt"]}
    terse, verbose = candidates["terse"], candidates["verbose"]
    assert terse["latency_unit"] == verbose["latency_unit"] == "ms per output token"
    assert verbose["raw_latency_ms"] > 3 * terse["raw_latency_ms"]  # whole batches: 12 steps against 2
    assert verbose["latency_ms"] == pytest.approx(terse["latency_ms"], rel=0.3)  # per token: the same
    assert speed_order(Candidate(**_fields(terse)), Candidate(**_fields(verbose))) == 0


def _fields(c: dict) -> dict:
    return {k: v for k, v in c.items() if k in Candidate.__dataclass_fields__}


def _candidate(model, score, latency, low=None, high=None, memory=1.0, source="estimated"):
    return Candidate(model=model, task="t", metric="accuracy", score=score, ci_low=None, ci_high=None,
                     memory_gib=memory, memory_source=source, latency_ms=latency, latency_source="unit",
                     parameters=None, n=100, latency_low=low, latency_high=high, scores={"accuracy": score})


def test_noise_in_latency_does_not_make_a_model_pareto():
    better, close = _candidate("better", 0.80, 100.0, 90.0, 110.0), _candidate("close", 0.79, 97.0, 88.0, 107.0)
    ranked = {c.model: c for c in rank([better, close], CATALOGUE)}
    assert ranked["better"].pareto and not ranked["close"].pareto  # 3% faster within its noise: not a trade-off
    fast = _candidate("fast", 0.79, 50.0, 45.0, 55.0)
    ranked = {c.model: c for c in rank([_candidate("better", 0.80, 100.0, 90.0, 110.0), fast], CATALOGUE)}
    assert ranked["fast"].pareto  # twice as fast, beyond the noise: a real trade-off
    tight = _candidate("tight", 0.79, 95.0, 94.9, 95.1)  # intervals apart, but only 5% faster: not called faster
    assert speed_order(tight, _candidate("ref", 0.8, 100.0, 99.9, 100.1)) == 0


def test_equal_scores_rank_the_faster_model_first():
    from benchbench.selection.figures import REMOTE_MEMORY

    local = _candidate("a-local-copy", 0.9, 200.0, 190.0, 210.0, memory=0.5)
    served = _candidate("z-served-copy", 0.9, 50.0, 45.0, 55.0, memory=None, source=REMOTE_MEMORY)
    ranked = rank([local, served], CATALOGUE)
    assert [c.model for c in ranked] == ["z-served-copy", "a-local-copy"]
    assert ranked[0].pareto and not ranked[1].pareto


def test_a_tie_whose_interval_excludes_zero_says_why(tmp_path):
    tied = _candidate("second", 0.5, 10.0)
    tied.rank, tied.tied_with_best = 2, True
    tied.vs_best = {"difference": -0.5, "low": -0.83, "high": -0.17, "p_value": 0.0625, "p_holm": 0.0625,
                    "test": "McNemar exact", "n": 6}
    best = _candidate("first", 1.0, 10.0)
    best.rank, best.tied_with_best = 1, True
    from benchbench.selection.recommend import Recommendation

    text = format_table(Recommendation(Limits(), None, {"t": [best, tied]}, None, []))
    line = next(x for x in text.splitlines() if "second" in x)
    assert "=best (the interval excludes 0, but McNemar exact on n=6 gives Holm p=0.062" in line
    assert "too few examples to call it worse" in line


def test_cautions_a_one_label_classifier_and_a_score_no_better_than_the_majority(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    data = tmp_path / "s.jsonl"  # every text says 'good': the fake head answers positive to all
    data.write_text("".join(json.dumps({"text": f"good film {i}", "label": "positive" if i % 4 == 0 else "negative"})
                            + "\n" for i in range(12)))
    suite = write_suite(tmp_path, {"name": "c", "models": [{"name": "m", "source": "org/m"}],
                                   "tasks": [{"name": "s", "type": "classification", "dataset": {"path": str(data)},
                                              "options": {"method": "head"}}]})
    CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"])
    result = _recommend(tmp_path / "r")
    (candidate,) = result["tasks"]["s"]
    assert candidate["baseline"] == 0.75 and candidate["score"] == 0.25
    assert candidate["flags"] == ["answered 'positive' for every one of the 12 examples"]
    cautions = result["cautions"]["s"]
    assert any("rests on only 12 examples" in c for c in cautions)
    assert any("no better than always answering the most common label (0.75)" in c for c in cautions)
    assert any("answered 'positive' for every one" in c for c in cautions)
    text = CliRunner().invoke(main, ["recommend", "--results", str(tmp_path / "r")]).output
    assert "(majority class 0.75)" in text and "! answered 'positive'" in text and "caution:" in text


def test_the_legend_defines_every_column_recommend_prints():
    for term in ("n:", "majority class", "vs best", "=best", "pareto", "mem:", "latency:", "raw", "cost", "!:",
                 "ms per output token", "ms per example"):
        assert term in LEGEND, term


def test_report_exports_apply_the_limits_and_can_write_to_stdout(tmp_path, monkeypatch):
    backends = {"terse": Terse, "verbose": Verbose}
    monkeypatch.setattr("benchbench.run.worker.open_backend",
                        lambda spec, runtime, device: backends[spec.name](spec.name))
    out = tmp_path / "r"
    CliRunner().invoke(main, ["run", str(_translation_suite(tmp_path, backends)), "-o", str(out), "--no-progress"])
    done = CliRunner().invoke(main, ["report", str(out), "--format", "json", "--min-score", "bleu=1000", "-o", "-"])
    assert done.exit_code == 0, done.output
    rows = json.loads(done.output)
    assert all(r["rank"] is None and "bleu" in r["excluded"] for r in rows)  # the limit excludes every model
    assert not (tmp_path / "-").exists() and not (out / "-").exists()
    free = json.loads(CliRunner().invoke(main, ["report", str(out), "--format", "json", "-o", "-"]).output)
    assert sorted(r["rank"] for r in free) == [1, 2]
    csv = CliRunner().invoke(main, ["report", str(out), "--format", "csv", "--min-score", "bleu=1000", "-o", "-"])
    assert csv.output.splitlines()[0].count("excluded") == 1 and "bleu" in csv.output.splitlines()[1]


class Served(FakeBackend):
    """A served model: each answer timed as a request and its tokens counted by the 'server',
    with a price; `stop_after`: raise RunInterrupted (as Ctrl-C would) after that many answers."""

    stop_after: int | None = None

    def load(self, capability):
        info = super().load(capability)
        return replace(info, device="remote", serving={"price_per_million_tokens": {"input": 1.0, "output": 2.0},
                                                       "concurrency": 1, "max_failed_fraction": 0.0})

    def generate(self, prompts, settings, batch_size):
        for i, prompt in enumerate(prompts):
            if Served.stop_after is not None and i == Served.stop_after:
                Served.stop_after = None
                raise RunInterrupted(2)
            text = prompt.rsplit(": ", 1)[-1]
            number = int(text.split()[2])  # the example's own number: its counts do not depend on the call
            yield [(i, Generation(text, 10 + number, 3 + number % 4, RequestTiming(0.001, 0.002, 1)))]


def test_a_resumed_served_result_counts_every_example(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: Served(spec.name))
    suite = _translation_suite(tmp_path, ["served"], rows=10, batch_size=1)
    whole = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "whole"), "--no-progress"])
    assert whole.exit_code == 0, whole.output
    Served.stop_after = 6
    stopped = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"])
    assert stopped.exit_code != 0
    resumed = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"])
    assert resumed.exit_code == 0 and "examples resumed" in resumed.output, resumed.output
    a = load_results(tmp_path / "whole").iloc[0]
    b = load_results(tmp_path / "r").iloc[0]
    for column in ("examples", "prompt_tokens", "generated_tokens", "cost_total", "cost_per_1k_examples",
                   "request_latency_e2e_count", "request_latency_ttft_count", "bleu"):
        assert b[column] == pytest.approx(a[column]), column
    assert b["timed_examples"] < b["examples"] == 10  # the earlier run's examples were timed by that run


def test_each_result_records_the_threads_torch_used(tmp_path, monkeypatch):
    from benchbench.measure.threads import machine_threads

    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: Terse(spec.name))
    out = tmp_path / "r"
    CliRunner().invoke(main, ["run", str(_translation_suite(tmp_path, ["terse"], rows=4)), "-o", str(out),
                              "--no-progress"])
    with Selection.open(out) as selection:
        assert selection.records[0].environment["threads"] == machine_threads()
    assert load_results(out).iloc[0]["threads"] == machine_threads()


def test_an_evaluate_scores_direction_comes_from_whole_words_of_its_name():
    from benchbench.metrics.catalogue import evaluate_info

    assert evaluate_info("m", "wer").higher_is_better is False
    assert evaluate_info("m", "mean_wer").higher_is_better is False
    assert evaluate_info("m", "answer_f1").higher_is_better is True  # "wer" inside a word is not an error rate
    assert evaluate_info("m", "character_overlap").higher_is_better is True  # nor "ter"
    assert evaluate_info("m", "answer_f1", higher_is_better=False).higher_is_better is False  # the suite decides


def test_the_overall_caution_compares_models_ranked_on_as_many_tasks():
    from benchbench.selection.recommend import overall_cautions

    rows = [{"model": "a", "mean_rank": 1.5, "tasks_ranked": 2, "rank": 1},
            {"model": "b", "mean_rank": 1.0, "tasks_ranked": 1, "rank": 2}]
    assert overall_cautions(rows, {}) == []  # b is ranked on fewer tasks: no "lead by -0.5"
    rows[1]["tasks_ranked"] = 2
    rows[1]["mean_rank"] = 1.75
    assert "leads b by 0.25" in overall_cautions(rows, {})[0]
