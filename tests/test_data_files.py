"""Data files as they come: a CSV without a header row, references spread over several columns.
Each runs without conversion, and its figures, recomputed from the stored predictions with the
reference libraries (scikit-learn, rouge-score, sacrebleu), are the stored ones."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main
from benchbench.store import Store

# A news-topic CSV as such sets are published: label, title, text, and no header row.
NEWS = [(3, "Wall St. Bears Claw Back Into the Black", "Short-sellers, Wall Street's dwindling band, see business"),
        (2, "Late goal wins the cup", "A header in the last minute won the final for the home side, sports fans"),
        (4, "New chip doubles battery life", "The science of low-power circuits reaches phones"),
        (1, "Talks resume in Geneva", "Diplomats from both world powers met on Monday"),
        (3, "Oil prices soar to a record", "Crude rose again as markets feared supply cuts"),
        (2, "Sprinter breaks the national record", "She ran the 100 m in 10.9 s, the sports pages say")]
TOPICS = {1: " world", 2: " sports", 3: " business", 4: " science"}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))


def _headerless_csv(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text("".join(f'{label},"{title}","{text}"\n' for label, title, text in NEWS))
    return path


def _news_suite(tmp_path, **dataset):
    return write_suite(tmp_path, {"name": "news", "runtime": {"bootstrap_resamples": 0},
                                  "models": [{"name": "m", "source": "org/m"}],
                                  "tasks": [{"name": "topics", "type": "classification",
                                             "dataset": {"path": str(_headerless_csv(tmp_path)), **dataset},
                                             "metrics": ["accuracy", "macro_f1", "mcc"],
                                             "options": {"method": "choices", "choices": TOPICS,
                                                         "prompt": "{text}\nTopic:"}}]})


def _stored(out, task):
    frame = load_results(out)
    row = frame[frame["task"] == task].iloc[0]
    return row, Store(out).predictions(int(row["result_id"]))


def test_a_csv_without_a_header_runs_with_its_column_names_and_scores_as_scikit_learn(tmp_path, fake):
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    suite = _news_suite(tmp_path, column_names=["label", "title", "text"])
    checked = CliRunner().invoke(main, ["validate", str(suite)])
    assert checked.exit_code == 0 and "reads as data" not in checked.output, checked.output
    out = tmp_path / "results"
    done = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
    row, predictions = _stored(out, "topics")
    assert len(predictions) == len(NEWS) == row["examples"]  # the first row is an example, not a header
    assert [p["reference"] for p in predictions] == [str(label) for label, _, _ in NEWS]
    guessed = [str(p["prediction"]) for p in predictions]
    gold = [str(p["reference"]) for p in predictions]
    assert len(set(guessed)) > 1  # the fake model reads the text: the figures below are not trivial
    assert row["accuracy"] == accuracy_score(gold, guessed)
    assert row["macro_f1"] == f1_score(gold, guessed, average="macro", labels=sorted(set(gold + guessed)),
                                       zero_division=0)
    assert row["mcc"] == matthews_corrcoef(gold, guessed)


def test_a_header_row_that_reads_as_data_is_warned_about(tmp_path):
    """The first example taken for the header, and fields mapped onto its cells: it would run,
    one example short, so `validate` and `run` say so."""
    suite = _news_suite(tmp_path, fields={"label": "3", "text": NEWS[0][2]})
    done = subprocess.run([sys.executable, "-m", "benchbench.cli", "validate", str(suite)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "the first row of news.csv reads as data, not column names ('3', 'Wall St. Bears" in done.stderr
    assert "column_names: [...]" in done.stderr


def test_column_names_a_field_misses_are_named_before_the_run(tmp_path):
    done = CliRunner().invoke(main, ["validate", str(_news_suite(tmp_path, column_names=["label", "title", "body"]))])
    assert done.exit_code == 2, done.output
    assert "news.csv has no column 'text' for field 'text'" in done.output and "its columns: body, label, title" \
        in done.output


# A dialogue summarization set published with its three references in three columns.
DIALOGUES = [
    {"dialogue": "Amanda: I baked cookies. Do you want some? Jerry: Sure!",
     "summary1": "Amanda baked cookies and will bring Jerry some.", "summary2": "Jerry wants Amanda's cookies.",
     "summary3": "Amanda offers Jerry cookies she baked."},
    {"dialogue": "Olivia: Who are you voting for? Olivier: Liberals as always.",
     "summary1": "Olivier will vote for liberals.", "summary2": "Olivier votes liberal, as he always does.",
     "summary3": None},  # a missing third reference: the example has two
    {"dialogue": "Tim: Hi, what's up? Kim: Bad mood tbh, I was going to do lots of chores but I didn't.",
     "summary1": "Kim is in a bad mood because she skipped her chores.", "summary2": "Kim didn't do her chores.",
     "summary3": "Kim feels bad about the chores she did not do."},
]


def test_references_in_three_columns_score_as_rouge_score_and_sacrebleu(tmp_path, fake):
    import sacrebleu
    from rouge_score import rouge_scorer

    data = tmp_path / "dialogues.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in DIALOGUES))
    suite = write_suite(tmp_path, {"name": "dialogues", "runtime": {"bootstrap_resamples": 0},
                                   "models": [{"name": "m", "source": "org/m"}],
                                   "tasks": [{"name": "summaries", "type": "summarization", "metrics": ["rouge", "bleu"],
                                              "dataset": {"path": str(data), "fields": {
                                                  "source": "dialogue",
                                                  "reference": ["summary1", "summary2", "summary3"]}},
                                              "options": {"prompt": "Summarize: {source}"}}]})
    out = tmp_path / "results"
    done = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
    row, predictions = _stored(out, "summaries")
    references = [p["reference"] for p in predictions]
    assert references == [[d[k] for k in ("summary1", "summary2", "summary3") if d[k]] for d in DIALOGUES]
    outputs = [p["prediction"] for p in predictions]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    per_example = [scorer.score_multi(refs, out) for refs, out in zip(references, outputs)]
    for kind in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert row[kind] == pytest.approx(100 * sum(s[kind].fmeasure for s in per_example) / len(per_example),
                                          abs=1e-12)
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(3)]
    assert row["bleu"] == sacrebleu.corpus_bleu(outputs, streams).score
