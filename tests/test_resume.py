"""Resume: finished results are reused, interrupted ones continue where they stopped, and
a run killed with SIGKILL completes on the next run with identical results."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

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
        "name": "resume", "runtime": {"batch_size": 1, "bootstrap_resamples": 100},
        "models": [{"name": "g", "source": str(gpt2)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 12, "stop": []}, "metrics": ["bleu", "chrf"]}]})


def _predictions(out):
    store = Store(out)
    try:
        result = store.results()[-1]
        return result, {p["example_index"]: p["prediction"] for p in store.predictions(result["result_id"])}
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
    assert record["counts"] == {"examples": 12, "resumed_examples": 5}
    _, reference = _predictions(reference_out)
    assert {i: p for i, p in predictions.items() if i} == {i: p for i, p in reference.items() if i}
    assert len(load_results(out, all_attempts=True)) == 1  # the same result row was continued


def test_sigkill_mid_task_then_rerun_gives_identical_results(tmp_path, tiny_gpt2):
    suite = _suite(tmp_path, tiny_gpt2, rows=80)
    reference_out, out = tmp_path / "reference", tmp_path / "killed"
    assert CliRunner().invoke(main, ["run", str(suite), "-o", str(reference_out), "--no-progress"]).exit_code == 0
    command = [sys.executable, "-m", "benchbench.cli", "run", str(suite), "-o", str(out), "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    database = out / "benchbench.sqlite"
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline and process.poll() is None:
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    stored = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
            if stored >= 10:
                break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail("the run finished before it could be killed; make the task longer")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_record, before = _predictions(out)
    assert killed_record["status"] == "running" and 10 <= len(before) < 80
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"{len(before)} examples resumed" in result.output
    record, after = _predictions(out)
    reference_record, reference = _predictions(reference_out)
    assert after == reference
    assert record["metrics"] == reference_record["metrics"]
    assert record["intervals"] == reference_record["intervals"]
