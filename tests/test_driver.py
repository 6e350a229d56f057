"""The driver, the single writer of the store, fed by a scripted executor: what it writes for
each event, and what it does when a worker dies mid-task."""

from __future__ import annotations

import json
import threading

from helpers import parse

from benchbench.run.driver import Driver
from benchbench.run.events import Log, Predictions, Progress, ResultOpened, TaskFinished, TaskStarted
from benchbench.run.executors.local import OnThisMachine
from benchbench.store import Outcome, Status, Store


class ScriptedWorker:
    def __init__(self, executor, spec):
        self.executor, self.spec = executor, spec

    def run(self, plans, emit):
        return self.executor.play(self.spec.model.name, plans, emit)

    def close(self):
        self.executor.closed += 1


class ScriptedExecutor(OnThisMachine):
    """Replays one list of events per call on a worker, then reports the crash reason given for it."""

    def __init__(self, scripts):
        self.scripts, self.jobs, self.started, self.closed = list(scripts), [], 0, 0

    def start(self, spec):
        self.started += 1
        return ScriptedWorker(self, spec)

    def play(self, model, plans, emit):
        self.jobs.append([plan.task.name for plan in plans])
        events, crash = self.scripts.pop(0)
        for event in events:
            emit(event)
        return crash


def _suite(tmp_path, tasks, models=("m",), rows=1):
    """A classification suite of `rows` examples for a scripted executor (hub ids: nothing loads)."""
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"t{i}", "label": "a"}) + "\n" for i in range(rows)))
    return parse(tmp_path, {"name": "s", "models": [{"name": m, "source": f"org/{m}"} for m in models],
                            "tasks": [{"name": t, "type": "classification", "dataset": {"path": str(data)}}
                                      for t in tasks]})


def _ok(task):
    return TaskFinished(task, Outcome(Status.OK, metrics={"accuracy": 0.5}, counts={"examples": 4}))


def test_a_dead_worker_costs_only_the_task_in_flight(tmp_path):
    suite = _suite(tmp_path, ("a", "b", "c"), rows=4)
    row = {"index": 0, "input": "t0", "prediction": "a", "reference": "a", "details": {}}
    executor = ScriptedExecutor([
        ([TaskStarted("a"), ResultOpened("a"), Predictions("a", [row]), Progress(4), _ok("a"),
          TaskStarted("b"), ResultOpened("b"), Predictions("b", [row]), Progress(3), Log("working on b")],
         "the model's worker process was killed by SIGKILL during this task"),
        ([TaskStarted("c"), ResultOpened("c"), Progress(4), _ok("c")], None),
    ])
    lines = []
    driver = Driver(suite, str(tmp_path / "out"), progress=True, log=lines.append, executor=executor)
    summary = driver.run()

    assert executor.jobs == [["a", "b", "c"], ["c"]]  # after the crash, a new worker for what was left
    assert (executor.started, executor.closed) == (2, 1)  # the dead worker is not closed, the second is
    assert driver.bar.n == driver.bar.total == 12  # the bar still ends full
    assert summary.statuses == {"ok": 2, "crashed": 1}
    assert "working on b" in lines and any("b: crashed: the model's worker process was killed" in x for x in lines)
    store = Store(tmp_path / "out")
    results = {r.task: r for r in store.results()}
    assert results["a"].status is Status.OK and results["a"].metrics == {"accuracy": 0.5}
    assert results["b"].status is Status.CRASHED and "SIGKILL" in results["b"].reason
    assert [p["input"] for p in store.predictions(results["b"].result_id)] == ["t0"]  # kept for a resume
    assert results["c"].status is Status.OK
    store.close()


def test_a_failure_before_scoring_gets_a_result_of_its_own(tmp_path):
    suite = _suite(tmp_path, ("a",))
    driver = Driver(suite, str(tmp_path / "out"), progress=False, log=lambda line: None, executor=ScriptedExecutor(
        [([TaskStarted("a"), TaskFinished("a", Outcome(Status.UNAVAILABLE, "no network"))], None)]))
    assert driver.run().statuses == {"unavailable": 1}
    store = Store(tmp_path / "out")
    (result,) = store.results()
    assert (result.status, result.reason, store.predictions(result.result_id)) == ("unavailable", "no network", [])
    store.close()


def _fake_run(tmp_path, monkeypatch, tasks, out="out"):
    from click.testing import CliRunner
    from fake_backend import FakeBackend

    from benchbench.cli import main

    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"{word} {i}", "label": label}) + "\n"
                            for i, (word, label) in enumerate([("good", "positive"), ("bad", "negative")] * 2)))
    suite = parse(tmp_path, {"name": "s", "models": [{"name": "m", "source": "org/m"}],
                             "tasks": [{"name": n, "type": "classification", "dataset": {"path": str(data)}, **t}
                                       for n, t in tasks]})
    return CliRunner().invoke(main, ["run", str(suite.path), "-o", str(tmp_path / out), "--no-progress"])


def test_a_task_failing_after_the_load_does_not_count_as_a_second_load(tmp_path, monkeypatch):
    head = {"options": {"method": "head"}}
    result = _fake_run(tmp_path, monkeypatch, [("first", {**head, "metrics": ["acc_norm"]}), ("second", head)])
    assert result.exit_code == 1 and "acc_norm applies to the choices method only" in result.output
    assert result.output.count("model m: loaded") == 1, result.output


def test_two_tasks_with_one_signature_never_resume_the_same_result(tmp_path, monkeypatch):
    import sqlite3

    same = {"options": {"method": "head"}}
    assert _fake_run(tmp_path, monkeypatch, [("a", same), ("b", same)]).exit_code == 0
    db = sqlite3.connect(tmp_path / "out" / "benchbench.sqlite")
    with db:
        db.execute("UPDATE results SET status='crashed'")  # both interrupted, one signature
    again = _fake_run(tmp_path, monkeypatch, [("a", same), ("b", same)])
    assert again.exit_code == 0, again.output
    rows = db.execute("SELECT task_name, status FROM results ORDER BY result_id").fetchall()
    assert rows == [("a", "ok"), ("b", "ok")]  # each task continued its own result, none took the other's


class ParallelScriptedExecutor(ScriptedExecutor):
    """Runs every model's jobs at once (as Ray does): each first job waits at a barrier until
    the other model's first job is running too, then replays its model's script."""

    parallel = True

    def __init__(self, scripts):
        super().__init__([])
        self.by_model = {model: list(jobs) for model, jobs in scripts.items()}
        self.scripts_of = scripts
        self.together = threading.Barrier(len(scripts), timeout=10)
        self.threads = set()

    def play(self, model, plans, emit):
        self.jobs.append((model, [plan.task.name for plan in plans]))
        self.threads.add(threading.get_ident())
        first = len(self.by_model[model]) == len(self.scripts_of[model])
        events, crash = self.by_model[model].pop(0)
        if first:
            self.together.wait()  # raises BrokenBarrierError if the jobs ran one after another
        for event in events:
            emit(event)
        return crash


def test_a_parallel_executor_runs_models_at_once_and_the_driver_alone_writes(tmp_path):
    suite = _suite(tmp_path, ("a", "b"), models=("m", "n"), rows=4)
    row = {"index": 0, "input": "t0", "prediction": "a", "reference": "a", "details": {}}
    executor = ParallelScriptedExecutor({
        "m": [([TaskStarted("a"), ResultOpened("a"), Predictions("a", [row]), Progress(1)], "worker lost"),
              ([TaskStarted("b"), ResultOpened("b"), Progress(4), _ok("b")], None)],
        "n": [([TaskStarted("a"), ResultOpened("a"), Progress(4), _ok("a"),
                TaskStarted("b"), ResultOpened("b"), Progress(4), _ok("b")], None)],
    })
    driver = Driver(suite, str(tmp_path / "out"), progress=True, log=lambda line: None, executor=executor)
    writer = threading.get_ident()
    writes = []
    original = driver.store.add_predictions
    driver.store.add_predictions = lambda *a: (writes.append(threading.get_ident()), original(*a))
    summary = driver.run()

    assert summary.statuses == {"ok": 3, "crashed": 1}
    assert sorted(executor.jobs) == [("m", ["a", "b"]), ("m", ["b"]), ("n", ["a", "b"])]
    assert writer not in executor.threads and writes == [writer]  # jobs in threads; the store written here only
    assert driver.bar.n == driver.bar.total == 16
    store = Store(tmp_path / "out")
    results = {(r.model, r.task): r for r in store.results()}
    store.close()
    assert results[("m", "a")].status is Status.CRASHED and results[("m", "a")].reason == "worker lost"
    assert all(results[key].status is Status.OK for key in [("m", "b"), ("n", "a"), ("n", "b")])


def test_a_worker_that_never_starts_a_task_fails_every_remaining_task_once(tmp_path):
    suite = _suite(tmp_path, ("a", "b", "c"))
    driver = Driver(suite, str(tmp_path / "out"), progress=True, log=lambda line: None,
                    executor=ScriptedExecutor([([], "Ray could not set up the model's worker: no torch")]))
    summary = driver.run()  # one job: a new worker would fail the same way
    assert summary.statuses == {"crashed": 3} and driver.bar.n == driver.bar.total == 3
    assert driver.executor.jobs == [["a", "b", "c"]]


class FailingParallelExecutor(ParallelScriptedExecutor):
    def play(self, model, plans, emit):
        emit(TaskStarted("a"))
        raise RuntimeError("the executor itself broke")


def test_an_executor_error_in_a_job_thread_ends_the_run_in_the_driver(tmp_path):
    import pytest

    suite = _suite(tmp_path, ("a",))
    driver = Driver(suite, str(tmp_path / "out"), progress=False, log=lambda line: None,
                    executor=FailingParallelExecutor({"m": []}))
    with pytest.raises(RuntimeError, match="the executor itself broke"):
        driver.run()
    store = Store(tmp_path / "out")
    assert [run["status"] for run in store.runs()] == ["interrupted"]
    store.close()
