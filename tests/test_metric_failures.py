"""One metric's failure loses that metric only; `evaluate:` modules work from a local script."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main

pytest.importorskip("evaluate")

LOCAL_MODULE = '''
import datasets
import evaluate


class SameLength(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="share of outputs as long as their first reference", citation="",
                                   inputs_description="", features=datasets.Features({
                                       "predictions": datasets.Value("string"),
                                       "references": datasets.Sequence(datasets.Value("string"))}))

    def _compute(self, predictions, references):
        same = [len(p.split()) == len(r[0].split()) for p, r in zip(predictions, references)]
        return {"same_length": sum(same) / len(same)}
'''


def test_a_failing_metric_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    module = tmp_path / "same_length.py"
    module.write_text(LOCAL_MODULE)
    data = tmp_path / "t.jsonl"
    sentences = ["the film was a joy to watch", "bread needs flour water and time"]
    data.write_text("".join(json.dumps({"source": s, "reference": s}) + "\n" for s in sentences))
    suite = write_suite(tmp_path, {
        "name": "s", "models": [{"name": "m", "source": "org/m"}],
        "tasks": [{"name": "t", "type": "translation", "dataset": {"path": str(data)}, "options": {"prompt": ": {source}"},
                   "metrics": ["chrf", f"evaluate:{module}", "evaluate:no-such-module-anywhere"]}]})
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"])
    assert result.exit_code == 1, result.output  # a metric the suite asked for was not computed
    assert "m / t: metric evaluate:no-such-module-anywhere was not computed" in result.output
    row = load_results(tmp_path / "r").iloc[0]
    assert row["status"] == "ok" and row["chrf"] == pytest.approx(100.0) and row["same_length"] == 1.0
    failures = row["settings"]["metric_failures"]
    assert list(failures) == ["evaluate:no-such-module-anywhere"] and "could not be loaded" in failures[
        "evaluate:no-such-module-anywhere"]
    assert "metric evaluate:no-such-module-anywhere failed" in row["reason"]
    assert "metric evaluate:no-such-module-anywhere failed" in result.output
    assert "same_length" in result.output.split("task: t")[1]  # the evaluate module's score is in the run's table


def test_an_evaluate_score_is_ranked_compared_and_reported(tmp_path, monkeypatch):
    """A score only an `evaluate:` module knows gets a catalogue entry recorded with the result, so
    `recommend --metric` ranks by it, in its direction, and the report shows it."""
    module = tmp_path / "same_length.py"
    module.write_text(LOCAL_MODULE)
    data = tmp_path / "t.jsonl"
    sentences = ["the film was a joy to watch", "bread needs flour water and time", "a long evening"]
    data.write_text("".join(json.dumps({"source": s, "reference": s}) + "\n" for s in sentences))

    class Shorter(FakeBackend):  # drops the last word: never the reference's length
        def generate(self, prompts, settings, batch_size):
            for batch in super().generate(prompts, settings, batch_size):
                yield [(i, replace(out, text=" ".join(out.text.split()[:-1]))) for i, out in batch]

    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device:
                        Shorter(spec.name) if spec.name == "short" else FakeBackend(spec.name))
    suite = write_suite(tmp_path, {
        "name": "s", "models": [{"name": "short", "source": "org/short"}, {"name": "echo", "source": "org/echo"}],
        "tasks": [{"name": "t", "type": "translation", "dataset": {"path": str(data)}, "options": {"prompt": ": {source}"},
                   "metrics": ["chrf", f"evaluate:{module}"]}]})
    assert CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"]).exit_code == 0
    ranked = CliRunner().invoke(main, ["recommend", "--results", str(tmp_path / "r"), "--metric", "same_length",
                                       "--format", "json"])
    assert ranked.exit_code == 0, ranked.output
    order = [(c["model"], c["score"]) for c in json.loads(ranked.output)["tasks"]["t"] if c["rank"]]
    assert order == [("echo", 1.0), ("short", 0.0)]
    listed = CliRunner().invoke(main, ["recommend", "--results", str(tmp_path / "r"), "--min-score", "same_length=0.5"])
    assert "excluded short: same_length 0 < 0.5" in listed.output
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<th data-sort data-numeric>same_length</th>" in page
