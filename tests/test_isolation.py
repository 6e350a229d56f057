"""Process isolation: each model runs in a child process; a child that dies loses only
the task in flight, and the results equal those of a run in one process."""

from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner
from helpers import crashing_model, write_suite

from benchbench import load_results
from benchbench.cli import main
from benchbench.run.executors.process import crash_reason
from benchbench.store import Store


@pytest.fixture
def crashing_gpt2(tmp_path, tiny_gpt2):
    return crashing_model(tmp_path / "crashing-gpt2", tiny_gpt2)


def _translation_data(tmp_path, rows: list[str]):
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": row, "reference": "ref"}) + "\n" for row in rows))
    return data


def test_a_killed_model_process_loses_only_the_task_in_flight(tmp_path, crashing_gpt2, tiny_gpt2, corpus_file):
    data = _translation_data(tmp_path, ["a good film", "bread and salt", "the § sign", "a lazy dog"])
    suite = write_suite(tmp_path, {
        "name": "crash", "runtime": {"batch_size": 1, "bootstrap_resamples": 0, "isolation": "process"},
        "models": [{"name": "crashy", "source": str(crashing_gpt2), "trust_remote_code": True},
                   {"name": "good", "source": str(tiny_gpt2)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 4}, "metrics": ["chrf"]},
                  {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus_file)}}]})
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output
    frame = load_results(out).set_index(["model", "task"])
    assert frame.loc[("crashy", "mt"), "status"] == "crashed"
    assert "killed by SIGKILL" in frame.loc[("crashy", "mt"), "reason"]
    assert frame.loc[("crashy", "ppl"), "status"] == "ok"  # the model's next task ran in a new process
    assert frame.loc[("good", "mt"), "status"] == "ok" and frame.loc[("good", "ppl"), "status"] == "ok"
    assert "crashy / mt: crashed" in result.output

    again = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert again.exit_code == 1 and "3 reused" in again.output  # the crashed task alone runs again
    store = Store(out)
    crashed = [r for r in store.results() if r.model == "crashy" and r.task == "mt"]
    store.close()
    assert len(crashed) == 1 and crashed[0].status == "crashed"  # resumed in place, not duplicated


def test_isolated_run_equals_a_run_in_one_process(tmp_path, tiny_gpt2, tiny_llama, corpus_file):
    data = _translation_data(tmp_path, ["a good film", "bread and salt", "the lazy dog", "weather log"])
    document = {
        "name": "same", "runtime": {"batch_size": 2, "bootstrap_resamples": 50},
        "models": [{"name": "gpt2", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 4}, "metrics": ["bleu", "chrf"]},
                  {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus_file)}}]}
    frames = {}
    for isolation in ("process", "none"):
        suite = write_suite(tmp_path, document, name=f"{isolation}.yaml")
        out = tmp_path / isolation
        result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress",
                                           "--isolation", isolation])
        assert result.exit_code == 0, result.output
        frames[isolation] = load_results(out).set_index(["model", "task"]).sort_index()
        run = Store(out).runs()[0]
        assert run["environment"]["isolation"] == isolation
    columns = ["bleu", "chrf", "word_perplexity", "bits_per_byte", "examples", "prompt_tokens", "generated_tokens"]
    assert frames["process"][columns].equals(frames["none"][columns])
    assert (frames["process"]["peak_rss_scope"] == "task").all()


@pytest.mark.parametrize("exitcode,expected", [(-signal.SIGKILL, "SIGKILL is what the kernel's out-of-memory"),
                                               (-signal.SIGSEGV, "killed by SIGSEGV"), (1, "exited with code 1")])
def test_crash_reasons_say_what_happened(exitcode, expected):
    assert expected in crash_reason(exitcode)


def test_a_kept_worker_that_died_while_it_waited_is_a_crash_not_an_error(tiny_gpt2):
    """A race keeps each model's process between rounds; one killed while it waited (the
    kernel's out-of-memory killer) is reported as a crash for its next call, not a traceback."""
    import os
    import signal

    from benchbench.run.executors.process import ProcessWorker
    from benchbench.run.job import WorkerSpec
    from benchbench.spec import CheckpointSpec, ModelSpec, Runtime

    worker = ProcessWorker(WorkerSpec(ModelSpec("g", "hf", CheckpointSpec(str(tiny_gpt2))), Runtime(), "cpu"))
    events = []
    assert worker.run([], events.append) is None  # a call with nothing to do: the child answers and waits
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(30)
    assert "killed by SIGKILL" in worker.run([], events.append)
    assert not worker.process.is_alive()
