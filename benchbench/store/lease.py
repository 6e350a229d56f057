"""Who owns a running result: a lease held by the run that computes it.

Several `benchbench run`s may share one results folder, on one machine or on several that
mount it. A result marked ``running`` belongs to its run, and the run holds it only while it
is alive, so that a second run neither computes it again nor mistakes it for an interrupted
one. A run is alive when
- on this host: its process (pid and start time, so a reused pid does not count) exists;
- on another host: it refreshed its heartbeat less than LEASE_SECONDS ago (a pid there
  means nothing here).
A run that ended (finished or interrupted) holds nothing: its ``running`` results are
resumed by the next run.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HEARTBEAT_SECONDS = 5.0
LEASE_SECONDS = 60.0  # a run on another host is taken as dead after this long without a heartbeat


def _process_start(pid: int) -> str | None:
    """The start time of a process (Linux: clock ticks since boot), to tell a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    process_started: str | None

    @classmethod
    def me(cls) -> "Owner":
        return cls(socket.gethostname(), os.getpid(), _process_start(os.getpid()))


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def run_alive(run: dict[str, Any], me: Owner | None = None) -> bool:
    """Whether a stored run (a `runs` row) still holds its running results."""
    if run.get("status") != "running" or not run.get("host"):
        return False
    me = me or Owner.me()
    if run["host"] == me.host:
        if not _pid_alive(int(run["pid"])):
            return False
        started = _process_start(int(run["pid"]))
        return started is None or run.get("process_started") in (None, started)
    beat = run.get("heartbeat_at")
    if not beat:
        return False
    age = (datetime.now(timezone.utc) - datetime.fromisoformat(beat)).total_seconds()
    return age < LEASE_SECONDS


class Heartbeat:
    """Refreshes a run's heartbeat from a thread of its own (its own SQLite connection) until
    stopped, so that runs on other hosts see this one alive."""

    def __init__(self, database: Path, run_id: str, interval: float = HEARTBEAT_SECONDS) -> None:
        self.database, self.run_id, self.interval = database, run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="benchbench-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                db = sqlite3.connect(self.database, timeout=5)
                with db:
                    db.execute("UPDATE runs SET heartbeat_at=? WHERE run_id=?", (now(), self.run_id))
                db.close()
            except sqlite3.Error:  # a busy or briefly unwritable store: the next beat tries again
                continue
