"""The figures a model is chosen on, read from its stored results: memory, latency and cost.

Memory is the measured GPU peak of the process (NVML) where a GPU run measured it, else torch's
reserved peak, else an estimate from the recorded model shape (flagged as such); a served
model uses no local memory (it fits any budget).

Latency compares like with like (docs/methodology.md), in one unit per task: the
fixed-length probe (batch 1, the same prompt and output length for every model) where every
model of the task has it; else the task's own unit latency: for generating tasks the time per output token (a batch's time over its decoding
steps, so a model that writes longer answers is not called slower for it), for the others the
time per example at the task's batch size. Each comes with a 95% interval (of the median over
batches, or the probe's range), so two models are called different on speed only beyond their
noise; the raw figure (a batch's or a request's whole time, p50) is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from benchbench.estimate import estimate_from_shape
from benchbench.numbers import finite_or_none
from benchbench.spec import REMOTE_DEVICE
from benchbench.store import ResultRecord
from benchbench.tasks import TASK_TYPES

MIB_PER_GIB = 1024.0
REMOTE_MEMORY = "remote (runs on the server)"
DEFAULT_WINDOW = 512  # input tokens assumed for an estimate when the settings cap none
MEASURED_NVML = "measured (NVML process peak)"
MEASURED_TORCH = "measured (torch reserved)"
ESTIMATED = "estimated"


@dataclass(frozen=True)
class Latency:
    """A task's latency figure for ranking: `ms` (p50) with its 95% interval, what it is per
    (`unit`), how it was taken (`source`), and the raw figure (`raw_ms`: the whole batch's or
    request's p50) beside it."""

    ms: float | None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    source: str = "unknown"
    raw_ms: float | None = None


def _number(value: Any) -> float | None:
    try:
        return finite_or_none(float(value))
    except (TypeError, ValueError):
        return None


def _path(measurements: dict[str, Any], *keys: str) -> Any:
    """A nested measurement (None where any level is missing)."""
    value: Any = measurements
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def has_probe(record: ResultRecord) -> bool:
    """Whether the result measured the fixed-length probe."""
    return _number(_path(record.measurements, "latency_probe", "batch_1", "total", "p50_ms")) is not None


def latency_of(record: ResultRecord, probe: bool) -> Latency:
    """The ranking latency of a result (the module docstring says which): the probe's where
    `probe` (every model of the task has it), else the unit latency, else the raw figure."""
    m = record.measurements
    raw, raw_source = _raw(m)
    if probe and has_probe(record):
        total = _path(m, "latency_probe", "batch_1", "total")
        return Latency(_number(total["p50_ms"]), _number(total.get("min_ms")), _number(total.get("max_ms")),
                       f"ms for a fixed-length request ({_path(m, 'latency_probe', 'prompt_tokens')} prompt tokens, "
                       f"{_path(m, 'latency_probe', 'new_tokens')} new)",
                       "probe: batch 1, fixed lengths, p50 [range of the repeats]", raw)
    unit = m.get("unit_latency")
    if isinstance(unit, dict) and _number(unit.get("p50_ms")) is not None:
        return Latency(_number(unit["p50_ms"]), _number(unit.get("p50_low_ms")), _number(unit.get("p50_high_ms")),
                       f"ms per {unit.get('unit', 'example')}", str(unit.get("definition", "")), raw)
    return Latency(raw, unit="ms (whole batch or request)", source=raw_source or "unknown", raw_ms=raw)


def _raw(m: dict[str, Any]) -> tuple[float | None, str | None]:
    """The raw latency: a served model's request end to end, else a batch at the task's batch size."""
    request = _number(_path(m, "request_latency", "e2e", "p50_ms"))
    if request is not None:
        return request, f"request end to end, p50, {m.get('concurrency') or '?'} in flight"
    batch = _number(_path(m, "batch_latency", "p50_ms"))
    return (batch, "p50 batch latency at the task's batch size") if batch is not None else (None, None)


def memory_of(records: Iterable[ResultRecord]) -> tuple[float | None, str]:
    """Peak GPU memory of a model over its tasks (GiB), and where the number came from."""
    records = list(records)
    if any(r.model_info.get("device") == REMOTE_DEVICE for r in records):
        return None, REMOTE_MEMORY
    for keys, source in ((("gpu", "process_peak_mib"), MEASURED_NVML), (("torch_max_reserved_mib",), MEASURED_TORCH)):
        values = [v for r in records if (v := _number(_path(r.measurements, *keys))) is not None]
        if values:
            return max(values) / MIB_PER_GIB, source
    estimates = [e for r in records if (e := _estimate(r)) is not None]
    return (max(estimates), ESTIMATED) if estimates else (None, "unknown")


def _estimate(record: ResultRecord) -> float | None:
    """Memory (GiB) estimated from the model's recorded shape and the task's lengths."""
    shape, parameters = record.model_info.get("shape"), _number(record.model_info.get("parameters"))
    task_type = TASK_TYPES.get(record.task_type)  # None: stored by a benchbench with a task type this one lacks
    if not isinstance(shape, dict) or not parameters or task_type is None:
        return None
    cap, new_tokens = task_type.sequence_lengths(record.settings.task_settings)
    window = int(cap or DEFAULT_WINDOW)
    longest = _number(record.measurements.get("max_example_prompt_tokens"))
    seq = min(int(longest) if longest else window, window) + new_tokens
    dtype = record.model_info.get("dtype")
    dtype = dtype if dtype in ("float32", "float16", "bfloat16") else "float32"
    batch = record.settings.batch_size if isinstance(record.settings.batch_size, int) else \
        record.settings.batch_size_used
    return estimate_from_shape(int(parameters), shape, dtype, int(batch or 1), seq,
                               logits_positions=1 if new_tokens > 0 else None).total_gib


def cost_per_1k(record: ResultRecord) -> float | None:
    """Cost per 1,000 examples (served models with a price), in the price's currency."""
    return _number(_path(record.measurements, "cost", "per_1k_examples"))


def request_p50(record: ResultRecord, name: str) -> float | None:
    """A served model's request figure (ttft, tpot), p50 over requests, in ms."""
    return _number(_path(record.measurements, "request_latency", name, "p50_ms"))


def measured(record: ResultRecord, *keys: str) -> float | None:
    """Any numeric measurement by its path (None when absent)."""
    return _number(_path(record.measurements, *keys))
