"""The choosing side's front door: statistics stored when a task is scored give the figures that
scoring the stored predictions again gives, an older store is migrated and filled in once, a
model listed under two names is two candidates, and result ids may be any integer."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench.cli import main
from benchbench.selection import Limits, Selection
from benchbench.store import Store


class Shorter(FakeBackend):
    """Drops the last word of every output: worse on translation than the echoing FakeBackend."""

    def generate(self, prompts, settings, batch_size):
        for batch in super().generate(prompts, settings, batch_size):
            yield [(i, replace(out, text=" ".join(out.text.split()[:-1]))) for i, out in batch]


@pytest.fixture
def fake_models(monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device:
                        Shorter(spec.name) if spec.name == "b" else FakeBackend(spec.name))


def _suite(tmp_path, models=("a", "b"), sources=None):
    """Classification (choices), translation and perplexity over a few examples, for fake models."""
    sentences = ["a good film and a joy", "a bad one, a long evening", "bread needs flour water and time",
                 "good bread is a joy", "the keeper wrote in his log", "a long bad film"]
    labels = ["positive", "negative", "negative", "positive", "negative", "negative"]
    sentiment, translation, corpus = (tmp_path / n for n in ("s.jsonl", "t.jsonl", "c.jsonl"))
    sentiment.write_text("".join(json.dumps({"text": s, "label": label}) + "\n" for s, label in zip(sentences, labels)))
    translation.write_text("".join(json.dumps({"source": s, "reference": s.replace("a ", "one ")}) + "\n"
                                   for s in sentences))
    corpus.write_text("".join(json.dumps({"text": s}) + "\n" for s in sentences))
    sources = sources or {m: f"org/{m}" for m in models}
    return write_suite(tmp_path, {
        "name": "sel", "runtime": {"bootstrap_resamples": 200},
        "models": [{"name": m, "source": sources[m]} for m in models],
        "tasks": [{"name": "sentiment", "type": "classification", "dataset": {"path": str(sentiment)},
                   "options": {"prompt": "{text}:", "choices": {"positive": " positive", "negative": " negative"}}},
                  {"name": "mt", "type": "translation", "dataset": {"path": str(translation)},
                   "options": {"prompt": "Translate: {source}"}, "metrics": ["bleu", "chrf", "ter"]},
                  {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus)}}]})


def _run(suite, out):
    done = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
    return done


def _figures(out):
    with Selection.open(out) as selection:
        return selection.comparisons(), selection.recommend(Limits()).to_dict()


def test_stored_statistics_give_the_figures_that_scoring_again_gives(tmp_path, fake_models):
    out = tmp_path / "r"
    _run(_suite(tmp_path), out)
    db = sqlite3.connect(out / "benchbench.sqlite")
    stored_rows = db.execute("SELECT COUNT(*) FROM example_stats").fetchone()[0]
    assert stored_rows == 2 * (2 + 3 + 4)  # per model: accuracy and acc_norm, bleu chrf ter, four perplexities
    assert db.execute("SELECT COUNT(*) FROM predictions WHERE score IS NULL").fetchone()[0] == 0
    from_statistics = _figures(out)
    compared = {(row["task"], row["metric"]) for row in from_statistics[0]}
    assert ("mt", "ter") in compared and ("mt", "bleu") in compared  # every metric the suite asked for
    assert any(row["difference"] != 0 for row in from_statistics[0])
    with db:  # as a store written before statistics were stored holds them: none
        db.execute("DELETE FROM example_stats")
        db.execute("UPDATE predictions SET score = NULL")
    assert _figures(out) == from_statistics  # scored again from the predictions: the same figures
    assert db.execute("SELECT COUNT(*) FROM example_stats").fetchone()[0] == stored_rows  # and written back
    assert _figures(out) == from_statistics
    db.close()


def test_an_older_store_is_migrated_and_keeps_every_figure(tmp_path, fake_models):
    out = tmp_path / "r"
    _run(_suite(tmp_path), out)
    before = _figures(out)
    db = sqlite3.connect(out / "benchbench.sqlite")
    with db:  # back to schema 2, as an older benchbench left it
        db.execute("DROP TABLE example_stats")
        db.execute("ALTER TABLE predictions DROP COLUMN score")
        db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.close()
    again = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), "-o", str(out), "--no-progress"])
    assert again.exit_code == 0 and "6 reused" in again.output, again.output  # migrated; nothing recomputed
    assert _figures(out) == before
    db = sqlite3.connect(out / "benchbench.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
    assert db.execute("SELECT COUNT(*) FROM example_stats").fetchone()[0] > 0  # filled in by the first reader
    db.close()


def test_a_model_listed_under_two_names_is_two_candidates(tmp_path, fake_models):
    """The same checkpoint under a second name: its result is copied under that name, shown and
    ranked, never dropped (both reuse one computation)."""
    suite = _suite(tmp_path, ("a", "a-again"), {"a": "org/a", "a-again": "org/a"})
    done = _run(suite, tmp_path / "r")
    assert "6 ok" in done.output and "copied from result" in done.output
    with Selection.open(tmp_path / "r") as selection:
        assert sorted({r.model for r in selection.records}) == ["a", "a-again"]
        copies = [r for r in selection.records if r.model == "a-again"]
        assert all(r.counts["copied_from"] for r in copies)
        ranked = selection.recommend(Limits())
        assert {c.model for c in ranked.tasks["mt"]} == {"a", "a-again"}
        original = {r.task: r for r in selection.records if r.model == "a"}
        assert all(r.metrics == original[r.task].metrics for r in copies)
        assert all(len(selection.predictions(r)) == len(selection.predictions(original[r.task])) for r in copies)


def test_result_ids_may_be_any_integer_and_nothing_else(tmp_path, fake_models):
    from benchbench import load_results

    _run(_suite(tmp_path), tmp_path / "r")
    frame = load_results(tmp_path / "r")
    store = Store(tmp_path / "r", read_only=True)
    try:
        first = frame["result_id"].iloc[0]
        assert isinstance(first, np.integer) and store.predictions(first) == store.predictions(int(first)) != []
        with pytest.raises(TypeError, match="a result id is an integer, not str"):
            store.predictions("1")
    finally:
        store.close()


def test_the_reading_commands_migrate_an_older_store_themselves(tmp_path, fake_models):
    """A store of schema 2 that no run has opened since: `recommend`, `report` and
    load_comparisons read it (migrating it, since its folder can be written) with the figures
    it had, and fill in the statistics and example scores once."""
    out = tmp_path / "r"
    _run(_suite(tmp_path), out)
    before = _figures(out)
    db = sqlite3.connect(out / "benchbench.sqlite")
    with db:
        db.execute("DROP TABLE example_stats")
        db.execute("ALTER TABLE predictions DROP COLUMN score")
        db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.close()
    ranked = CliRunner().invoke(main, ["recommend", "--results", str(out), "--format", "json"])
    assert ranked.exit_code == 0, ranked.output
    assert json.loads(ranked.output) == json.loads(json.dumps(before[1]))
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 0
    db = sqlite3.connect(out / "benchbench.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
    assert db.execute("SELECT COUNT(*) FROM example_stats").fetchone()[0] > 0
    assert db.execute("SELECT COUNT(*) FROM predictions WHERE score IS NULL").fetchone()[0] == 0  # the report's
    db.close()
