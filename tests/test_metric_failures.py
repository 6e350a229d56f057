"""One metric's failure loses that metric only; `evaluate:` modules work from a local script."""

from __future__ import annotations

import json

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
    assert result.exit_code == 0, result.output
    row = load_results(tmp_path / "r").iloc[0]
    assert row["status"] == "ok" and row["chrf"] == pytest.approx(100.0) and row["same_length"] == 1.0
    failures = row["settings"]["metric_failures"]
    assert list(failures) == ["evaluate:no-such-module-anywhere"] and "could not be loaded" in failures[
        "evaluate:no-such-module-anywhere"]
    assert "metric evaluate:no-such-module-anywhere failed" in row["reason"]
    assert "metric evaluate:no-such-module-anywhere failed" in result.output
