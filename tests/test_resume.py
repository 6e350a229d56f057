"""Resume: finished results are reused, interrupted ones continue where they stopped, and
a run killed with SIGKILL completes on the next run with identical results."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main
from benchbench.store import Store


def _suite(tmp_path, gpt2, rows: int = 60):
    import json

    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": f"the quick brown fox number {i} jumps", "reference": f"ref {i}"})
                            + "\n" for i in range(rows)))
    return write_suite(tmp_path, {
        "name": "resume", "runtime": {"batch_size": 1, "bootstrap_resamples": 100, "isolation": "process"},
        "models": [{"name": "g", "source": str(gpt2)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 12, "stop": []}, "metrics": ["bleu", "chrf"]}]})


def _predictions(out):
    store = Store(out)
    try:
        result = store.results()[-1]
        return result, {p["example_index"]: p["prediction"] for p in store.predictions(result.result_id)}
    finally:
        store.close()


def test_interrupted_result_continues_without_recomputing(tmp_path, tiny_gpt2):
    suite = _suite(tmp_path, tiny_gpt2, rows=12)
    reference_out, out = tmp_path / "reference", tmp_path / "out"
    assert CliRunner().invoke(main, ["run", str(suite), "-o", str(reference_out), "--no-progress"]).exit_code == 0
    assert CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"]).exit_code == 0
    # simulate a crash after 5 examples: the result is 'running' and holds 5 predictions
    with sqlite3.connect(out / "benchbench.sqlite") as db:
        db.execute("UPDATE results SET status='running'")
        db.execute("DELETE FROM predictions WHERE example_index >= 5")
        db.execute("UPDATE predictions SET prediction='\"kept from before\"' WHERE example_index = 0")
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0 and "5 examples resumed" in result.output
    record, predictions = _predictions(out)
    assert predictions[0] == "kept from before"  # not recomputed
    assert record.counts == {"examples": 12, "resumed_examples": 5}
    _, reference = _predictions(reference_out)
    assert {i: p for i, p in predictions.items() if i} == {i: p for i, p in reference.items() if i}
    assert len(load_results(out, all_attempts=True)) == 1  # the same result row was continued


def _start_and_wait_for_predictions(suite, out, at_least: int, capture: bool = False) -> subprocess.Popen:
    """Start `benchbench run` in a session of its own; return once it stored `at_least`
    predictions. `capture`: its output (stdout and stderr together) can be read."""
    command = [sys.executable, "-m", "benchbench.cli", "run", str(suite), "-o", str(out), "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT if capture else output,
                               text=True, start_new_session=True)
    database = out / "benchbench.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    if db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] >= at_least:
                        return process
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    process.kill()
    pytest.fail("the run finished (or stalled) before it could be killed; make the task longer")


def _children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until_gone(pids: list[int], seconds: float) -> None:
    """Wait up to `seconds` for the processes to end; fail when one still runs."""
    deadline = time.time() + seconds
    while time.time() < deadline and any(_running(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_running(pid) for pid in pids)


def _assert_resumes_to_reference(tmp_path, suite, out):
    killed_record, before = _predictions(out)
    assert killed_record.status == "running" and 10 <= len(before) < 80
    reference_out = tmp_path / "reference"
    assert CliRunner().invoke(main, ["run", str(suite), "-o", str(reference_out), "--no-progress"]).exit_code == 0
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"{len(before)} examples resumed" in result.output
    record, after = _predictions(out)
    reference_record, reference = _predictions(reference_out)
    assert after == reference
    assert record.metrics == reference_record.metrics
    assert record.intervals == reference_record.intervals


def test_sigkill_of_the_whole_run_then_rerun_gives_identical_results(tmp_path, tiny_gpt2):
    suite = _suite(tmp_path, tiny_gpt2, rows=80)
    out = tmp_path / "killed"
    process = _start_and_wait_for_predictions(suite, out, at_least=10)
    os.killpg(process.pid, signal.SIGKILL)  # the run and its model process, as a scheduler or kill -9 -PGID does
    process.wait()
    _assert_resumes_to_reference(tmp_path, suite, out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the model process through /proc")
def test_model_process_does_not_outlive_a_killed_run(tmp_path, tiny_gpt2):
    """kill -9 of the benchbench process alone: its model process stops too, not writing on."""
    suite = _suite(tmp_path, tiny_gpt2, rows=80)
    out = tmp_path / "killed"
    process = _start_and_wait_for_predictions(suite, out, at_least=10)
    children = _children(process.pid)
    assert children, "the model should run in a child process"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    _wait_until_gone(children, 10)
    _assert_resumes_to_reference(tmp_path, suite, out)


def test_a_copied_project_folder_reuses_every_result(tmp_path, tiny_gpt2, corpus_file, sentiment_file):
    """Nothing absolute enters the signature: the same suite, data and model copied to
    another folder (another checkout, another machine) reuses what was stored."""
    project = tmp_path / "project"
    shutil.copytree(tiny_gpt2, project / "models" / "gpt2")
    shutil.copy(corpus_file, project / "corpus.txt")
    shutil.copy(sentiment_file, project / "sentiment.jsonl")
    write_suite(project, {
        "name": "portable", "models": [{"name": "m", "source": "./models/gpt2"}],
        "tasks": [{"name": "ppl", "type": "perplexity", "dataset": {"path": "corpus.txt"}},
                  {"name": "sentiment", "type": "classification",
                   "dataset": {"path": "sentiment.jsonl", "fields": {"text": "sentence"}},
                   "options": {"choices": {"positive": " positive", "negative": " negative"}}}]})
    out = tmp_path / "results"
    first = CliRunner().invoke(main, ["run", str(project / "suite.yaml"), "-o", str(out), "--no-progress"])
    assert first.exit_code == 0, first.output
    shutil.copytree(project, tmp_path / "elsewhere" / "copy")
    again = CliRunner().invoke(main, ["run", str(tmp_path / "elsewhere" / "copy" / "suite.yaml"), "-o", str(out),
                                      "--no-progress"])
    assert again.exit_code == 0 and "2 reused" in again.output, again.output
