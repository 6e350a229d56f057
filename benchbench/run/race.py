"""Racing: stop evaluating models that cannot win a task (runtime.race, `--race`).

Every model of a task is scored on the same growing prefix of the task's examples, in one
order drawn with the run's seed (so a prefix is a random sample, whatever the order of the
file). After each round but the last, each model is compared with the round's leader,
paired on the prefix (selection/evidence.py: McNemar's exact test for right/wrong metrics, the
paired permutation test otherwise). A model stops when it is worse than the leader with a
one-sided p-value below (1 - confidence) / (L x m x (m - 1)): Bonferroni's bound over the L
rounds at which models may stop and every ordered pair of the m models of the suite (the
leader is chosen from the data, so any pair may be the one tested). Whatever the rounds
reveal, the chance that any model is stopped by a model no better than it stays at or below
1 - confidence; tests/test_race.py checks by simulation, with 4 and 6 equally good models,
that racing stops a model the full run would have found tied with the winner no more often
than that. Racing is a Successive Elimination procedure (Maron & Moore 1994,
"Hoeffding races"; Even-Dar, Mannor & Mansour 2006) with exact paired tests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from benchbench.metrics.catalogue import RIGHT_WRONG
from benchbench.selection.evidence import TaskEvidence
from benchbench.selection.statistics import EXACT_UP_TO, PERMUTATIONS, PairedDifference
from benchbench.spec import RaceSpec


def race_order(examples: int, seed: int) -> list[int]:
    """The order in which a task's examples enter the race: a permutation drawn with `seed`."""
    return [int(i) for i in np.random.default_rng(seed).permutation(examples)]


def round_size(examples: int, fraction: float) -> int:
    """How many of a task's examples a round has scored by its end (at least 2, to compare)."""
    return examples if fraction >= 1 else min(examples, max(2, math.ceil(fraction * examples)))


def stop_level(race: RaceSpec, looks: int, models: int) -> float:
    """The one-sided p-value below which a model stops: 1 - confidence shared (Bonferroni)
    over the `looks` rounds at which models may stop and the ordered pairs of `models`."""
    return (1 - race.confidence) / (max(1, looks) * max(1, models * (models - 1)))


def smallest_p(outcome: str, examples: int) -> float:
    """The smallest one-sided p-value the race's paired test can give on `examples` examples:
    McNemar's exact test when every example is discordant (1/2^n); the permutation test, 1/2^n
    where it enumerates every swap, else one in (PERMUTATIONS + 1) halved."""
    if outcome == RIGHT_WRONG or examples <= EXACT_UP_TO:
        return 0.5 ** examples
    return 0.5 / (PERMUTATIONS + 1)


def first_possible_stop(race: RaceSpec, outcome: str, examples: int, level: float) -> int | None:
    """The first round after which the race could stop a model at all (None: none can, the
    task is too small for its stop level)."""
    for number, fraction in enumerate(race.rounds[:-1], start=1):
        if smallest_p(outcome, round_size(examples, fraction)) < level:
            return number
    return None


@dataclass(frozen=True)
class Stop:
    """Why a model stopped: the round's leader, both scores on the examples compared, the paired
    difference, and the level."""

    leader: str
    difference: PairedDifference
    one_sided_p: float
    level: float
    score: float | None = None
    leader_score: float | None = None

    def reason(self, metric: str, round_number: int, examples: int, total: int) -> str:
        """The result's reason: in plain words first (the round, who was better, by how much),
        then the evidence, and what a run without racing does."""
        d = self.difference
        scores = "" if self.score is None or self.leader_score is None else \
            f" ({self.score:.4g} against {self.leader_score:.4g} on the same {d.n} examples)"
        return (f"stopped by racing after {examples} of {total} examples (round {round_number}): clearly worse than "
                f"{self.leader} on {metric}{scores}. Evidence: {metric} {d.difference:+.4g} [{d.low:+.4g}, "
                f"{d.high:+.4g}] vs {self.leader}, one-sided p={self.one_sided_p:.2g} ({d.test}) < {self.level:.2g}; "
                f"a run without --race scores the rest")

    def verdict(self, round_number: int, examples: int, metric: str) -> dict[str, object]:
        """The evidence, as stored in the result's settings.race."""
        return {"round": round_number, "examples": examples, "metric": metric, "leader": self.leader,
                **asdict(self.difference), "one_sided_p": self.one_sided_p, "level": self.level}


def leader_of(evidence: TaskEvidence, models: list[str], metric: str, indices: tuple[int, ...]) -> str | None:
    """The model with the best `metric` on those of the examples `indices` that every racing
    model has (a served model's failed requests are not); None when none can be scored."""
    shared = set(indices)
    for model in models:
        shared &= evidence.examples_of(model)
    common = tuple(sorted(shared))
    scores = {m: s for m in models if (s := evidence.score(m, metric, common)) is not None and math.isfinite(s)}
    if not scores:
        return None
    higher = evidence.catalogue.higher_is_better(metric)
    return max(scores, key=lambda m: scores[m] if higher else -scores[m])


def stops(evidence: TaskEvidence, models: list[str], metric: str, indices: tuple[int, ...],
          level: float) -> dict[str, Stop]:
    """The models that stop after a round: worse than the leader on the prefix `indices`, with
    a one-sided p-value below `level`."""
    leader = leader_of(evidence, models, metric, indices)
    if leader is None:
        return {}
    higher = evidence.catalogue.higher_is_better(metric)
    out = {}
    for model in models:
        if model == leader:
            continue
        difference = evidence.compare(model, leader, metric, indices)
        if difference is None:
            continue
        worse = difference.difference < 0 if higher else difference.difference > 0
        one_sided = difference.p_value / 2 if worse else 1.0
        if one_sided < level:
            common = tuple(sorted(set(indices) & evidence.examples_of(model) & evidence.examples_of(leader)))
            out[model] = Stop(leader, difference, one_sided, level, evidence.score(model, metric, common),
                              evidence.score(leader, metric, common))
    return out
