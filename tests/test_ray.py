"""The Ray executor against a real Ray cluster on this machine (`ray start --head` on
127.0.0.1 with 2 CPUs, stopped afterwards): the same figures as the local executor, models
in parallel, a failing or killed worker recorded like a local one, and a rerun that
completes a store a killed worker left."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from helpers import crashing_model, write_suite
from test_resume import _assert_resumes_to_reference, _start_and_wait_for_predictions, _suite, _wait_until_gone

from benchbench import load_results
from benchbench.cli import main
from benchbench.store import Store

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="the ray extra is not installed: pip install -e '.[test]'")
QUALITY = ["bleu", "chrf", "word_perplexity", "bits_per_byte", "examples", "prompt_tokens", "generated_tokens"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A 2-CPU Ray head on loopback, its workers offline like the tests."""
    ray_cli = Path(sys.executable).with_name("ray")
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    start = [str(ray_cli), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
             "--num-cpus", "2", "--num-gpus", "0", "--include-dashboard", "false", "--disable-usage-stats",
             "--object-store-memory", str(256 * 2**20), "--temp-dir", str(temp)]
    started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ray_cli), "stop", "--force"], env=env, capture_output=True, timeout=120)


def _translation_data(folder: Path, rows: list[str]) -> Path:
    data = folder / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": row, "reference": "the ref"}) + "\n" for row in rows))
    return data


def _run(suite: Path, out: Path, *flags: str):
    return CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress", *flags])


def _interval(frame, model: str) -> tuple[str, str]:
    rows = frame[frame["model"] == model]
    return rows["started_at"].min(), rows["finished_at"].max()


@needs_ray
def test_ray_gives_the_local_figures_and_runs_models_in_parallel(tmp_path, ray_cluster, tiny_gpt2, tiny_llama,
                                                                  corpus_file):
    rows = ["a good film", "bread and salt", "the lazy dog", "weather log"] * 8  # a few seconds per model
    data = _translation_data(tmp_path, rows)
    suite = write_suite(tmp_path, {
        "name": "same", "runtime": {"batch_size": 1, "bootstrap_resamples": 50},
        "models": [{"name": "gpt2", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 8}, "metrics": ["bleu", "chrf"]},
                  {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus_file)}}]})
    on_ray = _run(suite, tmp_path / "ray", "--executor", "ray", "--address", ray_cluster)
    assert on_ray.exit_code == 0, on_ray.output
    local = _run(suite, tmp_path / "local", "--executor", "local")
    assert local.exit_code == 0, local.output

    frames = {name: load_results(tmp_path / name).set_index(["model", "task"]).sort_index()
              for name in ("ray", "local")}
    assert frames["ray"][QUALITY].equals(frames["local"][QUALITY])
    assert (frames["ray"]["status"] == "ok").all() and len(frames["ray"]) == 4
    run = Store(tmp_path / "ray").runs()[0]
    assert run["environment"]["executor"] == "ray" and run["environment"]["ray"]["resources"]["CPU"] == 2
    # each result says where it was measured: the worker's environment, not the driver's
    assert all(env["host"] == socket.gethostname() for env in frames["ray"]["environment"])
    assert all("host" not in env for env in frames["local"]["environment"])
    page = (tmp_path / "ray" / "report.html").read_text()  # and the report says so
    assert "Where each result was computed" in page and page.count(f"<td>{socket.gethostname()}</td>") == 4
    assert "Where each result was computed" not in (tmp_path / "local" / "report.html").read_text()

    # the two models ran at once: each one's first task started before the other's last ended
    ray_frame = frames["ray"].reset_index()
    (gpt2_start, gpt2_end), (llama_start, llama_end) = _interval(ray_frame, "gpt2"), _interval(ray_frame, "llama")
    assert gpt2_start < llama_end and llama_start < gpt2_end, (gpt2_start, gpt2_end, llama_start, llama_end)


@needs_ray
def test_a_failing_and_a_killed_worker_are_recorded_and_a_rerun_completes(tmp_path, ray_cluster, tiny_gpt2):
    """One model's folder is broken (it cannot load on its worker); another's worker is killed by
    SIGKILL on the third example of its first task (once); a third model is fine. The run
    records each as local does, and a rerun completes the killed task from its stored
    examples, identical to a run that was never interrupted."""
    once = tmp_path / "killed-once"
    crashy = crashing_model(tmp_path / "crashy", tiny_gpt2, once=once)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_gpt2, broken)
    (broken / "config.json").write_text("{not json")
    data = _translation_data(tmp_path, ["a good film", "bread and salt", "the § sign", "a lazy dog"])
    document = {
        "name": "kill", "runtime": {"batch_size": 1, "bootstrap_resamples": 20},
        "models": [{"name": "crashy", "source": str(crashy), "trust_remote_code": True},
                   {"name": "broken", "source": str(broken)}, {"name": "good", "source": str(tiny_gpt2)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 3}, "metrics": ["chrf"]},
                  {"name": "mt2", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 2}, "metrics": ["chrf"]}]}
    suite = write_suite(tmp_path, document)
    out = tmp_path / "r"
    first = _run(suite, out, "--executor", "ray", "--address", ray_cluster)
    assert first.exit_code == 1, first.output
    frame = load_results(out, all_attempts=True).set_index(["model", "task"])
    assert frame.loc[("crashy", "mt"), "status"] == "crashed" and once.exists()
    assert "Ray worker (pid" in frame.loc[("crashy", "mt"), "reason"]
    assert "died during this task" in frame.loc[("crashy", "mt"), "reason"]
    assert frame.loc[("crashy", "mt2"), "status"] == "ok"  # retried on a new worker
    assert set(frame.loc["broken", "status"]) == {"unavailable"}  # as the local executor records it
    assert all("config.json' is not a valid JSON file" in reason for reason in frame.loc["broken", "reason"])
    assert (frame.loc["good", "status"] == "ok").all()
    store = Store(out)
    (killed,) = [r for r in store.results() if r.model == "crashy" and r.task == "mt"]
    kept = len(store.predictions(killed.result_id))
    store.close()
    assert kept == 2  # the two examples before the kill were stored as they came

    rerun = _run(suite, out, "--executor", "ray", "--address", ray_cluster, "--models", "crashy,good")
    assert rerun.exit_code == 0, rerun.output
    assert "3 reused, 2 examples resumed" in rerun.output
    uninterrupted = _run(suite, tmp_path / "once", "--executor", "ray", "--address", ray_cluster,
                         "--models", "crashy,good")
    assert uninterrupted.exit_code == 0, uninterrupted.output
    columns = ["status", "chrf", "chrf_ci_low", "chrf_ci_high", "examples"]  # quality; timings are per attempt
    resumed = load_results(out).set_index(["model", "task"]).sort_index().loc[["crashy", "good"]]
    fresh = load_results(tmp_path / "once").set_index(["model", "task"]).sort_index()
    pd.testing.assert_frame_equal(resumed[columns], fresh[columns], check_dtype=False)
    assert _outputs(out, resumed.loc[("crashy", "mt"), "result_id"]) == \
        _outputs(tmp_path / "once", fresh.loc[("crashy", "mt"), "result_id"])


def _outputs(out: Path, result_id: int) -> list[tuple]:
    store = Store(out)
    try:
        return [(p["example_index"], p["input"], p["prediction"]) for p in store.predictions(int(result_id))]
    finally:
        store.close()


def _ray_workers() -> list[int]:
    """PIDs of Ray workers holding a model's actor (Ray titles them ray::ModelActor...)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::ModelActor"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


@needs_ray
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the Ray worker through /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_a_stopped_or_killed_driver_leaves_no_worker_and_a_rerun_resumes(tmp_path, ray_cluster, tiny_gpt2, signum):
    """Ctrl-C (the driver cancels its Ray tasks) or kill -9 of the driver (Ray ends the jobs of
    a driver that is gone): no worker goes on computing, and a rerun resumes from the store."""
    suite = _suite(tmp_path, tiny_gpt2, rows=80)
    document = yaml.safe_load(suite.read_text())
    document["runtime"] |= {"executor": "ray", "ray_address": ray_cluster}
    suite.write_text(yaml.safe_dump(document))
    out = tmp_path / "stopped"
    process = _start_and_wait_for_predictions(suite, out, at_least=10, capture=True)
    workers = _ray_workers()
    assert workers, "the model should run in a Ray worker"
    os.killpg(process.pid, signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == (130 if signum == signal.SIGINT else -signal.SIGKILL), output
    _wait_until_gone(workers, 30)
    _assert_resumes_to_reference(tmp_path, suite, out)


def test_executor_ray_without_the_extra_is_a_one_line_error(tmp_path, tiny_gpt2, corpus_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    suite = write_suite(tmp_path, {"name": "s", "models": [{"name": "m", "source": str(tiny_gpt2)}],
                                   "tasks": [{"name": "ppl", "type": "perplexity",
                                              "dataset": {"path": str(corpus_file)}}]})
    result = _run(suite, tmp_path / "out", "--executor", "ray")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        'error: --executor ray needs Ray, which is not installed: pip install "benchbench[ray]"']
    assert not (tmp_path / "out").exists()  # nothing was started or written


@needs_ray
@pytest.mark.parametrize("error,expected", [
    ("OutOfMemoryError", "Ray's memory monitor killed the model's worker (pid 7 on gpu-3)"),
    ("WorkerCrashedError", "the model's Ray worker (pid 7 on gpu-3) died during this task: killed (SIGKILL"),
    ("TaskCancelledError", "the model's Ray task (pid 7 on gpu-3) was cancelled"),
    ("RayTaskError", "the model's Ray task (pid 7 on gpu-3) failed during this task: boom"),
    ("NodeDiedError", "the model's Ray worker (pid 7 on gpu-3) was lost during this task: node gone"),
])
def test_crash_reasons_say_what_happened_on_the_cluster(error, expected):
    import ray.exceptions as errors

    from benchbench.run.executors.on_ray import WorkerIdentity, crash_reason

    made = {"OutOfMemoryError": lambda: errors.OutOfMemoryError("low memory"),
            "WorkerCrashedError": errors.WorkerCrashedError, "TaskCancelledError": errors.TaskCancelledError,
            "RayTaskError": lambda: errors.RayTaskError("f", "Traceback", RuntimeError("boom")),
            "NodeDiedError": lambda: errors.NodeDiedError("node gone")}[error]()
    assert crash_reason(errors, made, WorkerIdentity("gpu-3", 7)).startswith(expected)


def test_a_model_path_missing_on_the_worker_says_how_to_make_it_reachable(tmp_path):
    from benchbench.run.events import TaskFinished
    from benchbench.run.executors.on_ray import REACHABILITY_HINT, with_reachability_hint
    from benchbench.run.job import WorkerSpec
    from benchbench.spec import CheckpointSpec, ModelSpec, Runtime
    from benchbench.store import Outcome, Status

    def spec(source):
        return WorkerSpec(ModelSpec("m", "hf", CheckpointSpec(source)), Runtime(), "cpu", remote=True)

    missing = TaskFinished("t", Outcome(Status.UNAVAILABLE, "no folder"))
    here = f"on Ray worker {socket.gethostname()})"
    elsewhere = with_reachability_hint(spec(str(tmp_path / "elsewhere")), missing).outcome.reason
    assert elsewhere.startswith("no folder (") and REACHABILITY_HINT in elsewhere and elsewhere.endswith(here)
    for source in (str(tmp_path), "org/model"):  # the path is there, or a hub id: another cause, the node named
        assert with_reachability_hint(spec(source), missing).outcome.reason == f"no folder ({here}"
    failed = TaskFinished("t", Outcome(Status.ERROR, "bug"))
    assert with_reachability_hint(spec(str(tmp_path / "elsewhere")), failed) == failed


class _Cluster:
    """Ray's `nodes()` as the executor reads it, for the device rules (no cluster needed)."""

    def __init__(self, *nodes):
        self._nodes = [{"Alive": True, "Resources": node} for node in nodes]

    def nodes(self):
        return self._nodes


def _executor(cluster, **runtime):
    from benchbench.run.executors.on_ray import RayExecutor
    from benchbench.spec import Runtime

    executor = RayExecutor.__new__(RayExecutor)  # without joining a cluster
    executor.ray, executor.runtime = cluster, Runtime(executor="ray", **runtime)
    return executor


def test_the_device_on_ray_follows_the_gpus_each_model_reserves(caplog):
    from benchbench.errors import ExecutorUnavailable

    gpu_cluster, cpu_cluster = _Cluster({"CPU": 16, "GPU": 2}), _Cluster({"CPU": 2})
    assert _executor(gpu_cluster).device("auto") == "cuda"
    assert _executor(gpu_cluster).device("cpu") == "cpu"  # and reserves no GPU
    assert _executor(cpu_cluster).device("auto") == "cpu"
    assert _executor(gpu_cluster, gpus_per_model=0.5).device("auto") == "cuda"
    with pytest.raises(ExecutorUnavailable, match="each model reserves no GPU.*--gpus-per-model 1"):
        _executor(cpu_cluster).device("cuda")
    with pytest.raises(ExecutorUnavailable, match="device cpu was asked for, but each model reserves 1 GPU"):
        _executor(gpu_cluster, gpus_per_model=1).device("cpu")
    assert _executor(gpu_cluster, gpus_per_model=4).device("auto") == "cuda"  # waits for a bigger node
    assert "no node of the Ray cluster has 1 CPU(s) and 4 GPU(s)" in caplog.text


class _RecordingRay:
    """Ray's kill and shutdown, recorded: what close() asks of Ray. A killed actor's call ends,
    and the driver's thread lets go of its stream, as Ray's would."""

    def __init__(self, executor):
        self.calls, self.executor = [], executor

    def kill(self, actor, no_restart=True):
        self.calls.append(("kill", actor, no_restart))
        with self.executor.ended:
            self.executor.streams -= 1
            self.executor.ended.notify_all()

    def shutdown(self):
        self.calls.append(("shutdown",))


@pytest.mark.parametrize("own_session", [True, False])
def test_close_kills_the_running_actors_and_leaves_only_its_own_session(own_session):
    import threading

    from benchbench.run.executors.on_ray import RayExecutor, RayWorker

    executor = RayExecutor.__new__(RayExecutor)
    executor.own_session, executor.ended, executor.streams = own_session, threading.Condition(), 1
    executor.ray = _RecordingRay(executor)
    worker = RayWorker.__new__(RayWorker)  # an actor in the middle of a call
    worker.executor, worker.ray, worker.actor = executor, executor.ray, "actor-a"
    executor.workers = {worker}
    executor.close()
    assert executor.ray.calls == [("kill", "actor-a", True)] + ([("shutdown",)] if own_session else [])
    assert not executor.workers and executor.streams == 0


def test_a_race_keeps_workers_only_when_the_cluster_holds_every_model_at_once():
    four_slots = _executor(_Cluster({"CPU": 2}, {"CPU": 2}), cpus_per_model=1.0)
    four_slots.gpus_per_model = 0.0
    assert four_slots.holds_at_once("cpu", [1.0] * 4) is None
    assert "room for 4 model(s) at once" in four_slots.holds_at_once("cpu", [1.0] * 5)


def test_a_ray_client_address_is_refused_with_the_way_that_works():
    from benchbench.errors import ExecutorUnavailable
    from benchbench.run.executors.on_ray import RayExecutor
    from benchbench.spec import Runtime

    with pytest.raises(ExecutorUnavailable, match="Ray Client addresses .* --address HEAD_IP:6379"):
        RayExecutor(Runtime(executor="ray", ray_address="ray://head:10001"))


@needs_ray
def test_a_race_on_ray_keeps_one_actor_per_model_across_its_rounds(tmp_path, ray_cluster, tiny_gpt2, tiny_llama):
    """Racing on a cluster: each model's actor is started once and kept, loaded, from round to
    round (2 CPUs: room for both models at once), and the race's figures are the local race's."""
    data = tmp_path / "s.jsonl"
    data.write_text("".join(json.dumps({"sentence": f"{'a good' if i % 2 else 'a bad'} film number {i}",
                                        "label": "positive" if i % 2 else "negative"}) + "\n" for i in range(40)))
    suite = write_suite(tmp_path, {
        "name": "race", "runtime": {"race": {"rounds": [0.25, 0.5, 1.0]}, "bootstrap_resamples": 20},
        "models": [{"name": "gpt2", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)}],
        "tasks": [{"name": "s", "type": "classification", "dataset": {"path": str(data), "fields": {"text": "sentence"}},
                   "options": {"choices": {"positive": " positive", "negative": " negative"}}}]})
    on_ray = _run(suite, tmp_path / "ray", "--executor", "ray", "--address", ray_cluster)
    assert on_ray.exit_code == 0, on_ray.output
    assert "2 model worker(s) started" in on_ray.output
    local = _run(suite, tmp_path / "local")
    assert local.exit_code == 0 and "2 model worker(s) started" in local.output, local.output
    columns = ["status", "accuracy", "examples"]
    ray_frame = load_results(tmp_path / "ray", all_attempts=True).set_index("model").sort_index()
    local_frame = load_results(tmp_path / "local", all_attempts=True).set_index("model").sort_index()
    assert ray_frame[columns].equals(local_frame[columns])
    assert not _ray_workers()  # the actors were let go
