"""batch_size: auto starts high and halves on out-of-memory without losing or changing a result:
exercised with a backend whose 'GPU memory' holds batches of at most two examples."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import parse

from benchbench import load_results
from benchbench.cli import main
from benchbench.run import task
from benchbench.store import Store


class FakeOutOfMemory(RuntimeError):
    pass


class SmallMemoryBackend(FakeBackend):
    """Generation fails for batches above `fits` examples, after `ok_batches` batches of any size
    have gone through (memory that fills up mid-task)."""

    def __init__(self, name: str, fits: int, ok_batches: int = 0) -> None:
        super().__init__(name)
        self.fits, self.ok_batches, self.tried = fits, ok_batches, []

    def generate(self, prompts, settings, batch_size):
        for batch in super().generate(prompts, settings, batch_size):
            self.tried.append(len(batch))
            if len(batch) > self.fits and self.ok_batches <= 0:
                raise FakeOutOfMemory(f"CUDA out of memory: {len(batch)} examples")
            self.ok_batches -= 1
            yield batch

    def is_out_of_memory(self, error):
        return isinstance(error, FakeOutOfMemory)


def run(tmp_path, monkeypatch, backend, batch_size, out):
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: backend)
    monkeypatch.setitem(task.AUTO_FIRST_BATCH_SIZE, "cpu", 8)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"source": f"text {i}", "reference": f"text {i}"}) + "\n" for i in range(21)))
    suite = parse(tmp_path, {"name": "s", "runtime": {"batch_size": batch_size, "isolation": "none"},
                             "models": [{"name": "m", "source": "org/m"}],
                             "tasks": [{"name": "t", "type": "translation", "dataset": {"path": str(data)},
                                        "options": {"prompt": "Say: {source}"}}]})
    result = CliRunner().invoke(main, ["run", str(suite.path), "-o", str(tmp_path / out), "--no-progress"])
    store = Store(tmp_path / out)
    row = load_results(tmp_path / out).iloc[0]
    predictions = [(p["example_index"], p["prediction"]) for p in store.predictions(int(row["result_id"]))]
    store.close()
    return result, row, predictions


@pytest.mark.parametrize("ok_batches", [0, 1])
def test_auto_halves_on_out_of_memory_and_keeps_every_result(tmp_path, monkeypatch, ok_batches):
    backend = SmallMemoryBackend("m", fits=2, ok_batches=ok_batches)
    result, row, predictions = run(tmp_path, monkeypatch, backend, "auto", "auto")
    assert result.exit_code == 0, result.output
    assert "out of memory; batch size auto goes on at 4" in result.output
    assert "goes on at 2" in result.output
    assert row["status"] == "ok"
    settings = row["settings"] if isinstance(row["settings"], dict) else json.loads(row["settings"])
    assert settings["batch_size"] == "auto" and settings["batch_size_used"] == 2 and settings["batch_size_retries"] == 2
    assert backend.tried[:1] == [8] and backend.tried[-1] <= 2
    plain, _, expected = run(tmp_path, monkeypatch, FakeBackend("m"), 2, "plain")
    assert predictions == expected and len(predictions) == 21  # nothing lost, nothing twice, same outputs


def test_a_fixed_batch_size_that_does_not_fit_is_recorded_as_oom(tmp_path, monkeypatch):
    result, row, _ = run(tmp_path, monkeypatch, SmallMemoryBackend("m", fits=2), 8, "fixed")
    assert result.exit_code == 1
    assert row["status"] == "oom" and "8 examples" in row["reason"]


def test_batch_size_option_takes_a_number_or_auto(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, source: org/m}]\n"
                     "tasks: [{name: t, type: translation, dataset: {path: x.jsonl}}]\n")
    result = CliRunner().invoke(main, ["run", str(suite), "--batch-size", "many"])
    assert result.exit_code == 2 and "'many' is neither a number of rows (1 or more) nor auto" in result.output
    suite.write_text("name: s\nruntime: {batch_size: lots}\nmodels: [{name: m, source: org/m}]\n"
                     "tasks: [{name: t, type: translation, dataset: {path: x.jsonl}}]\n")
    result = CliRunner().invoke(main, ["validate", str(suite)])
    assert result.exit_code == 2 and "runtime.batch_size" in result.output and "auto" in result.output
