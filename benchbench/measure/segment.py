"""A task measured in stretches, and the stretches combined into one measurement.

A task is usually timed in one stretch. A race times it in several (one per round, with other
models' rounds in between), and a resumed task was partly scored by an earlier run. Each
stretch's TaskMeter gives a :class:`MeterSegment`: raw enough (every batch's duration and
size, every request's timing, the example indices it timed) that :func:`task_measurement` gives the
figures the task would have had in one stretch: times and batch latencies summed over the
stretches, peaks the highest of them, counts over every example (those resumed from the store
too, from the details each stored example keeps), and rates over the timed examples only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import comb
from typing import Any, Iterable, Sequence

import numpy as np

from benchbench.measure.stats import LatencyStats

REQUEST_TIMINGS = {"ttft": "ttft_ms", "tpot": "tpot_ms", "e2e": "e2e_ms"}  # summary name: per-example detail
GENERATED, EXAMPLE = "output token", "example"  # what a task's latency is per
CONFIDENCE = 0.95


@dataclass
class MeterSegment:
    """What one stretch of a task measured. `unit_seconds`: per batch (local) or per request
    (served), the seconds per unit of `unit` ("output token" for generation: a batch's time over
    its decoding steps; "example" otherwise), warm-up batches left out."""

    device: str
    seconds: float = 0.0
    indices: list[int] = field(default_factory=list)  # the examples it timed
    batch_seconds: list[float] = field(default_factory=list)  # warm-up batches left out
    warmup_batches: int = 0
    timer: str = ""
    unit: str = EXAMPLE
    unit_seconds: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    max_example_prompt_tokens: int | None = None
    peak_rss_mib: float = 0.0
    rss_scope: str = "process"
    torch_max_allocated_mib: float | None = None
    torch_max_reserved_mib: float | None = None
    gpu: dict[str, Any] | None = None
    gpu_note: str = ""


@dataclass
class Counts:
    """Example, token and request counts over details (ExampleResult.details dicts)."""

    examples: int = 0
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    max_example_prompt_tokens: int | None = None
    requests: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in REQUEST_TIMINGS})
    request_rates: list[float] = field(default_factory=list)
    retries: int | None = None

    def add(self, details: Sequence[dict[str, Any]]) -> None:
        self.examples += len(details)
        prompt = [d["prompt_tokens"] for d in details if d.get("prompt_tokens") is not None]
        generated = [d["generated_tokens"] for d in details if d.get("generated_tokens") is not None]
        if prompt:
            self.prompt_tokens = (self.prompt_tokens or 0) + sum(prompt)
            self.max_example_prompt_tokens = max(max(prompt), self.max_example_prompt_tokens or 0)
        if generated:
            self.generated_tokens = (self.generated_tokens or 0) + sum(generated)
        for d in details:
            self._add_request(d)

    def _add_request(self, details: dict[str, Any]) -> None:
        """A served model's request timing, as the example stores it (RequestTiming.to_details)."""
        if "e2e_ms" not in details:
            return
        for name, key in REQUEST_TIMINGS.items():
            if details.get(key) is not None:
                self.requests[name].append(details[key] / 1000.0)
        if details.get("generated_tokens") and details["e2e_ms"] > 0:
            self.request_rates.append(details["generated_tokens"] / (details["e2e_ms"] / 1000.0))
        self.retries = (self.retries or 0) + max(0, int(details.get("attempts", 1)) - 1)

    def request_summary(self) -> dict[str, Any]:
        latency = {name: stats.to_dict() for name, values in self.requests.items()
                   if (stats := LatencyStats.from_seconds(values))}
        rates = {"mean": float(np.mean(self.request_rates)), "p50": float(np.median(self.request_rates))} \
            if self.request_rates else None
        return {"request_latency": latency or None, "output_tokens_per_second_per_request": rates,
                "request_retries": self.retries}


def batch_units(details: Sequence[dict[str, Any]], unit: str) -> int:
    """How many units of `unit` a batch took: its decoding steps (its longest output; 0 when it
    generated nothing, and the batch is left out of the per-token figures), or its examples."""
    if unit == GENERATED:
        return max((d.get("generated_tokens") or 0 for d in details), default=0)
    return len(details)


def request_unit_seconds(details: dict[str, Any], unit: str) -> float | None:
    """A served request's seconds per `unit`: end to end over its output tokens, or per example
    (None: not a timed request, or one that generated nothing)."""
    if details.get("e2e_ms") is None:
        return None
    if unit == EXAMPLE:
        return details["e2e_ms"] / 1000.0
    tokens = details.get("generated_tokens")
    return details["e2e_ms"] / 1000.0 / tokens if tokens else None


def median_interval(values_ms: np.ndarray) -> tuple[float, float]:
    """A distribution-free 95% interval of the median (order statistics, binomial with p = 1/2);
    with fewer than 6 values no interval reaches 95%, and the whole range is given."""
    ordered = np.sort(values_ms)
    n = len(ordered)
    if n < 6:
        return float(ordered[0]), float(ordered[-1])
    cdf, total, low = 0.0, 2.0 ** n, 0
    while low < n and cdf + comb(n, low) / total <= (1 - CONFIDENCE) / 2:
        cdf += comb(n, low) / total
        low += 1
    low = max(low - 1, 0)
    return float(ordered[low]), float(ordered[n - 1 - low])


def unit_latency(segments: Sequence[MeterSegment]) -> dict[str, Any] | None:
    """The task's latency per unit over every stretch: distribution, p50 and its 95% interval."""
    values = [v for s in segments for v in s.unit_seconds]
    stats = LatencyStats.from_seconds(values)
    if stats is None:
        return None
    unit = segments[0].unit
    low, high = median_interval(np.asarray(values) * 1000.0)
    how = ("each request's end-to-end time over its output tokens" if segments[0].device == "remote"
           else "each batch's time over its decoding steps (its longest output)") if unit == GENERATED else \
        ("each request's end-to-end time" if segments[0].device == "remote" else
         "each batch's time over its examples, at the task's batch size")
    return {"unit": unit, **stats.to_dict(), "p50_low_ms": low, "p50_high_ms": high,
            "definition": f"ms per {unit}: {how}; p50 over {stats.count}, 95% interval of the median"}


def combine_gpu(measured: list[dict[str, Any]], seconds: list[float]) -> dict[str, Any] | None:
    """NVML figures of several stretches as one: peaks the highest, energy summed, mean power
    weighted by time, the processes seen in any."""
    if not measured:
        return None
    if len(measured) == 1:
        return measured[0]
    first = dict(measured[0])
    energies = [m.get("energy_j") for m in measured]
    powers = [(m.get("mean_power_w"), s) for m, s in zip(measured, seconds)]
    first.update(
        samples=sum(m.get("samples", 0) for m in measured),
        process_peak_mib=max((m["process_peak_mib"] for m in measured if m.get("process_peak_mib") is not None),
                             default=None),
        device_peak_mib=max(m["device_peak_mib"] for m in measured),
        device_baseline_mib=min(m["device_baseline_mib"] for m in measured),
        peak_power_w=max((m["peak_power_w"] for m in measured if m.get("peak_power_w") is not None), default=None),
        mean_power_w=sum(p * s for p, s in powers) / sum(s for _, s in powers)
        if all(p is not None for p, _ in powers) and sum(seconds) > 0 else None,
        energy_j=sum(energies) if all(e is not None for e in energies) else None,
        other_processes=sorted({p for m in measured for p in m.get("other_processes", [])}),
        unattributed_processes=sorted({p for m in measured for p in m.get("unattributed_processes", [])}),
        most_processes=max(m.get("most_processes", 0) for m in measured))
    return first


@dataclass(frozen=True)
class TaskMeasurement:
    """Cost of one model x task (docs/methodology.md says how each field is taken). Counts are
    over every example of the result; rates and times over the examples timed here."""

    load_seconds: float
    task_seconds: float
    examples: int
    examples_per_second: float
    prompt_tokens: int | None
    generated_tokens: int | None
    prompt_tokens_per_second: float | None
    generated_tokens_per_second: float | None
    max_example_prompt_tokens: int | None
    batch_latency: dict[str, Any] | None
    warmup_batches: int
    timer: str
    peak_rss_mib: float
    peak_rss_scope: str  # "task": reset at the task's start; "process": since the process started
    torch_max_allocated_mib: float | None
    torch_max_reserved_mib: float | None
    gpu: dict[str, Any] | None
    gpu_note: str
    unit_latency: dict[str, Any] | None = None  # per output token (generation) or per example, p50 and interval
    timed_examples: int = 0  # the examples timed (a resumed result's earlier examples were timed by another run)
    segments: int = 1  # stretches the task was timed in (a race's rounds)
    request_latency: dict[str, Any] | None = None  # served models: ttft, tpot, e2e distributions per request
    output_tokens_per_second_per_request: dict[str, float] | None = None  # served models: mean and p50
    request_retries: int | None = None  # served models: retries it took, over all requests

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def task_measurement(load_seconds: float, segments: list[MeterSegment], counts: Counts) -> TaskMeasurement:
    """The task's measurement from its stretches (timed here or in earlier rounds) and the counts
    over all its examples (resumed ones included)."""
    seconds = sum(s.seconds for s in segments)
    timed = sum(len(s.indices) for s in segments)

    def rate(count: int | None) -> float | None:
        return count / seconds if count is not None and seconds > 0 else None

    timed_prompt = _sum(s.prompt_tokens for s in segments)
    timed_generated = _sum(s.generated_tokens for s in segments)
    stats = LatencyStats.from_seconds([t for s in segments for t in s.batch_seconds])
    last = segments[-1]
    return TaskMeasurement(
        load_seconds=load_seconds, task_seconds=seconds, examples=counts.examples,
        examples_per_second=timed / seconds if seconds > 0 else float("nan"),
        prompt_tokens=counts.prompt_tokens, generated_tokens=counts.generated_tokens,
        prompt_tokens_per_second=rate(timed_prompt), generated_tokens_per_second=rate(timed_generated),
        max_example_prompt_tokens=counts.max_example_prompt_tokens,
        batch_latency=stats.to_dict() if stats else None, warmup_batches=sum(s.warmup_batches for s in segments),
        timer=last.timer, peak_rss_mib=max(s.peak_rss_mib for s in segments), peak_rss_scope=last.rss_scope,
        torch_max_allocated_mib=_max(s.torch_max_allocated_mib for s in segments),
        torch_max_reserved_mib=_max(s.torch_max_reserved_mib for s in segments),
        gpu=combine_gpu([s.gpu for s in segments if s.gpu], [s.seconds for s in segments if s.gpu]),
        gpu_note=last.gpu_note, unit_latency=unit_latency(segments), timed_examples=timed, segments=len(segments),
        **counts.request_summary())


def _sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _max(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def result_measurement(load_seconds: float, segments: list[MeterSegment], counts: Counts,
                       serving: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, Any]:
    """What a result stores under `measurements`: the stretches combined, where it was measured
    (`context`: the threads, a remote worker's environment), and a served model's cost from the
    token counts of every example."""
    from benchbench.measure.cost import task_cost

    measured = task_measurement(load_seconds, segments, counts).to_dict() | context
    if serving:
        measured["cost"] = task_cost(serving.get("price_per_million_tokens"), counts.prompt_tokens,
                                     counts.generated_tokens, counts.examples)
        measured["concurrency"] = serving.get("concurrency")
    return measured
