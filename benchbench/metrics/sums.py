"""Per-example sufficient statistics, and the rules that turn their sums into a metric.

Every metric here is a function of summed per-example statistics (bootstrap.py). A
:class:`SumScore` names that function and its parameters as plain data, so the statistics can
be stored beside a result (the store's example_stats table) and scored again by any reader,
on any subset of examples or resample of them, without the predictions or the metric's code
path that made them. :class:`ExampleStats` is one metric's statistics of one result, with the
example indices they belong to, and their compact stored form.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from benchbench.store.records import StoredStats

STATS_FORMAT = 1  # bumped when the stored layout changes; older rows are then scored again
MAX_STORED_BYTES = 16 * 1024 * 1024  # a result's statistics of one metric, compressed; above: not stored


def _mean(sums: np.ndarray, scale: float = 1.0, column: int = 0) -> np.ndarray:
    """scale * (sum of a column) / (the count column, last)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return scale * sums[:, column] / sums[:, -1]


def _confusion(sums: np.ndarray) -> np.ndarray:
    size = int(round(math.sqrt(sums.shape[1])))
    return sums.reshape(-1, size, size)


def _macro_f1(sums: np.ndarray, labels: int) -> np.ndarray:
    """Unweighted mean of per-label F1 from summed one-hot (reference, prediction) rows; the
    last index is 'any other label', which is never averaged."""
    confusion = _confusion(sums)
    true_positive = np.diagonal(confusion, axis1=1, axis2=2)[:, :labels]
    actual, predicted = confusion.sum(axis=2)[:, :labels], confusion.sum(axis=1)[:, :labels]
    denominator = actual + predicted
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return f1.mean(axis=1)


def _mcc(sums: np.ndarray) -> np.ndarray:
    confusion = _confusion(sums)
    t, p = confusion.sum(axis=2), confusion.sum(axis=1)
    correct = np.trace(confusion, axis1=1, axis2=2)
    n = confusion.sum(axis=(1, 2))
    cov_tp = correct * n - (t * p).sum(axis=1)
    denominator = np.sqrt((n * n - (t * t).sum(axis=1)) * (n * n - (p * p).sum(axis=1)))
    return np.divide(cov_tp, denominator, out=np.zeros_like(cov_tp), where=denominator > 0)


def _bleu(sums: np.ndarray, **options: Any) -> np.ndarray:
    from benchbench.metrics.sacrebleu_sums import bleu_from_sums

    return bleu_from_sums(sums, options["max_ngram_order"], options["smooth_method"], options["smooth_value"],
                          options["effective_order"])


def _chrf(sums: np.ndarray, order: int, beta: int, eps_smoothing: bool) -> np.ndarray:
    from benchbench.metrics.sacrebleu_sums import chrf_from_sums

    return chrf_from_sums(sums, order, beta, eps_smoothing)


def _ter(sums: np.ndarray, **options: Any) -> np.ndarray:
    """TER from summed (edits, reference length) rows, with sacrebleu's own formula."""
    from sacrebleu.metrics import TER

    metric = TER(**options)
    return np.array([metric._compute_score_from_stats(list(row)).score for row in sums])


def _perplexity(sums: np.ndarray, name: str) -> np.ndarray:
    from benchbench.metrics.perplexity import perplexity_from_sums

    return perplexity_from_sums(name, sums)


RULES: dict[str, Callable[..., np.ndarray]] = {"mean": _mean, "macro_f1": _macro_f1, "mcc": _mcc, "bleu": _bleu,
                                               "chrf": _chrf, "ter": _ter, "perplexity": _perplexity}


@dataclass(frozen=True)
class SumScore:
    """A metric's score from summed statistics: `rule` (one of RULES) with its parameters.
    Called with a (rows, columns) array of sums, it gives one score per row."""

    rule: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, rule: str, **params: Any) -> "SumScore":
        if rule not in RULES:
            raise KeyError(f"unknown sum rule {rule!r}; known: {', '.join(RULES)}")
        return cls(rule, tuple(sorted(params.items())))

    def __call__(self, sums: np.ndarray) -> np.ndarray:
        return RULES[self.rule](np.atleast_2d(np.asarray(sums, dtype=np.float64)), **dict(self.params))

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "params": dict(self.params), "format": STATS_FORMAT}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "SumScore":
        return cls.of(raw["rule"], **raw.get("params", {}))


@dataclass(frozen=True)
class ExampleStats:
    """One metric's per-example statistics for one result: `values[i]` belongs to example
    `indices[i]` (indices rising), and `scorer` scores any sum of rows."""

    indices: np.ndarray  # int64, rising
    values: np.ndarray  # float64, (examples, columns)
    scorer: SumScore

    @classmethod
    def of(cls, indices: list[int] | np.ndarray, values: np.ndarray, scorer: SumScore) -> "ExampleStats":
        values = np.asarray(values, dtype=np.float64)
        values = values[:, None] if values.ndim == 1 else values
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        return cls(indices[order], values[order], scorer)

    def rows(self, indices: tuple[int, ...] | np.ndarray) -> np.ndarray:
        """The statistics of these examples, in the order given (each must be present)."""
        positions = np.searchsorted(self.indices, np.asarray(indices, dtype=np.int64))
        return self.values[positions]

    def score(self, indices: tuple[int, ...] | None = None) -> float:
        """The metric over these examples (all: None)."""
        rows = self.values if indices is None else self.rows(indices)
        return float(self.scorer(rows.sum(axis=0)[None, :])[0])

    def per_example(self) -> np.ndarray:
        """Each example's own figure (the rule applied to its row alone)."""
        return np.asarray(self.scorer(self.values), dtype=np.float64)

    def stored(self, metric: str) -> StoredStats | None:
        """The compressed form the store keeps; None above MAX_STORED_BYTES (readers then score
        the stored predictions again, as before statistics were stored)."""
        values = zlib.compress(np.ascontiguousarray(self.values).tobytes(), 6)
        if len(values) > MAX_STORED_BYTES:
            return None
        return StoredStats(metric, self.scorer.to_dict(), len(self.indices), self.values.shape[1],
                           zlib.compress(self.indices.tobytes(), 6), values)

    @classmethod
    def from_stored(cls, row: StoredStats) -> "ExampleStats | None":
        """Decoded statistics; None when written in another format (they are computed again)."""
        if row.scorer.get("format") != STATS_FORMAT:
            return None
        indices = np.frombuffer(zlib.decompress(row.indices), dtype=np.int64)
        values = np.frombuffer(zlib.decompress(row.values), dtype=np.float64).reshape(row.examples, row.columns)
        return cls(indices, values, SumScore.from_dict(row.scorer))
