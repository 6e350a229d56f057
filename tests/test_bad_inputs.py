"""A corpus of bad inputs, as a new user (or a script) would give them: suites, data files,
options, model references and the environment. Each must end in its exit code (2: rejected,
with a one-line reason; 1: a runtime failure, stored with its status) and never in a
traceback; a rejected input leaves an existing results store byte-identical."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from click.testing import CliRunner
from fake_backend import FakeBackend

from benchbench.cli import main
from benchbench.store import Outcome, ResultSettings, Status, Store
from benchbench.store.lease import Owner


def _valid(tmp: Path) -> dict[str, Any]:
    data = tmp / "sentiment.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in
                            [("good film", "positive"), ("bad film", "negative")]))
    return {"name": "s", "runtime": {"isolation": "none"}, "models": [{"name": "m", "source": "org/m"}],
            "tasks": [{"name": "t", "type": "classification", "dataset": {"path": str(data)},
                       "options": {"method": "head"}}]}


def _write(tmp: Path, document: Any) -> str:
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def _suite(mutate: Callable[[dict[str, Any], Path], Any]) -> Callable[[Path], list[str]]:
    """A `run` of the valid suite changed in place by `mutate`."""
    def build(tmp: Path) -> list[str]:
        document = _valid(tmp)
        mutate(document, tmp)
        return ["run", _write(tmp, document)]
    return build


def _text(text: str | bytes) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        path = tmp / "suite.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["run", str(path)]
    return build


def _args(*args: str, suite: bool = True) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        return (["run", _write(tmp, _valid(tmp))] if suite else []) + [a.replace("TMP", str(tmp)) for a in args]
    return build


def _set(path: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    """Set a dotted path (list indices as numbers) in the suite document."""
    def mutate(document: dict[str, Any], tmp: Path) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        target[int(last) if last.isdigit() else last] = value
    return mutate


def _all(*mutations: Callable[[dict[str, Any], Path], Any]) -> Callable[[dict[str, Any], Path], None]:
    def mutate(document: dict[str, Any], tmp: Path) -> None:
        for change in mutations:
            change(document, tmp)
    return mutate


def _data(content: str | bytes, suffix: str = ".jsonl") -> Callable[[dict[str, Any], Path], None]:
    def mutate(document: dict[str, Any], tmp: Path) -> None:
        path = tmp / f"data{suffix}"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        document["tasks"][0]["dataset"]["path"] = str(path)
    return mutate


def _yaml(mutate: Callable[[dict[str, Any], Path], Any], text: Callable[[str], str]) -> Callable[[Path], list[str]]:
    """A `run` of the valid suite changed by `mutate`, whose YAML text `text` then rewrites
    (for what a dumped document cannot hold: aliases, duplicate keys, raw nesting)."""
    def build(tmp: Path) -> list[str]:
        document = _valid(tmp)
        mutate(document, tmp)
        path = Path(_write(tmp, document))
        path.write_text(text(path.read_text()))
        return ["run", str(path)]
    return build


# A "billion laughs": nine lists of nine aliases of the list before, 9**9 strings once expanded.
BOMB = "[" + ", ".join(["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"&{name} [{', '.join(['*' + before] * 9)}]" for before, name in zip("abcdefgh", "bcdefghi")]) + "]"


def _bomb_in(key_path: str) -> Callable[[Path], list[str]]:
    return _yaml(_set(key_path, "BOMB"), lambda text: text.replace("BOMB", BOMB))


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]
    code: int
    says: str
    fake_model: bool = True  # the suite's model answers through tests/fake_backend.py
    env: dict[str, str] = field(default_factory=dict)


CASES = [
    # suites
    Case("missing-suite-file", lambda tmp: ["run", str(tmp / "nope.yaml")], 2, "suite file not found"),
    Case("not-yaml", _text("name: s\nmodels: [\n  - {name: m"), 2, "not valid YAML"),
    Case("not-utf8", _text(b"name: \xff\xfe bad\n"), 2, "not a UTF-8 text file"),
    Case("top-level-list", _text("- name: s\n"), 2, "expected a mapping"),
    Case("no-name", _suite(lambda d, t: d.pop("name")), 2, "required key is missing"),
    Case("no-models", _suite(lambda d, t: d.pop("models")), 2, "models: required key is missing"),
    Case("empty-models", _suite(_set("models", [])), 2, "the list is empty"),
    Case("misspelt-top-key", _suite(lambda d, t: d.update(taks=d.pop("tasks"))), 2, "did you mean 'tasks'"),
    Case("duplicate-models", _suite(lambda d, t: d["models"].append(dict(d["models"][0]))), 2, "duplicate name"),
    Case("duplicate-tasks", _suite(lambda d, t: d["tasks"].append(dict(d["tasks"][0]))), 2, "duplicate name"),
    Case("model-without-source", _suite(lambda d, t: d["models"][0].pop("source")), 2, "source: required key"),
    Case("missing-local-model", _suite(_set("models.0.source", "./no/such/model")), 2, "does not exist"),
    Case("unknown-packaged-model", _suite(_set("models.0.source", "packaged:smolm2-135m-instruct")), 2,
         "did you mean 'smollm2-135m-instruct'"),
    Case("bad-dtype", _suite(_set("models.0.dtype", "float8")), 2, "is not one of"),
    Case("misspelt-task-type", _suite(_set("tasks.0.type", "clasification")), 2, "did you mean 'classification'"),
    Case("metric-of-another-type", _suite(_set("tasks.0.metrics", ["bleu"])), 2, "is not a metric of task type"),
    Case("task-without-type", _suite(lambda d, t: d["tasks"][0].pop("type")), 2, "type: required key"),
    Case("dataset-without-path", _suite(lambda d, t: d["tasks"][0]["dataset"].pop("path")), 2, "path: required"),
    Case("missing-data-file", _suite(_set("tasks.0.dataset.path", "./no-such.jsonl")), 2, "does not exist"),
    Case("unknown-field", _suite(_set("tasks.0.dataset.fields", {"txt": "review"})), 2, "did you mean 'text'"),
    Case("field-not-a-column-name", _suite(_set("tasks.0.dataset.fields", {"text": 3})), 2, "expected a column"),
    Case("unknown-data-format", _suite(_data("x", ".xyz")), 2, "cannot tell the format"),
    # data files' columns, checked against the fields before anything runs
    Case("data-without-the-column", _suite(_data('{"review": "a", "label": "x"}\n')), 2,
         "data.jsonl has no column 'text' for field 'text'"),
    Case("misspelt-column", _suite(_set("tasks.0.dataset.fields", {"text": "txet"})), 2,
         "fields.text: sentiment.jsonl has no column 'txet' for field 'text'\n  fix: did you mean 'text'?"),
    Case("misspelt-csv-column", _suite(_all(_data("sentence,label\ngood film,positive\n", ".csv"),
                                            _set("tasks.0.dataset.fields", {"text": "sentense"}))), 2,
         "did you mean 'sentence'?"),
    Case("column-names-of-a-jsonl", _suite(_set("tasks.0.dataset.column_names", ["text", "label"])), 2,
         "a jsonl dataset names its own columns"),
    Case("column-names-miscounted", _suite(_all(_data("good film,positive,x\n", ".csv"),
                                                _set("tasks.0.dataset.column_names", ["text", "label"]))),
         2, "names 2 columns; the file's first row has 3"),
    Case("column-names-repeated", _suite(_all(_data("good film,positive\n", ".csv"),
                                              _set("tasks.0.dataset.column_names", ["text", "text"]))),
         2, "is not a list of distinct column names"),
    Case("several-columns-for-one-value", _suite(_set("tasks.0.dataset.fields", {"text": ["text", "label"]})), 2,
         "field 'text' holds one value, so it takes one column"),
    Case("misspelt-reference-column", _suite(_all(
        _data('{"dialogue": "a", "summary1": "b", "summary2": "c"}\n'), _set("tasks.0.type", "summarization"),
        _set("tasks.0.options", {}), _set("tasks.0.dataset.fields", {"source": "dialogue",
                                                                     "reference": ["summary1", "sumary2"]}))),
         2, "did you mean 'summary2'?"),
    Case("batch-size-zero", _suite(_set("runtime.batch_size", 0)), 2, "must be at least 1"),
    Case("batch-size-negative", _suite(_set("runtime.batch_size", -4)), 2, "must be at least 1"),
    Case("device-gpu", _suite(_set("runtime.device", "gpu")), 2, "is not one of"),
    Case("seed-not-a-number", _suite(_set("runtime.seed", "abc")), 2, "expected an integer"),
    Case("misspelt-option", _suite(_set("tasks.0.options.methd", "head")), 2, "did you mean 'method'"),
    Case("top-p-above-one", _suite(lambda d, t: d["tasks"][0].update(
        type="translation", options={"top_p": 1.5}, dataset={"path": d["tasks"][0]["dataset"]["path"],
                                                               "fields": {"source": "text", "reference": "label"}})),
         2, "out of range"),
    Case("task-options-for-unknown-task", _suite(_set("models.0.task_options", {"tsk": {}})), 2,
         "names no task or task type"),
    Case("metric-options-of-another-metric", _suite(_set("tasks.0.metric_options", {"bleu": {}})), 2,
         "is not a metric of task type"),
    Case("misspelt-metric-option", _suite(lambda d, t: d["tasks"][0].update(
        type="translation", metric_options={"bleu": {"tokenise": "zh"}},
        options={}, dataset={"path": d["tasks"][0]["dataset"]["path"],
                             "fields": {"source": "text", "reference": "label"}})), 2, "did you mean 'tokenize'"),
    Case("limit-zero", _suite(_set("tasks.0.dataset.limit", 0)), 2, "must be at least 1"),
    Case("sample-shuffle", _suite(_set("tasks.0.dataset.sample", "shuffle")), 2, "is not one of"),
    Case("probe-sometimes", _suite(_set("runtime.latency_probe", "sometimes")), 2, "is not one of"),
    Case("task-batch-size-words", _suite(_set("tasks.0.batch_size", "eight")), 2,
         "'eight' is neither a number at least 1 nor one of: auto"),
    Case("batch-size-auto-typo", _suite(_set("runtime.batch_size", "atuo")), 2, "did you mean 'auto'"),
    # hostile YAML: bounded before anything is built
    Case("alias-bomb-in-description", _bomb_in("description"), 2, "with its aliases followed this value holds"),
    Case("alias-bomb-in-stop", _bomb_in("tasks.0.options.stop"), 2, "a suite may hold at most 100,000"),
    Case("alias-holding-itself", _yaml(_set("description", "LOOP"), lambda t: t.replace("LOOP", "&x [*x]")), 2,
         "an alias refers to a list or mapping that holds it"),
    Case("nested-20000-levels", _yaml(_set("description", "DEEP"), lambda t: t.replace("DEEP", "[" * 20000 + "]" * 20000)),
         2, "nested more than 50 levels deep"),
    Case("nested-60-levels", _yaml(_set("description", "DEEP"), lambda t: t.replace("DEEP", "[" * 60 + "]" * 60)),
         2, "nested more than 50 levels deep"),
    Case("duplicate-key", _yaml(lambda d, t: None, lambda text: text + "models:\n- {name: other, source: org/other}\n"),
         2, "line 14: key 'models' is given a second time (first on line 4"),
    Case("duplicate-option", _yaml(_set("tasks.0.options.method", "head"),
                                   lambda text: text.replace("method: head", "method: head\n    method: choices")),
         2, "key 'method' is given a second time"),
    Case("ten-megabyte-prompt", _suite(_set("tasks.0.options.prompt", "{text} " + "x" * 10_000_000)), 2,
         "a suite may hold at most 1,048,576"),
    Case("long-prompt", _suite(_set("tasks.0.options.prompt", "{text} " + "x" * 200_000)), 2,
         "values may hold at most 100,000"),
    Case("long-value-of-the-wrong-type", _suite(_set("runtime.seed", "x" * 50_000)), 2,
         "expected an integer, got str 'xxxxxxxx"),
    # options
    Case("unknown-model-flag", _args("--models", "nope"), 2, "models in the suite: m"),
    Case("unknown-task-flag", _args("--tasks", "nope"), 2, "tasks in the suite: t"),
    Case("empty-models-flag", _args("--models", ""), 2, "names an empty model"),
    Case("comma-models-flag", _args("--models", ","), 2, "names an empty model"),
    Case("empty-models-flag-repeated", _args("--models", "m", "--models", ""), 2, "names an empty model"),
    Case("empty-tasks-flag", _args("--tasks", " "), 2, "names an empty task"),
    Case("comma-tasks-flag", _args("--tasks", "t,"), 2, "names an empty task"),
    Case("address-with-local-executor", _args("--address", "10.0.0.5:6379", "--executor", "local"), 2,
         "--address: names a Ray cluster, but --executor local runs the models here"),
    Case("address-empty", _args("--address", " "), 2, "Invalid value for '--address': is empty"),
    Case("limit-flag-zero", _args("--limit", "0"), 2, "Invalid value for '--limit'"),
    Case("device-flag-tpu", _args("--device", "tpu"), 2, "Invalid value for '--device'"),
    Case("batch-size-flag-negative", _args("--batch-size", "-1"), 2, "Invalid value for '--batch-size'"),
    Case("results-is-a-file", _args("--results", "TMP/suite.yaml"), 2, "is a file, not a folder"),
    Case("recommend-budget-nan", _args("recommend", "--results", "TMP/results", "--budget-gb", "nan", suite=False),
         2, "is not a positive number"),
    Case("recommend-metric-typo", _args("recommend", "--results", "TMP/results", "--metric", "acuracy",
                                        suite=False), 2, "did you mean 'accuracy'"),
    Case("recommend-unscoped-min-score", _args("recommend", "--results", "TMP/results", "--min-score", "30",
                                               suite=False), 2, "METRIC=VALUE"),
    Case("recommend-no-results", _args("recommend", "--results", "TMP/none", suite=False), 2, "no benchbench results"),
    Case("report-no-results", _args("report", "--results", "TMP/none", suite=False), 2, "no benchbench results"),
    Case("report-unknown-data", _args("report", "--results", "TMP/results", "--data", "zzzz", suite=False), 2,
         "no stored data selection"),
    Case("estimate-missing-folder", _args("estimate", "./no/such/model", suite=False), 2, "does not exist"),
    Case("report-into-a-missing-folder", _args("report", "--results", "TMP/results", "--format", "csv", "-o",
                                               "TMP/no/such/dir/out.csv", suite=False), 2, "cannot write"),
    # model references and data at run time: stored with a status, exit 1
    Case("offline-hub-model", _suite(_set("models.0.source", "no-such-org/never-existed")), 1, "unavailable",
         fake_model=False),
    Case("offline-hub-dataset", _suite(_set("tasks.0.dataset", {"path": "glue", "name": "sst2",
                                                                  "split": "validation"})), 1, "unavailable"),
    Case("empty-data-file", _suite(_data("")), 1, "is an empty file"),
    Case("broken-json-data", _suite(_data('{"text": "a", "label": \n')), 1, "is it valid jsonl"),

    Case("labels-no-choice-produces", _suite(_set("tasks.0.options", {"method": "choices",
                                                                     "choices": {"pos": " positive", "neg": " negative"}})),
         1, "that no choice produces"),
]


@pytest.fixture
def existing_results(tmp_path) -> Path:
    """A results folder holding one finished result, as after an earlier run."""
    store = Store(tmp_path / "results")
    store.begin_run("earlier", "s", "s.yaml", "benchbench run s.yaml", {}, Owner.me())
    result = store.claim("earlier", "sig", ("s", "m", "t", "classification"), False, lambda run: False).result_id
    store.finish_result(result, Outcome(Status.OK, metrics={"accuracy": 0.5}, counts={"examples": 2},
                                        settings=ResultSettings({"dataset": {"fingerprint": "f" * 16}})))
    store.finish_run("earlier", "finished")
    store.close()
    return tmp_path / "results"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_a_clear_error_and_changes_nothing(case, tmp_path, existing_results, monkeypatch):
    if case.fake_model:
        monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    before = (existing_results / "benchbench.sqlite").read_bytes()
    args = case.build(tmp_path)
    if args[0] == "run" and "--results" not in args:
        args += ["--results", str(existing_results), "--no-progress"]
    result = CliRunner().invoke(main, args, env=case.env)
    assert result.exit_code == case.code, result.output
    assert case.says in result.output, result.output[-3000:]
    assert len(result.output) < 3000, f"{len(result.output):,} characters on the terminal"
    assert "Traceback" not in result.output and not isinstance(result.exception, (KeyError, TypeError, ValueError))
    if case.code == 2:
        assert (existing_results / "benchbench.sqlite").read_bytes() == before


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


def _store_file(tmp_path: Path, existing: Path, how: str) -> Path:
    database = existing / "benchbench.sqlite"
    if how == "corrupt":
        database.write_bytes(b"this is not an SQLite database at all, " * 200)
    elif how == "newer":
        with sqlite3.connect(database) as db:
            db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
        sqlite3.connect(database).close()
    elif how == "foreign":
        database.unlink()
        with sqlite3.connect(database) as db:
            db.execute("CREATE TABLE invoices (id INTEGER)")
    return database


@pytest.mark.parametrize("how,says", [("corrupt", "not a readable benchbench results store"),
                                      ("newer", "written by a newer benchbench"),
                                      ("foreign", "not a benchbench results store")])
@pytest.mark.parametrize("command", ["run", "recommend", "report"])
def test_a_store_that_is_not_ours_is_refused_untouched(tmp_path, existing_results, monkeypatch, how, says, command):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    database = _store_file(tmp_path, existing_results, how)
    before = database.read_bytes()
    args = {"run": ["run", _write(tmp_path, _valid(tmp_path)), "--results", str(existing_results), "--no-progress"],
            "recommend": ["recommend", "--results", str(existing_results)],
            "report": ["report", "--results", str(existing_results)]}[command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output, result.output
    assert database.read_bytes() == before


def test_an_older_store_is_migrated_and_keeps_its_results(tmp_path, existing_results, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    database = existing_results / "benchbench.sqlite"
    with sqlite3.connect(database) as db:  # back to the version 1 layout
        for column in ("host", "pid", "process_started", "heartbeat_at"):
            db.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        db.execute("DROP TABLE example_stats")
        db.execute("ALTER TABLE predictions DROP COLUMN score")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    result = CliRunner().invoke(main, ["run", _write(tmp_path, _valid(tmp_path)), "--results", str(existing_results),
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)
        assert db.execute("SELECT metrics FROM results WHERE result_id=1").fetchone() == ('{"accuracy": 0.5}',)


def _mount(target: Path, options: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): needs root in a mount namespace")


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def mount(name: str, options: str) -> Path:
        target = tmp_path / name
        _mount(target, options)
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        if subprocess.run(["umount", str(target)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_a_read_only_results_folder_is_refused_untouched(tmp_path, existing_results, tmpfs, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    folder = tmpfs("readonly", "size=4m")
    shutil.copy(existing_results / "benchbench.sqlite", folder / "benchbench.sqlite")
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    before = (folder / "benchbench.sqlite").read_bytes()
    result = CliRunner().invoke(main, ["run", _write(tmp_path, _valid(tmp_path)), "--results", str(folder),
                                       "--no-progress"])
    assert result.exit_code == 2 and "cannot write the results store" in result.output, result.output
    assert (folder / "benchbench.sqlite").read_bytes() == before
    readable = CliRunner().invoke(main, ["recommend", "--results", str(folder)])  # reading still works
    assert readable.exit_code == 0 and "accuracy" in readable.output, readable.output


def test_a_full_results_disk_stops_the_run_with_a_clear_message(tmp_path, tmpfs, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    folder = tmpfs("full", "size=150k")
    document = _valid(tmp_path)
    rows = "".join(json.dumps({"text": f"{word} " + "x" * 2000, "label": label}) + "\n"
                   for word, label in [("good", "positive"), ("bad", "negative")] * 200)
    (tmp_path / "big.jsonl").write_text(rows)
    document["tasks"][0]["dataset"]["path"] = str(tmp_path / "big.jsonl")
    result = CliRunner().invoke(main, ["run", _write(tmp_path, document), "--results", str(folder), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "the results store" in result.output and "could not be written (database or disk is full)" in result.output
    assert "resume with" in result.output and "Traceback" not in result.output
    shutil.copytree(folder, tmp_path / "copy")  # what was stored is kept, and a later run resumes it
    with sqlite3.connect(tmp_path / "copy" / "benchbench.sqlite") as db:
        assert db.execute("SELECT status FROM results").fetchall() == [("running",)]


def test_a_long_input_in_a_reason_is_cut_on_the_terminal_and_in_the_store(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    document = _valid(tmp_path)
    document["tasks"][0]["options"] = {"method": "choices", "prompt": "{txet} " + "x" * 90_000}  # a misspelt field
    result = CliRunner().invoke(main, ["run", _write(tmp_path, document), "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1 and "uses 'txet', which is not available" in result.output, result.output[-3000:]
    assert len(result.output) < 5000, f"{len(result.output):,} characters on the terminal"
    with sqlite3.connect(tmp_path / "out" / "benchbench.sqlite") as db:
        (reason,) = db.execute("SELECT reason FROM results").fetchone()
    assert "uses 'txet'" in reason and len(reason) <= 1100, len(reason)
