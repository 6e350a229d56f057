"""Racing: stop evaluating models that cannot win a task (runtime.race, `--race`).

Every model of a task is scored on the same growing prefix of the task's examples, in one
order drawn with the run's seed (so a prefix is a random sample, whatever the order of the
file). After each round but the last, each model is compared with the round's leader,
paired on the prefix (tasks/paired.py: McNemar's exact test for right/wrong metrics, the
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

from benchbench.metrics import DIRECTION
from benchbench.spec import RaceSpec
from benchbench.statistics import PairedDifference
from benchbench.tasks.paired import TaskEvidence


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


@dataclass(frozen=True)
class Stop:
    """Why a model stopped: the round's leader, the paired difference, and the level."""

    leader: str
    difference: PairedDifference
    one_sided_p: float
    level: float

    def reason(self, metric: str, round_number: int, examples: int) -> str:
        """The result's reason: the round, the evidence and what a run without racing does."""
        d = self.difference
        return (f"eliminated by racing in round {round_number} after {examples} examples: {metric} "
                f"{d.difference:+.4g} [{d.low:+.4g}, {d.high:+.4g}] vs {self.leader}, one-sided p={self.one_sided_p:.2g} "
                f"({d.test}) < {self.level:.2g}; a run without --race scores the rest")

    def to_dict(self) -> dict[str, object]:
        """The evidence, as stored in the result's settings.race."""
        return {"leader": self.leader, **asdict(self.difference), "one_sided_p": self.one_sided_p, "level": self.level}


def leader_of(evidence: TaskEvidence, models: list[str], metric: str, indices: tuple[int, ...]) -> str | None:
    """The model with the best `metric` on those of the examples `indices` that every racing
    model has stored (a served model's failed requests are not); None when none can be scored."""
    shared = set(indices)
    for model in models:
        shared &= set(evidence.examples.get(model, {}))
    common = tuple(sorted(shared))
    scores = {m: s for m in models if (s := evidence.score(m, metric, common)) is not None and math.isfinite(s)}
    if not scores:
        return None
    higher = DIRECTION.get(metric, True)
    return max(scores, key=lambda m: scores[m] if higher else -scores[m])


def stops(evidence: TaskEvidence, models: list[str], metric: str, indices: tuple[int, ...],
          level: float) -> dict[str, Stop]:
    """The models that stop after a round: worse than the leader on the prefix `indices`, with
    a one-sided p-value below `level`."""
    leader = leader_of(evidence, models, metric, indices)
    if leader is None:
        return {}
    higher = DIRECTION.get(metric, True)
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
            out[model] = Stop(leader, difference, one_sided, level)
    return out
