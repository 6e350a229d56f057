"""Ctrl-C (SIGINT) and preemption (SIGTERM) stop a run cleanly: exit 130/143, the model
process gone, the run recorded as interrupted, the terminal saying how to resume, and the
rerun giving the figures of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from test_resume import _assert_resumes_to_reference, _children, _running, _suite


def _start(suite, out, at_least: int = 10) -> subprocess.Popen:
    command = [sys.executable, "-m", "benchbench.cli", "run", str(suite), "--results", str(out), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, env={**os.environ, "TQDM_DISABLE": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(out / "benchbench.sqlite") as db:
                if db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] >= at_least:
                    return process
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    process.kill()
    pytest.fail("the run ended before it could be interrupted")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the model process through /proc")
@pytest.mark.parametrize("signum,code,to_group", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_a_stop_signal_ends_the_run_cleanly_and_it_resumes(tmp_path, tiny_gpt2, signum, code, to_group):
    suite, out = _suite(tmp_path, tiny_gpt2, rows=80), tmp_path / "stopped"
    process = _start(suite, out)
    children = _children(process.pid)
    assert children, "the model should run in a child process"
    # Ctrl-C in a terminal reaches the whole process group; a scheduler's SIGTERM, the run
    if to_group:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == code, output
    assert f"interrupted by {signal.Signals(signum).name}" in output and "Resume with the same command" in output
    assert "Traceback" not in output
    deadline = time.time() + 10  # (multiprocessing's resource tracker leaves just after its parent)
    while time.time() < deadline and any(_running(pid) for pid in children):
        time.sleep(0.05)
    assert not any(_running(pid) for pid in children)  # the model process is gone too
    with sqlite3.connect(out / "benchbench.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    _assert_resumes_to_reference(tmp_path, suite, out)
