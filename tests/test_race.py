"""Racing: models that cannot win a task stop after a round, the winner is the full run's,
a race resumes after an interruption, and by simulation the rule stops a model the full run
would have found tied with the winner no more often than 1 - confidence allows."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from fake_backend import FakeBackend
from helpers import write_suite

from benchbench import load_results
from benchbench.cli import main
from benchbench.metrics.catalogue import CATALOGUE
from benchbench.run.race import race_order, round_size, stop_level, stops
from benchbench.run.signals import RunInterrupted
from benchbench.selection.statistics import PairedDifference, holm, mcnemar_exact
from benchbench.spec import RaceSpec
from benchbench.store import Store

ROWS = 200


class Classifier(FakeBackend):
    """Right on an example unless its number falls in the model's wrong share: `oracle` is
    always right, `noisy` wrong on 1 in 10, `coin` on every other, `inverted` on 4 in 5."""

    WRONG = {"oracle": set(), "noisy": {0}, "coin": {0, 2, 4, 6, 8}, "inverted": {0, 1, 2, 3, 5, 6, 7, 9}}
    stop_at: int | None = None  # raise RunInterrupted on this example (once), as Ctrl-C would
    seconds_per_example = 0.0  # a scripted time for each example of a batch
    opened: list[str] = []  # the models a worker opened, in order

    def classify(self, requests, max_length):
        time.sleep(self.seconds_per_example * len(requests))
        predictions = []
        for request, right in zip(requests, super().classify(requests, max_length)):
            number = int(request.text.split()[-1])
            if number == Classifier.stop_at:
                Classifier.stop_at = None
                raise RunInterrupted(2)
            wrong = number % 10 in self.WRONG[self.name]
            predictions.append(replace(right, class_id=1 - right.class_id) if wrong else right)
        return predictions


def _suite(tmp_path, race=True):
    data = tmp_path / "d.jsonl"
    rng = np.random.default_rng(0)
    data.write_text("".join(json.dumps({"text": f"{'good' if good else 'bad'} film {i}",
                                        "label": "positive" if good else "negative"}) + "\n"
                            for i, good in enumerate(rng.random(ROWS) < 0.5)))
    return write_suite(tmp_path, {
        "name": "race", "runtime": {"race": {"rounds": [0.1, 0.25, 0.5, 1.0]} if race else False,
                                    "bootstrap_resamples": 200},
        "models": [{"name": name, "source": f"org/{name}"} for name in Classifier.WRONG],
        "tasks": [{"name": "sentiment", "type": "classification", "dataset": {"path": str(data)},
                   "options": {"method": "head"}, "metrics": ["accuracy"]}]}, name=f"race-{race}.yaml")


@pytest.fixture
def classifiers(monkeypatch):
    Classifier.opened = []

    def open_classifier(spec, runtime, device):
        Classifier.opened.append(spec.name)
        return Classifier(spec.name)

    monkeypatch.setattr("benchbench.run.worker.open_backend", open_classifier)


def _run(suite, out, *flags):
    return CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress", *flags])


def test_racing_stops_the_models_that_cannot_win_and_keeps_the_full_runs_winner(tmp_path, classifiers):
    raced = _run(_suite(tmp_path), tmp_path / "raced")
    assert raced.exit_code == 0, raced.output  # stopping models is what a race is for
    frame = load_results(tmp_path / "raced", all_attempts=True).set_index("model")
    assert frame.loc["oracle", "status"] == "ok" and frame.loc["oracle", "examples"] == ROWS
    store = Store(tmp_path / "raced")
    (winner,) = [r for r in store.results() if r.model == "oracle"]
    store.close()
    assert winner.counts["resumed_examples"] == 0  # its earlier rounds' examples were scored in this run
    assert sorted(Classifier.opened) == sorted(Classifier.WRONG)  # one worker per model, kept across the rounds
    assert "4 model worker(s) started" in raced.output
    assert set(frame.loc[["noisy", "coin", "inverted"], "status"]) == {"eliminated"}
    # inverted (wrong 4 times in 5) loses after the first round's 20 examples, coin (every other) by the
    # second round's 50; noisy (1 in 10 wrong) later
    assert frame.loc["inverted", "examples"] == 20 and frame.loc["coin", "examples"] <= 50
    assert 20 < frame.loc["noisy", "examples"] < ROWS
    reason = frame.loc["inverted", "reason"]  # in plain words first, then the statistics
    assert reason.startswith("stopped by racing after 20 of 200 examples (round 1): clearly worse than oracle on "
                             "accuracy (")
    assert "Evidence: accuracy" in reason and "McNemar exact" in reason
    assert frame.loc["coin", "settings"]["race"]["leader"] == "oracle"
    scored = int(frame["examples"].sum())
    assert f"racing: {scored} of {4 * ROWS} model-examples scored, {4 * ROWS - scored} saved" in raced.output
    assert scored <= 0.6 * 4 * ROWS  # at least 40% saved
    report = (tmp_path / "raced" / "report.html").read_text()
    assert "Racing stopped 3 model x task result(s) early" in report
    assert f"{4 * ROWS - scored} of {4 * ROWS} model-examples were not scored" in report

    full = _run(_suite(tmp_path, race=False), tmp_path / "full")
    assert full.exit_code == 0, full.output
    whole = load_results(tmp_path / "full").set_index("model")
    assert whole["accuracy"].idxmax() == "oracle"  # the race's winner is the full run's
    assert frame.loc["oracle", "accuracy"] == whole.loc["oracle", "accuracy"]


def test_a_race_interrupted_mid_round_resumes_to_the_same_outcome(tmp_path, classifiers):
    suite = _suite(tmp_path)
    order = race_order(ROWS, 1234)  # runtime.seed's default
    Classifier.stop_at = order[round_size(ROWS, 0.25) - 1]  # in round 2, once
    stopped = _run(suite, tmp_path / "r")
    assert stopped.exit_code != 0 and Classifier.stop_at is None
    resumed = _run(suite, tmp_path / "r")
    assert resumed.exit_code == 0, resumed.output
    assert "examples resumed" in resumed.output
    _run(suite, tmp_path / "clean")
    columns = ["status", "accuracy", "examples"]
    again = load_results(tmp_path / "r", all_attempts=True).set_index("model").sort_index()
    clean = load_results(tmp_path / "clean", all_attempts=True).set_index("model").sort_index()
    assert again[columns].equals(clean[columns])  # one result per model: each continued, none left running


def test_a_finished_race_run_again_keeps_its_verdicts(tmp_path, classifiers):
    suite = _suite(tmp_path)
    _run(suite, tmp_path / "r")
    before = load_results(tmp_path / "r", all_attempts=True).set_index("model").sort_index()
    again = _run(suite, tmp_path / "r")
    assert again.exit_code == 0 and "4 reused" in again.output, again.output
    after = load_results(tmp_path / "r", all_attempts=True).set_index("model").sort_index()
    assert after[["status", "examples", "accuracy"]].equals(before[["status", "examples", "accuracy"]])


def test_a_run_without_racing_completes_an_eliminated_result(tmp_path, classifiers):
    _run(_suite(tmp_path), tmp_path / "r")
    completed = _run(_suite(tmp_path, race=False), tmp_path / "r")
    assert completed.exit_code == 0, completed.output
    frame = load_results(tmp_path / "r").set_index("model")
    assert (frame["status"] == "ok").all() and (frame["examples"] == ROWS).all()
    store = Store(tmp_path / "r")
    assert len(store.results()) == 4  # each eliminated result was continued, not started again
    store.close()


class _Outcomes:
    """Right/wrong outcomes per model, compared as benchbench compares accuracy (McNemar exact)."""

    catalogue = CATALOGUE

    def __init__(self, outcomes):
        self.outcomes = outcomes

    def examples_of(self, model):
        return set(range(len(self.outcomes[model])))

    def score(self, model, metric, indices):
        return float(self.outcomes[model][list(indices)].mean())

    def compare(self, model, reference, metric, among):
        a, b = self.outcomes[model][list(among)], self.outcomes[reference][list(among)]
        nan = float("nan")
        return PairedDifference(float(a.mean() - b.mean()), nan, nan, mcnemar_exact(a, b), "McNemar exact", len(a))


def _tied_with_winner(outcomes):
    """The full run's verdicts: the winner, and the models tied with it (Holm, 0.05)."""
    names = list(outcomes)
    winner = max(names, key=lambda m: outcomes[m].mean())
    others = [m for m in names if m != winner]
    adjusted = holm([mcnemar_exact(outcomes[m], outcomes[winner]) for m in others])
    return winner, {m for m, p in zip(others, adjusted) if p >= 0.05}


@pytest.mark.parametrize("accuracies", [
    {"a": 0.72, "b": 0.72, "c": 0.69, "d": 0.6},  # two equally good, one a little worse, one clearly worse
    dict.fromkeys("abcd", 0.7),  # the hardest case: every model as good as the others
    dict.fromkeys("abcdef", 0.7),
])
def test_simulated_races_stop_a_model_tied_with_the_winner_no_more_often_than_allowed(accuracies):
    """2,000 races of 400 examples, with an example difficulty every model shares, at
    confidence 0.95: a race stops a model the full run finds tied with its winner (or the
    winner itself) in at most 5% of races."""
    race = RaceSpec(confidence=0.95, rounds=(0.1, 0.25, 0.5, 1.0))
    rng = np.random.default_rng(2026)
    n, races = 400, 2000
    level = stop_level(race, len(race.rounds) - 1, len(accuracies))
    wrong, stopped_clearly_worse = 0, 0
    for _ in range(races):
        easy = rng.random(n)  # an example's ease, shared by every model
        outcomes = {m: (rng.random(n) * 0.5 + easy * 0.5 < acc).astype(float) for m, acc in accuracies.items()}
        evidence, alive = _Outcomes(outcomes), list(accuracies)
        order = race_order(n, int(rng.integers(1 << 30)))
        stopped = set()
        for fraction in race.rounds[:-1]:
            prefix = tuple(order[:round_size(n, fraction)])
            for model in stops(evidence, alive, "accuracy", prefix, level):
                stopped.add(model)
                alive.remove(model)
        winner, tied = _tied_with_winner(outcomes)
        wrong += bool(stopped & tied or winner in stopped)
        stopped_clearly_worse += "d" in stopped and accuracies["d"] < 0.65
    assert wrong / races <= 1 - race.confidence, wrong / races
    if accuracies["d"] < 0.65:
        assert stopped_clearly_worse > 0.9 * races  # and the race still does its job


@pytest.mark.parametrize("race,problem", [
    ({"rounds": [0.5, 0.2]}, "is not a rising list of fractions in (0, 1]"),
    ({"rounds": [0, 1]}, "is not a rising list of fractions in (0, 1]"),
    ({"metric": "acuracy"}, "unknown metric 'acuracy'"),
    ({"confidence": 1.0}, "confidence"),
    ({"round": [0.5]}, "did you mean 'rounds'"),
])
def test_bad_race_settings_are_named_with_the_fix(tmp_path, race, problem):
    from benchbench.errors import SuiteError
    from benchbench.suite import load_suite

    suite = write_suite(tmp_path, {"name": "s", "runtime": {"race": race},
                                   "models": [{"name": "m", "source": "org/m"}],
                                   "tasks": [{"name": "t", "type": "classification", "dataset": {"path": "x.jsonl"}}]})
    with pytest.raises(SuiteError, match="runtime.race") as error:
        load_suite(suite)
    assert problem in str(error.value)


def test_race_settings_default_and_end_with_the_whole_task(tmp_path):
    from benchbench.suite import load_suite

    (tmp_path / "x.jsonl").write_text('{"text": "a", "label": "b"}\n')

    def parsed(race):
        return load_suite(write_suite(tmp_path, {"name": "s", "runtime": {"race": race},
                                                 "models": [{"name": "m", "source": "org/m"}],
                                                 "tasks": [{"name": "t", "type": "classification",
                                                            "dataset": {"path": "x.jsonl"}}]})).runtime.race

    assert parsed(True) == RaceSpec() and parsed(False) is None
    assert parsed({"rounds": [0.2, 0.6]}).rounds == (0.2, 0.6, 1.0)


def test_a_memory_budget_stops_models_before_the_first_round(tmp_path, classifiers):
    from benchbench.run.driver import Driver
    from benchbench.suite import load_suite

    why = "eliminated by racing before round 1: its weights alone need 9.00 GiB > race.max_memory_gb 4"
    driver = Driver(load_suite(_suite(tmp_path)), str(tmp_path / "r"), progress=True, log=lambda line: None,
                    up_front={"inverted": why})
    summary = driver.run()
    assert driver.bar.n == driver.bar.total == 4 * ROWS
    frame = load_results(tmp_path / "r", all_attempts=True).set_index("model")
    assert frame.loc["inverted", "status"] == "eliminated" and frame.loc["inverted", "reason"] == why
    assert frame.loc["inverted", "examples"] == 0 and frame.loc["oracle", "status"] == "ok"
    assert summary.race["full"] == 4 * ROWS


def test_weights_over_budget_judges_by_the_weights_alone(tiny_gpt2):
    from transformers import AutoConfig

    from benchbench.estimate import GIB, count_parameters, weights_over_budget
    from benchbench.spec import ApiSpec, CheckpointSpec, ModelSpec

    weights = count_parameters(AutoConfig.from_pretrained(tiny_gpt2)) * 4 / GIB  # float32
    models = [ModelSpec("tiny", "hf", CheckpointSpec(str(tiny_gpt2))),
              ModelSpec("offline", "hf", CheckpointSpec("org/not-here")),
              ModelSpec("served", "api", ApiSpec("http://x", "m"))]
    assert weights_over_budget(models, "float32", weights * 2) == {}
    over = weights_over_budget(models, "float32", weights / 2)
    assert list(over) == ["tiny"] and f"{weights:.2f} GiB > race.max_memory_gb" in over["tiny"]


def test_a_survivors_speed_figures_cover_every_round_as_a_run_without_racing_does(tmp_path, classifiers,
                                                                                   monkeypatch):
    """The oracle survives the race: its time, throughput and latency must be those of all 200
    examples, as in a run without racing, not of its last round (scripted: 3 ms per example)."""
    monkeypatch.setattr(Classifier, "seconds_per_example", 0.003)
    _run(_suite(tmp_path), tmp_path / "raced")
    _run(_suite(tmp_path, race=False), tmp_path / "full")
    raced = load_results(tmp_path / "raced", all_attempts=True).set_index("model").loc["oracle"]
    full = load_results(tmp_path / "full").set_index("model").loc["oracle"]
    assert raced["status"] == "ok" and raced["examples"] == full["examples"] == ROWS
    assert raced["timed_examples"] == ROWS and raced["segments"] == 4  # every round's examples, in 4 stretches
    for column in ("task_seconds", "examples_per_second", "unit_latency_p50_ms"):
        assert raced[column] == pytest.approx(full[column], rel=0.25), column
    assert raced["unit_latency_p50_ms"] == pytest.approx(3.0, rel=0.5)  # ms per example, as scripted
    assert raced["task_seconds"] == pytest.approx(ROWS * 0.003, rel=0.5)  # not the last round's 100 examples
    assert raced["unit_latency_unit"] == "example"


def test_a_task_too_small_to_stop_anything_runs_in_one_round(tmp_path, classifiers):
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"text": f"{'good' if i % 2 else 'bad'} film {i}",
                                        "label": "positive" if i % 2 else "negative"}) + "\n" for i in range(16)))
    suite = write_suite(tmp_path, {
        "name": "small", "runtime": {"race": True, "bootstrap_resamples": 0},
        "models": [{"name": name, "source": f"org/{name}"} for name in Classifier.WRONG],
        "tasks": [{"name": "tiny", "type": "classification", "dataset": {"path": str(data)},
                   "options": {"method": "head"}, "metrics": ["accuracy"]}]}, name="small.yaml")
    done = _run(suite, tmp_path / "r")
    assert done.exit_code == 0, done.output
    assert "racing: task tiny has too few examples for any model to be stopped before the end" in done.output
    frame = load_results(tmp_path / "r").set_index("model")
    assert (frame["status"] == "ok").all() and (frame["examples"] == 16).all()
    assert (frame["segments"] == 1).all()  # one round: no stretch per round
