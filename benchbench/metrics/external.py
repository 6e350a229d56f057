"""Any Hugging Face `evaluate` module, for users who have the hub (``evaluate:NAME``).

The scores are whatever the module returns (numbers only); no intervals are computed,
and the signature names the module. Each score gets a catalogue entry recorded with the
result (catalogue.py): better when higher unless its name says otherwise or the suite sets
``metric_options: {"evaluate:NAME": {higher_is_better: false}}``. Offline, loading fails with
a clear message.
Note: `evaluate`'s "bleu" is not sacreBLEU; use the built-in `bleu` for sacreBLEU.
"""

from __future__ import annotations

from typing import Any, Sequence

from benchbench.errors import TaskConfigError
from benchbench.metrics.base import Metric, MetricResult
from benchbench.metrics.catalogue import evaluate_info

EVALUATE_PREFIX = "evaluate:"


def evaluate_module(name: str) -> Metric:
    def run(predictions: Sequence[Any], references: Sequence[Any], higher_is_better: bool | None = None,
            **options: Any) -> MetricResult:
        try:
            import evaluate
        except ImportError as exc:
            raise TaskConfigError("metric evaluate:%s needs the `evaluate` package: pip install evaluate"
                                  % name) from exc
        try:
            module = evaluate.load(name)
        except Exception as exc:
            raise TaskConfigError(f"evaluate module {name!r} could not be loaded (it is fetched from the "
                                  f"hub unless it is a local path): {type(exc).__name__}: {exc}") from exc
        output = module.compute(predictions=list(predictions), references=list(references), **options)
        scores = {f"{name}_{k}" if k in ("score",) else k: float(v) for k, v in output.items()
                  if isinstance(v, (int, float))}
        return MetricResult(scores, f"evaluate:{name}|{getattr(module, 'version', '')}",
                            info={score: evaluate_info(name, score, higher_is_better) for score in scores})

    return Metric(run, f"Hugging Face evaluate module {name!r}", ())
