"""Timing of a task: batch latencies (CUDA events on a GPU, perf_counter on CPU), token
throughput, process and GPU memory, gathered by one TaskMeter the runner wraps around
a task. For a served model (device "remote") the batches are single requests: each
example's own timing (time to first token, per output token, end to end) is what is
summarised, and no memory or power is measured here."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator, TypeVar

import numpy as np
import torch

from benchbench.measure.nvml import GpuMeasurement, GpuSampler
from benchbench.measure.stats import LatencyStats
from benchbench.measure.system import peak_rss_mib, reset_peak_rss
from benchbench.spec import REMOTE_DEVICE

MIB = 1024 * 1024
T = TypeVar("T")
REQUEST_TIMINGS = {"ttft": "ttft_ms", "tpot": "tpot_ms", "e2e": "e2e_ms"}  # summary name: per-example detail


class Stopwatch:
    """Context manager: ``with Stopwatch(device) as sw: ...; sw.seconds``. Synchronises
    CUDA before and after, so GPU work queued inside is counted."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.seconds = 0.0
        self._start = 0.0

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def __enter__(self) -> "Stopwatch":
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._start


class BatchClock:
    """Marks the start and end of each batch; durations are read once at the end
    (CUDA events are only synchronised then, so timing adds no stalls)."""

    def __init__(self, device: str) -> None:
        self.cuda = device == "cuda"
        self._marks: list[tuple[Any, Any]] = []
        self._open: Any = None

    def _mark(self) -> Any:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self._open = self._mark()

    def stop(self) -> None:
        self._marks.append((self._open, self._mark()))

    def discard(self) -> None:
        self._open = None

    def seconds(self) -> list[float]:
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) / 1000.0 for a, b in self._marks]
        return [b - a for a, b in self._marks]

    @property
    def method(self) -> str:
        return "cuda-events" if self.cuda else "perf_counter"


@dataclass(frozen=True)
class TaskMeasurement:
    """Cost of one model x task (docs/methodology.md says how each field is taken)."""

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
    request_latency: dict[str, Any] | None = None  # served models: ttft, tpot, e2e distributions per request
    output_tokens_per_second_per_request: dict[str, float] | None = None  # served models: mean and p50
    request_retries: int | None = None  # served models: retries it took, over all requests

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TaskMeter:
    """Wraps one task: ``with TaskMeter(device) as meter:``, iterate ``meter.timed(batches)``
    and ``meter.count(details)`` each batch; ``meter.measurement(load_seconds)`` after."""

    def __init__(self, device: str, warmup_batches: int = 1) -> None:
        self.device, self.warmup_batches = device, warmup_batches
        self.clock = BatchClock(device)
        self.watch = Stopwatch(device)
        self.examples = 0
        # None until a batch reports them: tasks that do not count tokens leave them None
        self.prompt_tokens: int | None = None
        self.generated_tokens: int | None = None
        self.max_example_prompt_tokens: int | None = None
        self._sampler: GpuSampler | None = None
        self.gpu_note = ""
        self._rss_scope = "process"
        self._requests: dict[str, list[float]] = {name: [] for name in REQUEST_TIMINGS}
        self._request_rates: list[float] = []
        self._retries: int | None = None

    def __enter__(self) -> "TaskMeter":
        self._rss_scope = "task" if reset_peak_rss() else "process"
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            try:
                self._sampler = GpuSampler(torch.cuda.current_device())
                self._sampler.__enter__()
            except Exception as exc:  # no NVML bindings, or NVML cannot talk to the driver
                self._sampler, self.gpu_note = None, f"NVML unavailable: {exc}"
        elif self.device == REMOTE_DEVICE:
            self.gpu_note = "not measured: remote (the model runs on the server)"
        else:
            self.gpu_note = "not measured: the device is cpu"
        self.watch.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.watch.__exit__(*exc)
        if self._sampler is not None:
            self._sampler.__exit__(*exc)

    def restart_torch_peaks(self) -> None:
        """Start torch's peak memory counters again (after an out-of-memory retry, so the peaks
        describe the batch size that fitted; NVML's sampled peaks still cover the whole task)."""
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()

    @property
    def device_name(self) -> str | None:
        """The GPU's name (for its peak FLOPs), None on CPU."""
        return torch.cuda.get_device_name() if self.device == "cuda" else None

    def timed(self, batches: Iterable[T]) -> Iterator[T]:
        """Yield the batches of a task, timing the production of each one."""
        iterator = iter(batches)
        while True:
            self.clock.start()
            try:
                batch = next(iterator)
            except StopIteration:
                self.clock.discard()
                return
            self.clock.stop()
            yield batch

    def count(self, details: list[dict[str, Any]]) -> None:
        self.examples += len(details)
        prompt = [d["prompt_tokens"] for d in details if d.get("prompt_tokens") is not None]
        generated = [d["generated_tokens"] for d in details if d.get("generated_tokens") is not None]
        for d in details:
            self._count_request(d)
        if prompt:
            self.prompt_tokens = (self.prompt_tokens or 0) + sum(prompt)
            self.max_example_prompt_tokens = max(max(prompt), self.max_example_prompt_tokens or 0)
        if generated:
            self.generated_tokens = (self.generated_tokens or 0) + sum(generated)

    def _count_request(self, details: dict[str, Any]) -> None:
        """A served model's request timing, as the example stores it (RequestTiming.to_details)."""
        if "e2e_ms" not in details:
            return
        for name, key in REQUEST_TIMINGS.items():
            if details.get(key) is not None:
                self._requests[name].append(details[key] / 1000.0)
        if details.get("generated_tokens") and details["e2e_ms"] > 0:
            self._request_rates.append(details["generated_tokens"] / (details["e2e_ms"] / 1000.0))
        self._retries = (self._retries or 0) + max(0, int(details.get("attempts", 1)) - 1)

    def _request_summary(self) -> dict[str, Any]:
        latency = {name: stats.to_dict() for name, values in self._requests.items()
                   if (stats := LatencyStats.from_seconds(values))}
        rates = {"mean": float(np.mean(self._request_rates)), "p50": float(np.median(self._request_rates))} \
            if self._request_rates else None
        return {"request_latency": latency or None, "output_tokens_per_second_per_request": rates,
                "request_retries": self._retries}

    def measurement(self, load_seconds: float) -> TaskMeasurement:
        seconds = self.watch.seconds
        every = [] if self.device == REMOTE_DEVICE else self.clock.seconds()  # remote: requests are timed one by one
        warmup = self.warmup_batches if len(every) > self.warmup_batches else 0  # one batch: nothing to drop
        latencies = every[warmup:]
        stats = LatencyStats.from_seconds(latencies)
        gpu: GpuMeasurement | None = self._sampler.result if self._sampler else None
        cuda = self.device == "cuda"

        def rate(count: int | None) -> float | None:
            return count / seconds if count is not None and seconds > 0 else None

        return TaskMeasurement(
            load_seconds=load_seconds, task_seconds=seconds, examples=self.examples,
            examples_per_second=self.examples / seconds if seconds > 0 else float("nan"),
            prompt_tokens=self.prompt_tokens, generated_tokens=self.generated_tokens,
            prompt_tokens_per_second=rate(self.prompt_tokens),
            generated_tokens_per_second=rate(self.generated_tokens),
            max_example_prompt_tokens=self.max_example_prompt_tokens,
            batch_latency=stats.to_dict() if stats else None, warmup_batches=warmup,
            timer="perf_counter per request" if self.device == REMOTE_DEVICE else self.clock.method,
            peak_rss_mib=peak_rss_mib(), peak_rss_scope=self._rss_scope,
            torch_max_allocated_mib=torch.cuda.max_memory_allocated() / MIB if cuda else None,
            torch_max_reserved_mib=torch.cuda.max_memory_reserved() / MIB if cuda else None,
            gpu=gpu.to_dict() if gpu else None, gpu_note=self.gpu_note, **self._request_summary())
