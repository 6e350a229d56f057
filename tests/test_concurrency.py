"""Two runs on one results folder: they split the work, never compute a result twice, never
lose or duplicate one, and a run on another machine is judged by its heartbeat, not its pid."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from click.testing import CliRunner
from helpers import write_suite

from benchbench.cli import main


def _suite(tmp_path, *models, rows=120):
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": f"the quick brown fox number {i} jumps", "reference": f"ref {i}"})
                            + "\n" for i in range(rows)))
    return write_suite(tmp_path, {
        "name": "together", "runtime": {"batch_size": 1, "bootstrap_resamples": 50},
        "models": [{"name": f"g{i}", "source": str(model)} for i, model in enumerate(models)],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 8, "stop": []}, "metrics": ["chrf"]}]})


def _start(suite, out):
    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-m", "benchbench.cli", "run", str(suite), "--results", str(out),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)


def _rows(out, sql, *args):
    db = sqlite3.connect(out / "benchbench.sqlite")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _wait_for(predicate, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _predictions_stored(out):
    try:
        return _rows(out, "SELECT COUNT(*) FROM predictions")[0][0] > 0
    except sqlite3.Error:
        return False


def test_two_runs_on_one_folder_split_the_work_and_compute_nothing_twice(tmp_path, tiny_gpt2, tiny_llama):
    suite, out = _suite(tmp_path, tiny_gpt2, tiny_llama), tmp_path / "shared"
    first = _start(suite, out)
    _wait_for(lambda: _predictions_stored(out))
    # the second run starts at once (in this process: no imports to wait for), while the first computes
    second = CliRunner().invoke(main, ["run", str(suite), "--results", str(out), "--no-progress"])
    outputs = [first.communicate(timeout=600)[0], second.output]
    assert [first.returncode, second.exit_code] == [0, 0], outputs
    results = _rows(out, "SELECT model_name, status, run_id FROM results ORDER BY result_id")
    # (which run computed which model depends on timing: the second may find one or both taken)
    assert sorted((m, s) for m, s, _ in results) == [("g0", "ok"), ("g1", "ok")]  # one row each, no duplicate
    assert _rows(out, "SELECT result_id, COUNT(*) FROM predictions GROUP BY result_id") == [(1, 120), (2, 120)]
    assert "is computing it" in second.output  # the second run left the first's task to it...
    assert all("2 ok" in text for text in outputs)  # ...and ends with every result all the same
    reference = tmp_path / "alone"
    assert CliRunner().invoke(main, ["run", str(suite), "--results", str(reference), "--no-progress"]).exit_code == 0
    figures = "SELECT model_name, metrics, intervals FROM results ORDER BY model_name"
    assert _rows(out, figures) == _rows(reference, figures)


def test_a_run_on_another_host_is_alive_while_its_heartbeat_is(tmp_path, tiny_gpt2):
    """The first run's lease is rewritten as another machine's: no pid can be checked, so the
    second run waits on its heartbeat, then reuses what it finished."""
    suite, out = _suite(tmp_path, tiny_gpt2, rows=150), tmp_path / "shared"
    first = _start(suite, out)
    _wait_for(lambda: _predictions_stored(out))
    db = sqlite3.connect(out / "benchbench.sqlite")
    with db:
        db.execute("UPDATE runs SET host='another-machine', pid=1")
    db.close()
    second = CliRunner().invoke(main, ["run", str(suite), "--results", str(out), "--no-progress"])
    first.communicate(timeout=600)
    assert second.exit_code == 0 and "on another-machine) is computing it" in second.output, second.output
    assert "1 reused" in second.output
    assert _rows(out, "SELECT status FROM results") == [("ok",)]


def test_a_silent_run_on_another_host_is_taken_over(tmp_path, tiny_gpt2):
    """A run killed on another machine: its heartbeat stops, and once the lease has run out a
    run here resumes its results instead of waiting for ever."""
    suite, out = _suite(tmp_path, tiny_gpt2), tmp_path / "shared"
    first = _start(suite, out)
    _wait_for(lambda: _predictions_stored(out))
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    db = sqlite3.connect(out / "benchbench.sqlite")
    with db:
        db.execute("UPDATE runs SET host='another-machine', pid=1, heartbeat_at='2026-01-01T00:00:00+00:00'")
    db.close()
    again = CliRunner().invoke(main, ["run", str(suite), "--results", str(out), "--no-progress"])
    assert again.exit_code == 0 and "resuming interrupted result 1" in again.output, again.output
    assert _rows(out, "SELECT status FROM results") == [("ok",)]
    assert _rows(out, "SELECT COUNT(*) FROM predictions") == [(120,)]
