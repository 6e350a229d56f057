"""Like with like: a smoke run over fewer examples never silently replaces, or mixes with,
the results over the full data; n is shown beside every score."""

from __future__ import annotations

import json

from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main

ROWS = [("good film", "positive"), ("bad film", "negative"), ("good book", "positive"), ("plain text", "negative"),
        ("good good", "positive"), ("bad day", "negative")]


def _run(tmp_path, monkeypatch, *extra):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    data = tmp_path / "sentiment.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in ROWS))
    suite = write_suite(tmp_path, {
        "name": "s", "models": [{"name": "small", "source": "org/small"}, {"name": "large", "source": "org/large"}],
        "tasks": [{"name": "sentiment", "type": "classification", "dataset": {"path": str(data)},
                   "options": {"method": "head"}}]})
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress", *extra])
    assert result.exit_code == 0, result.output


def _recommend(tmp_path, *extra):
    result = CliRunner().invoke(main, ["recommend", "--results", str(tmp_path / "r"), "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_smoke_run_does_not_replace_the_full_results(tmp_path, monkeypatch):
    _run(tmp_path, monkeypatch)
    _run(tmp_path, monkeypatch, "--limit", "2", "--models", "small")
    frame = load_results(tmp_path / "r")
    assert sorted(zip(frame["model"], frame["examples"])) == [("large", 6), ("small", 6)]

    ranked = _recommend(tmp_path)["tasks"]["sentiment"]
    assert sorted((c["model"], c["n"]) for c in ranked) == [("large", 6), ("small", 6)]
    notes = _recommend(tmp_path)["data"]["notes"]
    assert len(notes) == 1 and "compared on n=6" in notes[0] and "also stored: n=2" in notes[0]

    latest = _recommend(tmp_path, "--data", "latest")["tasks"]["sentiment"]
    assert [(c["model"], c["n"]) for c in latest] == [("small", 2)]  # never n=2 beside n=6

    table = CliRunner().invoke(main, ["recommend", "--results", str(tmp_path / "r")])
    assert "n=6" in table.output and "note: task sentiment: compared on n=6" in table.output
    report = CliRunner().invoke(main, ["report", str(tmp_path / "r")])
    assert report.exit_code == 0
    html = (tmp_path / "r" / "report.html").read_text()
    assert "also stored: n=2" in html and "<th data-sort data-numeric>n</th>" in html


def test_data_can_be_chosen_by_fingerprint_and_a_wrong_choice_is_a_clear_error(tmp_path, monkeypatch):
    _run(tmp_path, monkeypatch)
    _run(tmp_path, monkeypatch, "--limit", "2")
    selections = _recommend(tmp_path)["data"]["selections"]
    smoke = next(s["data"] for s in selections if s["examples"] == 2)
    ranked = _recommend(tmp_path, "--data", smoke[:8])["tasks"]["sentiment"]
    assert {c["n"] for c in ranked} == {2}
    wrong = CliRunner().invoke(main, ["recommend", "--results", str(tmp_path / "r"), "--data", "zzzz"])
    assert wrong.exit_code == 2 and "no stored data selection" in wrong.output and "Traceback" not in wrong.output
