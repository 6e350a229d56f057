"""The Ray executor against a real Ray cluster on this machine (`ray start --head` on
127.0.0.1 with 2 CPUs, stopped afterwards): the same figures as the local executor, models
in parallel, a failing or killed worker recorded like a local one, and a rerun that
completes a store a killed worker left."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import crashing_model, write_suite

from benchbench import load_results
from benchbench.cli import main
from benchbench.store import Store

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
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

    # the two models ran at once: each one's first task started before the other's last ended
    ray_frame = frames["ray"].reset_index()
    (gpt2_start, gpt2_end), (llama_start, llama_end) = _interval(ray_frame, "gpt2"), _interval(ray_frame, "llama")
    assert gpt2_start < llama_end and llama_start < gpt2_end, (gpt2_start, gpt2_end, llama_start, llama_end)


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
    (killed,) = [r for r in store.results() if r["model_name"] == "crashy" and r["task_name"] == "mt"]
    kept = len(store.predictions(killed["result_id"]))
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
