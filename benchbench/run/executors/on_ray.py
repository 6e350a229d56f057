"""Run each model's worker as a Ray actor on a cluster (`runtime.executor: ray`, `--executor ray`).

Why Ray, and how it is used:
- one Ray actor per model, reserving the model's CPUs and GPUs (`cpus_per_model`,
  `gpus_per_model`) for as long as it lives, so Ray's scheduler spreads the models over the
  cluster and runs as many at once as it has room for; the driver starts every model's at once;
- each actor is a worker process of its own: peak memory, the CUDA context and NVML's
  per-process figures are that model's own, as with process isolation; it keeps its model
  loaded between the calls it is given (a race's rounds) until the driver closes it;
- a call is a streaming generator: the actor yields each event (events.py) as it happens and
  waits until the driver has taken it (backpressure of one event), and the driver writes it to
  the store as it arrives. An actor that dies (SIGKILL, the kernel's or Ray's out-of-memory
  killer, a lost node) ends the stream with a Ray error: the driver keeps what it had received,
  records the task in flight as crashed, and gives the model's remaining tasks to a new actor,
  as with the local executor;
- Ray never restarts an actor nor re-runs a call itself (``max_restarts=0``,
  ``max_task_retries=0``): the driver decides what is retried, so no example is scored twice;
- the job carries its examples (workers need no copy of the data files) and the driver's
  own benchbench package travels with it (``runtime_env.py_modules``), so every worker runs
  the driver's code. The model must be reachable from the worker: a hub id, a packaged
  model installed there, or a path on a filesystem every node shares.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from benchbench.errors import ExecutorUnavailable, first_line
from benchbench.run.events import Emit, Event, TaskFinished
from benchbench.run.job import TaskPlan, WorkerSpec
from benchbench.spec import Runtime
from benchbench.store.records import Status

INSTALL_HINT = 'pip install "benchbench[ray]"'
# read on the driver, set on the workers: offline mode and quiet progress bars follow the run
FORWARDED_ENVIRONMENT = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE",
                         "HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE")
REACHABILITY_HINT = ("on Ray the model loads on a worker node, where this path must exist too: put the model on "
                     "a filesystem every node mounts at the same path, or use a hub id or a packaged model")
CLOSE_WAIT_SECONDS = 30  # for cancelled jobs' threads to see their streams end
PACKAGE = Path(__file__).resolve().parents[2]  # the benchbench package the workers run
log = logging.getLogger("benchbench")


def _import_ray() -> Any:
    """The ray module, or a one-line error naming the extra that installs it."""
    if importlib.util.find_spec("ray") is None:
        raise ExecutorUnavailable(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}")
    _use_token_if_any()  # before Ray reads its settings on import
    import ray

    return ray


@dataclass(frozen=True)
class WorkerIdentity:
    """The first item a call's stream yields: where the actor runs, for crash messages."""

    host: str
    pid: int

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


class RayExecutor:
    """Each model's worker as a Ray actor; its `run` is called from one driver thread per model."""

    parallel = True
    remote = True

    def __init__(self, runtime: Runtime) -> None:
        address = runtime.ray_address or os.environ.get("RAY_ADDRESS") or ""
        if address.startswith("ray://"):  # Ray Client cannot run streaming generators (its worker.py refuses them)
            raise ExecutorUnavailable(
                f"Ray Client addresses ({address}) cannot stream results back; run benchbench on a machine "
                f"of the cluster (or one that reaches its head) with --address HEAD_IP:6379")
        self.ray = _import_ray()
        self.runtime = runtime
        self.own_session = not self.ray.is_initialized()  # a script's own ray.init() is reused and left open
        env = {name: os.environ[name] for name in FORWARDED_ENVIRONMENT if name in os.environ}
        # Ray uploads a local package only for a whole job (ray.init); a script's own session keeps its own
        # runtime_env (benchbench must be importable on its workers), and each task still gets the variables
        self.task_env = {} if self.own_session else {"runtime_env": {"env_vars": env}}
        if self.own_session:
            try:
                self.ray.init(address=runtime.ray_address, namespace="benchbench", logging_level=logging.WARNING,
                              include_dashboard=False, log_to_driver=True,
                              runtime_env={"py_modules": [str(PACKAGE)], "env_vars": env})
            except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError, ...
                raise ExecutorUnavailable(
                    f"could not join or start a Ray cluster ({address or 'this machine'}): {first_line(exc)}; "
                    f"start one with `ray start --head` and pass its address with --address "
                    f"(docs/distributed.md)") from None
        warn_if_open(self.ray.get_runtime_context().gcs_address)
        self.gpus_per_model = 0.0
        self.workers: set[RayWorker] = set()  # the actors alive, to stop on an interrupt
        self.streams = 0  # calls whose events a driver thread is still reading
        self.ended = threading.Condition()  # notified when a call lets go of its stream
        self.actor_class = self.ray.remote(max_restarts=0, max_task_retries=0)(ModelActor)

    def device(self, requested: str) -> str:
        """'cuda' when each model reserves GPUs, else 'cpu'. `gpus_per_model` unset: one GPU per
        model where the cluster has GPUs and the device asked for is not cpu."""
        nodes = [node["Resources"] for node in self.ray.nodes() if node.get("Alive")]
        cluster_gpus = sum(node.get("GPU", 0) for node in nodes)
        gpus = self.runtime.gpus_per_model
        if gpus is None:
            gpus = 1.0 if cluster_gpus and requested != "cpu" else 0.0
            if not cluster_gpus and requested == "auto":
                log.warning("warning: the Ray cluster has no GPU now, so the models run on CPU; on a cluster that "
                            "adds GPU nodes on demand (an autoscaler), pass --gpus-per-model 1 to ask for them")
        if requested == "cuda" and not gpus:
            raise ExecutorUnavailable(
                f"device cuda was asked for, but each model reserves no GPU (gpus_per_model {gpus:g}; the cluster "
                f"has {cluster_gpus:g}): set --gpus-per-model 1, or use --device cpu")
        if requested == "cpu" and gpus:
            raise ExecutorUnavailable(f"device cpu was asked for, but each model reserves {gpus:g} GPU(s) "
                                      f"(gpus_per_model): drop --gpus-per-model, or use --device cuda")
        cpus = self.runtime.cpus_per_model
        if not any(node.get("CPU", 0) >= cpus and node.get("GPU", 0) >= gpus for node in nodes):
            log.warning("warning: no node of the Ray cluster has %g CPU(s) and %g GPU(s) for a model now (%s); the "
                        "models wait until one joins (an autoscaler adds one), or stop with Ctrl-C and lower "
                        "--cpus-per-model / --gpus-per-model", cpus, gpus, _nodes_text(nodes))
        most = max((node.get("CPU", 0) for node in nodes), default=0)
        if self.runtime.threads == "auto" and cpus < most:
            log.warning("note: each model computes with every CPU of the node it runs on (runtime.threads: auto), "
                        "so its figures are those of a local run on that machine; models that share a node share "
                        "its CPUs. For speed over a byte-identical match, set runtime.threads to %g", cpus)
        self.gpus_per_model = gpus
        return "cuda" if gpus else "cpu"

    def holds_at_once(self, device: str, weights_gib: list[float]) -> str | None:
        """Whether the cluster can run this many models' actors at once (a race keeps each one, with
        the CPUs and GPUs it reserves): None when it can, else why not."""
        cpus, gpus = self.runtime.cpus_per_model, self.gpus_per_model
        slots = sum(min(int(node["Resources"].get("CPU", 0) // cpus),
                        int(node["Resources"].get("GPU", 0) // gpus) if gpus else 10**9)
                    for node in self.ray.nodes() if node.get("Alive"))
        if len(weights_gib) <= slots:
            return None
        return (f"the cluster has room for {slots} model(s) at once ({cpus:g} CPU and {gpus:g} GPU each), fewer than "
                f"the {len(weights_gib)} racing")

    def describe(self) -> dict[str, Any]:
        """The cluster as the run found it: Ray's version, address, nodes and resources, and
        what each model reserved (the workers' own environments are stored per result)."""
        nodes = [node for node in self.ray.nodes() if node.get("Alive")]
        return {"executor": "ray", "ray": {
            "version": self.ray.__version__, "address": self.ray.get_runtime_context().gcs_address,
            "nodes": len(nodes), "resources": self.ray.cluster_resources(),
            "cpus_per_model": self.runtime.cpus_per_model, "gpus_per_model": self.gpus_per_model}}

    def start(self, spec: WorkerSpec) -> "RayWorker":
        worker = RayWorker(self, spec)
        with self.ended:
            self.workers.add(worker)
        return worker

    def close(self) -> None:
        """Stop the actors still alive (an interrupted run: their calls end), wait until their
        driver threads have let go of Ray (shutting Ray down under a thread still reading a
        stream crashed the process with SIGSEGV at exit), and leave the cluster (a session the
        caller opened stays open)."""
        with self.ended:
            alive = list(self.workers)
        try:
            for worker in alive:
                worker.kill()
            with self.ended:
                self.ended.wait_for(lambda: not self.streams, timeout=CLOSE_WAIT_SECONDS)
        finally:
            if self.own_session:
                self.ray.shutdown()


class RayWorker:
    """A model's Ray actor, as the driver sees it: given plans, closed at the end."""

    def __init__(self, executor: RayExecutor, spec: WorkerSpec) -> None:
        self.executor, self.ray = executor, executor.ray
        gpus = 0 if spec.model.remote else executor.gpus_per_model  # a served model computes on its server
        self.actor = executor.actor_class.options(num_cpus=executor.runtime.cpus_per_model, num_gpus=gpus,
                                                  name=f"benchbench:{spec.model.name}:{id(self):x}",
                                                  **executor.task_env).remote(spec)
        self.where: WorkerIdentity | None = None

    def run(self, plans: list[TaskPlan], emit: Emit) -> str | None:
        """Run `plans` on the actor, emitting its events as they arrive; None when it ran them
        all, else why it died. Backpressure 1: the actor's generator resumes only once the driver
        has taken its last item (Ray's own option, as Ray Data uses it)."""
        stream = self.actor.run.options(num_returns="streaming", _generator_backpressure_num_objects=1).remote(plans)
        with self.executor.ended:
            self.executor.streams += 1
        try:
            for ref in stream:
                item = self.ray.get(ref)
                if isinstance(item, WorkerIdentity):
                    self.where = item
                else:
                    emit(item)
        except self.ray.exceptions.RayError as exc:
            self.kill()
            return crash_reason(self.ray.exceptions, exc, self.where)
        finally:
            with self.executor.ended:
                self.executor.streams -= 1
                self.executor.ended.notify_all()
        return None

    def close(self) -> None:
        """Let the actor close its model, then end it."""
        try:
            self.ray.get(self.actor.close.remote(), timeout=CLOSE_WAIT_SECONDS)
        except Exception:  # noqa: BLE001 - a dead or stuck actor is killed below either way
            pass
        self.kill()

    def kill(self) -> None:
        with self.executor.ended:
            self.executor.workers.discard(self)
        try:
            self.ray.kill(self.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


class ModelActor:
    """The Ray actor: a ModelWorker kept for the model's whole run (made remote by RayExecutor)."""

    def __init__(self, spec: WorkerSpec) -> None:
        from benchbench.run.worker import ModelWorker

        self.spec = spec
        self.worker = ModelWorker(spec)

    def run(self, plans: list[TaskPlan]) -> Iterator[WorkerIdentity | Event]:
        yield from event_stream(self.spec, lambda send: self.worker.run(plans, send))

    def close(self) -> None:
        self.worker.close()


def _use_token_if_any() -> None:
    """Ray 2.60 checks tokens only on a cluster started with one: `ray start --head` with
    RAY_AUTH_MODE=token or a token already in ~/.ray/auth_token (`ray get-auth-token
    --generate` writes one), or a new local cluster from `ray.init()`, which makes one. A
    driver that joins such a cluster by its address sends the token only when
    RAY_AUTH_MODE=token, and otherwise fails with "InvalidAuthToken". Where the user has
    chosen no mode and a token is at hand, send it. Ray reads the mode when it is imported
    (or when its config is initialised again, which is what Ray itself does on a change)."""
    token_at_hand = (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                     or (Path.home() / ".ray" / "auth_token").exists())
    if not token_at_hand or "RAY_AUTH_MODE" in os.environ:
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    if "ray" in sys.modules:
        try:
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):  # another Ray: it reads the mode its own way
            pass


# Run in a child process with RAY_AUTH_MODE=disabled: connects to the cluster's GCS without a token.
_CONNECT_WITHOUT_TOKEN = """
import sys
from ray._raylet import GcsClient
GcsClient(address=sys.argv[1]).internal_kv_get(b"benchbench-authentication-probe", None, timeout=20)
print("accepted")
"""
PROBE_SECONDS = 60


def accepts_without_token(gcs_address: str) -> bool | None:
    """Whether the cluster at `gcs_address` lets a client in that sends no token: True, False
    (it asks for one), or None when that cannot be told (another Ray, a probe that timed out).
    Asked from a child process, since a process's authentication mode is Ray's global setting."""
    try:
        probe = subprocess.run([sys.executable, "-c", _CONNECT_WITHOUT_TOKEN, gcs_address], capture_output=True,
                               text=True, timeout=PROBE_SECONDS, env=os.environ | {"RAY_AUTH_MODE": "disabled"})
    except subprocess.TimeoutExpired:
        return None
    if probe.returncode == 0 and "accepted" in probe.stdout:
        return True
    return False if "InvalidAuthToken" in probe.stdout + probe.stderr else None


def warn_if_open(gcs_address: str) -> None:
    """Say so when the cluster the run is on checks no token: its nodes run whatever anyone who
    reaches their ports sends (Ray 2.60 listens on every interface, whatever the node's IP)."""
    if accepts_without_token(gcs_address):
        log.warning("warning: the Ray cluster at %s runs without authentication: anyone who can reach its ports can "
                    "run code on its nodes. Start its head with token authentication (docs/distributed.md, "
                    "'Starting a cluster')", gcs_address)


def crash_reason(errors: Any, exc: Exception, worker: WorkerIdentity | None) -> str:
    """Why a Ray worker stopped before its tasks were done, in words a user can act on.
    `errors`: the ray.exceptions module."""
    where = f" ({worker})" if worker else ""
    if isinstance(exc, errors.OutOfMemoryError):
        return (f"Ray's memory monitor killed the model's worker{where} during this task: its node ran low on "
                f"memory; use a smaller batch_size, reserve more CPUs per model (fewer models per node) or a "
                f"bigger node")
    if isinstance(exc, errors.WorkerCrashedError):
        return (f"the model's Ray worker{where} died during this task: killed (SIGKILL; the kernel's out-of-memory "
                f"killer sends it: check `dmesg` on that node) or crashed in native code; its log is under "
                f"/tmp/ray/session_latest/logs on that node")
    if isinstance(exc, errors.ActorDiedError):
        return (f"the model's Ray worker{where} died during this task: {first_line(exc)}; if it was killed "
                f"(SIGKILL: the kernel's out-of-memory killer sends it), check `dmesg` on that node; its log is "
                f"under /tmp/ray/session_latest/logs there")
    if isinstance(exc, errors.RuntimeEnvSetupError):
        return (f"Ray could not set up the model's worker{where}: {first_line(exc)}; the node needs benchbench's "
                f"dependencies (torch, transformers) installed")
    if isinstance(exc, errors.TaskCancelledError):
        return f"the model's Ray task{where} was cancelled during this task"
    if isinstance(exc, errors.RayTaskError):
        return f"the model's Ray task{where} failed during this task: {first_line(exc.cause or exc)}"
    return f"the model's Ray worker{where} was lost during this task: {first_line(exc)}"


def _nodes_text(nodes: list[dict[str, float]]) -> str:
    """Each node's CPUs and GPUs, for messages."""
    return ", ".join(f"{node.get('CPU', 0):g} CPU/{node.get('GPU', 0):g} GPU" for node in nodes) or "no nodes"


def event_stream(spec: WorkerSpec, work: Callable[[Emit], None]) -> Iterator[WorkerIdentity | Event]:
    """A call on the actor: run `work` in a thread and yield its events as they come (a
    streaming generator sends each to the driver at once). The work waits in `send` until the
    driver has taken its event (with backpressure 1, the generator resumes only then), so an
    actor killed mid-task loses only the event in flight, as a process's pipe does. An error of
    the work itself ends the stream with it, a RayTaskError on the driver."""
    from benchbench.run.worker import log_handler

    yield WorkerIdentity(socket.gethostname(), os.getpid())
    events: queue.SimpleQueue[tuple[Event | BaseException | None, threading.Event | None]] = queue.SimpleQueue()

    def send(event: Event) -> None:
        taken = threading.Event()
        events.put((event, taken))
        taken.wait()

    def run() -> None:
        try:
            work(send)
        except BaseException as exc:
            events.put((exc, None))
        else:
            events.put((None, None))

    with log_handler(send):
        threading.Thread(target=run, name="benchbench call", daemon=True).start()
        while True:
            item, taken = events.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield with_reachability_hint(spec, item)
            assert taken is not None
            taken.set()


def with_reachability_hint(spec: WorkerSpec, event: Event) -> Event:
    """A model 'unavailable' on a worker: say which node it was, and, when its local path does
    not exist there, how to make it reachable."""
    if not (isinstance(event, TaskFinished) and event.outcome.status is Status.UNAVAILABLE):
        return event
    paths = [spec.model.source, spec.model.tokenizer]
    missing = any(p and p.startswith("/") and not Path(p).exists() for p in paths)
    hint = f"{REACHABILITY_HINT}; " if missing else ""
    reason = f"{event.outcome.reason} ({hint}on Ray worker {socket.gethostname()})"
    return replace(event, outcome=replace(event.outcome, reason=reason))
