"""The metric catalogue: every score a result can carry, with its direction and scale.

One entry per *score name* as results store it (`rouge` gives rouge1, rouge2, rougeL and
rougeLsum; perplexity gives four figures). The choosing side ranks, filters and compares by
these entries; `benchbench list` shows them. Scores from an `evaluate:` module are not known
before they are computed: the run records each one's entry with its result (`score_info`),
and readers add them to the catalogue (:meth:`Catalogue.with_recorded`), so such a score is
ranked, shown and compared like a built-in one.

`outcome` says how one example scores: `right/wrong` (accuracy, exact match: paired with
McNemar's exact test) or `graded` (the paired permutation test).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Iterator, Mapping

RIGHT_WRONG = "right/wrong"
GRADED = "graded"
# Names of scores from an `evaluate:` module that are better when lower, unless the suite says
# otherwise (metric_options: {"evaluate:NAME": {"higher_is_better": ...}}).
LOWER_IS_BETTER_WORDS = ("wer", "cer", "ter", "perplexity", "loss", "error", "mse", "mae", "rmse", "distance")


@dataclass(frozen=True)
class MetricInfo:
    """A score's catalogue entry."""

    name: str
    higher_is_better: bool
    scale: str
    description: str
    origin: str = "benchbench"  # or "evaluate:NAME"
    outcome: str = GRADED
    computed_by: tuple[str, ...] = ()  # the task types that compute it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "MetricInfo":
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        known["computed_by"] = tuple(known.get("computed_by") or ())
        return cls(**known)


def _info(names: Iterable[str], higher: bool, scale: str, description: str, outcome: str = GRADED) -> dict[str, MetricInfo]:
    return {n: MetricInfo(n, higher, scale, description, outcome=outcome) for n in names}


BUILT_IN: dict[str, MetricInfo] = {
    **_info(["accuracy"], True, "0-1", "share of predictions equal to the reference label", RIGHT_WRONG),
    **_info(["acc_norm"], True, "0-1", "accuracy when each choice's log-likelihood is divided by its length in "
                                       "characters", RIGHT_WRONG),
    **_info(["macro_f1"], True, "0-1", "unweighted mean of per-label F1 (scikit-learn)"),
    **_info(["mcc"], True, "-1 to 1", "Matthews correlation coefficient (scikit-learn)"),
    **_info(["bleu"], True, "0-100", "sacreBLEU corpus BLEU"),
    **_info(["chrf"], True, "0-100", "sacreBLEU chrF (char order 6, beta 2)"),
    **_info(["chrf++"], True, "0-100", "sacreBLEU chrF++ (chrF with word bigrams)"),
    **_info(["ter"], False, "0 and up (100: as many edits as reference words)", "sacreBLEU translation edit rate"),
    **_info(["rouge1", "rouge2", "rougeL", "rougeLsum"], True, "0-100 (0-1 with scale: 1)",
            "rouge-score F-measure, the best over references"),
    **_info(["exact_match"], True, "0-100", "official SQuAD v1.1 exact match", RIGHT_WRONG),
    **_info(["f1"], True, "0-100", "official SQuAD v1.1 token F1 (Counter-based)"),
    **_info(["token_perplexity", "word_perplexity", "byte_perplexity"], False, "1 and up",
            "corpus perplexity from summed log-likelihoods"),
    **_info(["bits_per_byte"], False, "0 and up", "corpus bits per UTF-8 byte from summed log-likelihoods"),
}


def evaluate_info(module: str, score: str, higher_is_better: bool | None = None) -> MetricInfo:
    """The entry of a score an `evaluate:` module returned: better when higher unless its name
    says otherwise (LOWER_IS_BETTER_WORDS) or the suite set `higher_is_better`."""
    if higher_is_better is None:  # by whole words of the name: "wer_score" is an error rate, "answer_f1" is not
        higher_is_better = not set(re.split(r"[^a-z0-9]+", score.lower())) & set(LOWER_IS_BETTER_WORDS)
    return MetricInfo(score, higher_is_better, "as the module defines it", f"score of the evaluate module {module!r}",
                      origin=f"evaluate:{module}")


class Catalogue(Mapping[str, MetricInfo]):
    """Score name -> MetricInfo, built-in entries first, then those recorded with results."""

    def __init__(self, entries: Mapping[str, MetricInfo] | None = None) -> None:
        self._entries = dict(BUILT_IN if entries is None else entries)

    def __getitem__(self, name: str) -> MetricInfo:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def higher_is_better(self, name: str) -> bool:
        """The direction of a score (an unknown one: higher is better, and it is not ranked by default)."""
        info = self._entries.get(name)
        return True if info is None else info.higher_is_better

    def with_recorded(self, recorded: Iterable[Mapping[str, Any]]) -> "Catalogue":
        """This catalogue plus the entries results recorded for scores it does not know."""
        entries = dict(self._entries)
        for infos in recorded:
            for name, raw in infos.items():
                if name not in entries:
                    entries[name] = MetricInfo.from_dict({**raw, "name": name})
        return Catalogue(entries)

    def with_tasks(self, computed: Mapping[str, tuple[str, ...]]) -> "Catalogue":
        """Entries saying which task types compute them (score name -> task types)."""
        return Catalogue({name: replace(info, computed_by=computed.get(name, info.computed_by))
                          for name, info in self._entries.items()})


CATALOGUE = Catalogue()
