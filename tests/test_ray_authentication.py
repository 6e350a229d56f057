"""Ray clusters and authentication, as docs/distributed.md describes them, checked on real Ray
heads started here (each in a temporary HOME and temp dir, stopped by their own process ids,
so no other Ray on the machine is touched): what `ray start --head` turns on by itself, how
to start a head that checks tokens, and the warning a run gives on a cluster that checks none."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="the ray extra is not installed: pip install -e '.[test]'")
RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(temp: Path) -> None:
    """Kill the processes of the head whose temp dir is `temp`, by pid: those whose command line
    names it, and their children (Ray's agents rename themselves, "ray::DashboardAgent")."""
    for _ in range(3):
        table = {}
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text()
                table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]),
                                          str(temp) in (entry / "cmdline").read_bytes().decode(errors="replace"))
            except (OSError, ValueError, IndexError):
                continue
        ours = {pid for pid, (_, names) in table.items() if names}
        ours |= {pid for pid, (parent, _) in table.items() if parent in ours}
        for pid in ours:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not ours:
            return
        time.sleep(1)


def _listens_on_every_interface(port: int) -> bool:
    """Whether a socket listens on `port` at 0.0.0.0 or :: (from /proc/net, as `ss -ltn` shows)."""
    wanted = f":{port:04X}"
    for table, anywhere in (("/proc/net/tcp", "00000000"), ("/proc/net/tcp6", "0" * 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and local == anywhere + wanted:  # 0A: LISTEN
                return True
    return False


def _head(tmp_path: Path, name: str, token: bool, started: list[Path]):
    """A 1-CPU Ray head; with `token`, started as docs/distributed.md says (a generated token,
    RAY_AUTH_MODE=token). Returns (port, HOME, temp dir, what `ray start` printed); the temp dir
    goes into `started` before anything starts, so that a failed start is stopped too."""
    home, port = tmp_path / f"{name}-home", _free_port()
    temp = Path(tempfile.mkdtemp(prefix="bbray-", dir="/tmp"))  # Ray's socket paths must stay under 108 bytes
    home.mkdir()
    started.append(temp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {
        "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    if token:
        subprocess.run([str(RAY), "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=120)
        env["RAY_AUTH_MODE"] = "token"
    started = subprocess.run([str(RAY), "start", "--head", "--port", str(port), "--num-cpus", "1", "--num-gpus", "0",
                              "--include-dashboard", "false", "--disable-usage-stats", "--object-store-memory",
                              str(100 * 2**20), "--temp-dir", str(temp)],
                             env=env, capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    return port, home, temp, started.stdout + started.stderr


@pytest.fixture
def heads(tmp_path):
    started = []

    def start(name: str, token: bool):
        port, home, temp, said = _head(tmp_path, name, token, started)
        return port, home, said

    yield start
    for temp in started:
        _stop(temp)
        shutil.rmtree(temp, ignore_errors=True)


_JOIN = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from benchbench.run.executors.on_ray import RayExecutor
from benchbench.spec import Runtime
RayExecutor(Runtime(executor="ray", ray_address=sys.argv[1])).close()
print("joined")
"""


def _join(port: int, home: Path) -> subprocess.CompletedProcess:
    """benchbench's driver joining the head at `port` as a user on that machine would (their HOME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {
        "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run([sys.executable, "-c", _JOIN, f"127.0.0.1:{port}"], env=env, capture_output=True,
                          text=True, timeout=300)


def test_ray_start_alone_checks_no_token_listens_everywhere_and_the_run_says_so(heads):
    port, home, said = heads("open", token=False)
    assert "Token authentication is disabled for this Ray cluster" in said  # Ray 2.60's own warning
    assert _listens_on_every_interface(port)
    from benchbench.run.executors.on_ray import accepts_without_token

    assert accepts_without_token(f"127.0.0.1:{port}") is True
    joined = _join(port, home)
    assert "joined" in joined.stdout, joined.stderr[-3000:]
    assert "runs without authentication: anyone who can reach its ports can run code" in joined.stderr


def test_a_head_started_with_a_token_refuses_a_client_without_one_and_the_driver_sends_it(heads):
    port, home, said = heads("guarded", token=True)
    assert "Token authentication is disabled" not in said
    assert (home / ".ray" / "auth_token").is_file()
    from benchbench.run.executors.on_ray import accepts_without_token

    assert accepts_without_token(f"127.0.0.1:{port}") is False
    joined = _join(port, home)  # the token file is at hand: benchbench sends it
    assert "joined" in joined.stdout, joined.stderr[-3000:]
    assert "without authentication" not in joined.stderr


_START = """
import logging, os, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from benchbench.run.executors.on_ray import RayExecutor
from benchbench.spec import Runtime
executor = RayExecutor(Runtime(executor="ray"))
print("gcs", executor.ray.get_runtime_context().gcs_address, os.environ.get("RAY_AUTH_MODE"))
sys.path.insert(0, sys.argv[1])
from test_ray_authentication import _listens_on_every_interface
print("everywhere", _listens_on_every_interface(int(executor.ray.get_runtime_context().gcs_address.rsplit(":", 1)[1])))
executor.close()
"""


def test_the_local_cluster_a_run_starts_checks_tokens_but_listens_everywhere(tmp_path):
    """No address and no cluster running: Ray starts one for the run, with a token (Ray's own
    default for ray.init) and, whatever benchbench asks, on every interface (Ray 2.60 has no
    option to bind it to 127.0.0.1 and turns 127.0.0.1 into the machine's address)."""
    home, temp = tmp_path / "home", Path(tempfile.mkdtemp(prefix="bbray-", dir="/tmp"))
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {
        "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": str(temp)}  # finds no other cluster
    try:
        done = subprocess.run([sys.executable, "-c", _START, str(Path(__file__).parent)], env=env, capture_output=True,
                              text=True, timeout=300)
    finally:
        _stop(temp)
        shutil.rmtree(temp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert " token" in done.stdout and (home / ".ray" / "auth_token").is_file()
    assert "everywhere True" in done.stdout
    assert "without authentication" not in done.stderr
