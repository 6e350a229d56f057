"""Timing of a task: batch latencies (CUDA events on a GPU, perf_counter on CPU), token
throughput, process and GPU memory, gathered by one TaskMeter the runner wraps around
a task. For a served model (device "remote") the batches are single requests: each
example's own timing (time to first token, per output token, end to end) is what is
summarised, and no memory or power is measured here."""

from __future__ import annotations

import time
from typing import Any, Iterable, Iterator, TypeVar

import torch

from benchbench.measure.nvml import GpuMeasurement, GpuSampler
from benchbench.measure.segment import (
    EXAMPLE,
    Counts,
    MeterSegment,
    TaskMeasurement,
    batch_units,
    request_unit_seconds,
    task_measurement,
)
from benchbench.measure.system import peak_rss_mib, reset_peak_rss
from benchbench.spec import REMOTE_DEVICE

MIB = 1024 * 1024
T = TypeVar("T")


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


class TaskMeter:
    """Wraps one stretch of a task: ``with TaskMeter(device) as meter:``, iterate
    ``meter.timed(batches)`` and ``meter.count(details, indices)`` each batch; after it,
    ``meter.segment`` is what the stretch measured (segment.py combines stretches). `unit`:
    what the task's latency is per (GENERATED for generating tasks, else EXAMPLE)."""

    def __init__(self, device: str, warmup_batches: int = 1, unit: str = EXAMPLE) -> None:
        self.device, self.warmup_batches = device, warmup_batches
        self.clock = BatchClock(device)
        self.watch = Stopwatch(device)
        self.counts = Counts()
        self.segment = MeterSegment(device, unit=unit)
        self._batch_units: list[int] = []
        self._sampler: GpuSampler | None = None

    def __enter__(self) -> "TaskMeter":
        self.segment.rss_scope = "task" if reset_peak_rss() else "process"
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            try:
                self._sampler = GpuSampler(torch.cuda.current_device())
                self._sampler.__enter__()
            except Exception as exc:  # no NVML bindings, or NVML cannot talk to the driver
                self._sampler, self.segment.gpu_note = None, f"NVML unavailable: {exc}"
        elif self.device == REMOTE_DEVICE:
            self.segment.gpu_note = "not measured: remote (the model runs on the server)"
        else:
            self.segment.gpu_note = "not measured: the device is cpu"
        self.watch.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.watch.__exit__(*exc)
        if self._sampler is not None:
            self._sampler.__exit__(*exc)
        self._finish()

    def _finish(self) -> None:
        """Fill the segment from what was timed and counted."""
        s, c, cuda = self.segment, self.counts, self.device == "cuda"
        s.seconds = self.watch.seconds
        s.timer = "perf_counter per request" if self.device == REMOTE_DEVICE else self.clock.method
        if self.device != REMOTE_DEVICE:  # a served model's requests are timed one by one (Counts)
            every = self.clock.seconds()
            s.warmup_batches = self.warmup_batches if len(every) > self.warmup_batches else 0  # one batch: keep it
            s.batch_seconds = every[s.warmup_batches:]
            units = self._batch_units[s.warmup_batches:len(every)]
            s.unit_seconds = [t / u for t, u in zip(s.batch_seconds, units) if u > 0]
        s.prompt_tokens, s.generated_tokens = c.prompt_tokens, c.generated_tokens
        s.max_example_prompt_tokens = c.max_example_prompt_tokens
        s.peak_rss_mib = peak_rss_mib()
        s.torch_max_allocated_mib = torch.cuda.max_memory_allocated() / MIB if cuda else None
        s.torch_max_reserved_mib = torch.cuda.max_memory_reserved() / MIB if cuda else None
        gpu: GpuMeasurement | None = self._sampler.result if self._sampler else None
        s.gpu = gpu.to_dict() if gpu else None

    def measurement(self, load_seconds: float) -> TaskMeasurement:
        """This stretch alone as the task's measurement (a task timed in one stretch)."""
        return task_measurement(load_seconds, [self.segment], self.counts)

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

    def count(self, details: list[dict[str, Any]], indices: list[int] | None = None) -> None:
        """A batch's examples (their details, and indices in the task), after the batch was timed."""
        self.counts.add(details)
        start = len(self.segment.indices)
        self.segment.indices += indices if indices is not None else list(range(start, start + len(details)))
        self._batch_units.append(batch_units(details, self.segment.unit))
        if self.device == REMOTE_DEVICE:  # each request is timed on its own
            self.segment.unit_seconds += [s for d in details if (s := request_unit_seconds(d, self.segment.unit))]
