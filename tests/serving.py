"""A real `transformers serve` on loopback, started and stopped by the tests themselves.

Skips the calling test, with the reason and the end of the server's log, when the server
cannot start here (the serving extra missing, the port taken, the model failing to load).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `transformers serve` process pinned to one model folder."""

    def __init__(self, model: Path | str, port: int, log: Path, cwd: Path | None = None) -> None:
        self.model, self.port, self.log, self.cwd = model, port, log, cwd
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "Server":
        command = [sys.executable, "-c", "from transformers.cli.transformers import main; main()", "serve",
                   "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", str(self.model)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            env=os.environ | {"HF_HUB_OFFLINE": "1"}, start_new_session=True,
                                            cwd=self.cwd)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.skip(f"transformers serve exited with {self.process.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.kill()
        pytest.skip(f"transformers serve did not answer /health within {START_SECONDS} s: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else "(no log)"

    def kill(self) -> None:
        """SIGKILL, as a crash would: no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@contextmanager
def served(model: Path | str, log: Path, port: int | None = None, cwd: Path | None = None) -> Iterator[Server]:
    """`transformers serve MODEL` (a relative MODEL is read from `cwd`), killed at the end."""
    pytest.importorskip("fastapi", reason="transformers serve needs transformers[serving]")
    pytest.importorskip("openai", reason="served models need the openai client (benchbench[api])")
    server = Server(model, port or free_port(), log, cwd).start()
    try:
        yield server
    finally:
        server.kill()
