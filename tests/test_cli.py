"""One command line: the results folder spelt --results everywhere (old spellings kept),
--format json wherever there is output to read, and run-time overrides."""

from __future__ import annotations

import json

from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main


def _suite(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                            for t, label in [("good", "positive"), ("bad", "negative"), ("good too", "positive")]))
    return write_suite(tmp_path, {"name": "s", "models": [{"name": "m", "source": "org/m", "dtype": "float16"}],
                                  "tasks": [{"name": "t", "type": "classification", "dataset": {"path": str(data)},
                                             "batch_size": 2, "options": {"method": "head"}}]})


def test_results_folder_is_spelt_the_same_everywhere(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    out = tmp_path / "r"
    for flag in ("--results", "--output", "-o"):
        done = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), flag, str(out), "--no-progress"])
        assert done.exit_code == 0 and str(out) in done.output, done.output
    assert CliRunner().invoke(main, ["recommend", "--results", str(out)]).exit_code == 0
    for args in (["report", "--results", str(out)], ["report", str(out)]):
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 0 and str(out / "report.html") in done.output
    both = CliRunner().invoke(main, ["report", str(out), "--results", str(tmp_path / "other")])
    assert both.exit_code == 2 and "give one" in both.output


def test_batch_size_and_dtype_override_the_suite(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    out = tmp_path / "r"
    done = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), "--results", str(out), "--no-progress",
                                     "--batch-size", "3", "--dtype", "bfloat16"])
    assert done.exit_code == 0, done.output
    settings = load_results(out).iloc[0]["settings"]
    assert settings["batch_size"] == 3 and settings["signature"]["model"]["dtype"] == "bfloat16"
    bad = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), "--batch-size", "0"])
    assert bad.exit_code == 2


def test_json_output_of_list_validate_and_estimate(tmp_path, tiny_llama):
    listed = json.loads(CliRunner().invoke(main, ["list", "--format", "json"]).output)
    assert listed["task_types"]["translation"]["options"]["top_p"]["range"] == "(0, 1]"
    assert "quickstart" in listed["suites"] and "bleu" in listed["metrics"]
    assert listed["scores"]["acc_norm"]["computed_by"] == ["classification"]
    assert listed["scores"]["ter"]["higher_is_better"] is False
    valid = json.loads(CliRunner().invoke(main, ["validate", str(_suite(tmp_path)), "--format", "json"]).output)
    assert valid == {"suite": str(tmp_path / "suite.yaml"), "valid": True, "models": ["m"],
                     "tasks": {"t": "classification"}}
    estimate = CliRunner().invoke(main, ["estimate", str(tiny_llama), "--format", "json", "--seq-len", "64"])
    figures = json.loads(estimate.output)
    assert estimate.exit_code == 0 and figures["units"] == "GiB" and figures["total_gib"] > figures["weights_gib"] > 0


def test_a_wrong_model_name_lists_the_models_in_the_suite(tmp_path):
    done = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), "--models", "nope"])
    assert done.exit_code == 2 and "models in the suite: m" in done.output


def test_repeated_models_and_tasks_flags_run_their_union(tmp_path, monkeypatch):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in [("good", "positive"),
                                                                                          ("bad", "negative")]))
    task = {"type": "classification", "dataset": {"path": str(data)}, "options": {"method": "head"}}
    suite = write_suite(tmp_path, {"name": "s", "models": [{"name": n, "source": f"org/{n}"} for n in "abc"],
                                   "tasks": [{"name": n, **task} for n in ("t1", "t2", "t3")]})
    out = tmp_path / "r"
    done = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress", "--models", "a",
                                     "--models", "c,a", "--tasks", "t3", "--tasks", "t1"])
    assert done.exit_code == 0, done.output
    ran = load_results(out)
    assert sorted(zip(ran["model"], ran["task"])) == [("a", "t1"), ("a", "t3"), ("c", "t1"), ("c", "t3")]


def test_an_empty_selection_from_python_is_refused(tmp_path):
    import pytest

    from benchbench.errors import SuiteError
    from benchbench.suite import load_suite

    with pytest.raises(SuiteError, match="selects nothing"):
        load_suite(_suite(tmp_path)).select(models=[])


def test_estimate_of_a_hub_id_the_hub_cannot_serve_fails_at_once_naming_it(tmp_path):
    """Without the hub (here: its endpoint a closed port), a hub id not in the local cache is
    refused after one short connection, not after the hub client's half a minute of retries."""
    import os
    import subprocess
    import sys
    import time

    from serving import free_port

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env |= {"HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_HOME": str(tmp_path / "hf")}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import benchbench.backends.hf.loading"], env=env, check=True, timeout=300)
    imports = time.monotonic() - started  # what any estimate pays before it asks anything
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "benchbench.cli", "estimate", "no-such-org/never-existed"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "model 'no-such-org/never-existed' is a hub id that is not in the local hub cache" in done.stderr
    assert "cannot be reached (Connection refused)" in done.stderr and "'model'" not in done.stderr
    assert time.monotonic() - started < imports + 10, done.stderr


def test_an_address_means_the_ray_executor(tmp_path, monkeypatch):
    """--address without --executor ray runs on that cluster (the suite's own executor: local)."""
    from benchbench.errors import ExecutorUnavailable

    chosen = []

    def executor_for(runtime):
        chosen.append((runtime.executor, runtime.ray_address))
        raise ExecutorUnavailable("stopped here by the test")

    monkeypatch.setattr("benchbench.run.driver.executor_for", executor_for)
    done = CliRunner().invoke(main, ["run", str(_suite(tmp_path)), "-o", str(tmp_path / "r"), "--no-progress",
                                     "--address", "10.0.0.5:6379"])
    assert done.exit_code == 2 and "stopped here by the test" in done.output, done.output
    assert chosen == [("ray", "10.0.0.5:6379")]
