"""Ctrl-C (SIGINT) and preemption (SIGTERM) stop a run cleanly: exit 130/143, the model
process gone, the run recorded as interrupted, the terminal saying how to resume, and the
rerun giving the figures of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

import pytest
from test_resume import (
    _assert_resumes_to_reference,
    _children,
    _start_and_wait_for_predictions,
    _suite,
    _wait_until_gone,
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the model process through /proc")
@pytest.mark.parametrize("signum,code,to_group", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_a_stop_signal_ends_the_run_cleanly_and_it_resumes(tmp_path, tiny_gpt2, signum, code, to_group):
    suite, out = _suite(tmp_path, tiny_gpt2, rows=80), tmp_path / "stopped"
    process = _start_and_wait_for_predictions(suite, out, at_least=10, capture=True)
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
    _wait_until_gone(children, 10)  # the model process too (multiprocessing's resource tracker leaves just after)
    with sqlite3.connect(out / "benchbench.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    _assert_resumes_to_reference(tmp_path, suite, out)
