"""GPU memory, power and energy from NVML, sampled on a background thread.

Every ~10 ms the sampler reads the device's used memory (nvmlDeviceGetMemoryInfo) and
this process's own usedGpuMemory (nvmlDeviceGetComputeRunningProcesses), and the power
draw; it keeps the peaks and the mean power. Energy is the difference of
nvmlDeviceGetTotalEnergyConsumption (mJ) between start and stop, where the GPU supports
it; where it does not, or where the counter did not advance during a short task, energy is
the time integral of the sampled power (`energy_method` says which). Other processes seen
on the GPU are reported, since they distort device-wide figures.

Inside a container with its own PID namespace, NVML reports host PIDs, so this process
cannot be found by its PID: the process peak is then null with `process_note` saying why,
and the PIDs seen are listed as unattributed rather than as "other" processes.

NVML numbers GPUs in PCI bus order; the CLI sets CUDA_DEVICE_ORDER=PCI_BUS_ID so that
torch's cuda:N is NVML's device N (with CUDA_VISIBLE_DEVICES, the visible index is mapped
to the physical one). Requires the `nvml` extra (nvidia-ml-py).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

MIB = 1024 * 1024
DEFAULT_INTERVAL_S = 0.01


@dataclass
class GpuMeasurement:
    """Peaks over one sampled interval. Memory in MiB, power in W, energy in J."""

    gpu: str  # NVML index or UUID of the sampled GPU
    samples: int
    process_peak_mib: float | None
    device_peak_mib: float
    device_baseline_mib: float
    mean_power_w: float | None
    peak_power_w: float | None
    energy_j: float | None
    energy_method: str | None  # "nvml-energy-counter" or "power-samples-integral"
    energy_note: str = ""
    other_processes: list[int] = field(default_factory=list)  # PIDs known not to be this process
    unattributed_processes: list[int] = field(default_factory=list)  # PIDs seen when ours was not among them
    most_processes: int = 0  # the most compute processes seen on the GPU at once
    process_note: str = ""
    sampling_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def nvml_module() -> Any:
    """pynvml from nvidia-ml-py, or an ImportError that says how to install it."""
    try:
        import pynvml
    except ImportError as exc:
        raise ImportError("GPU memory/power sampling needs NVML bindings: pip install 'benchbench[nvml]'") from exc
    return pynvml


def visible_device_entry(torch_index: int) -> str:
    """How CUDA_VISIBLE_DEVICES names torch's cuda:torch_index: an NVML index ("3") or a
    UUID ("GPU-...", "MIG-..."); torch's own index when the variable is unset."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    entries = [v.strip() for v in visible.split(",") if v.strip()]
    return entries[torch_index] if torch_index < len(entries) else str(torch_index)


def gpu_handle(nvml: Any, torch_index: int) -> tuple[Any, str]:
    """NVML's handle for torch's cuda:torch_index, and the name it was found by."""
    entry = visible_device_entry(torch_index)
    if entry.isdigit():
        return nvml.nvmlDeviceGetHandleByIndex(int(entry)), entry
    try:
        return nvml.nvmlDeviceGetHandleByUUID(entry), entry
    except nvml.NVMLError as exc:
        raise RuntimeError(f"CUDA_VISIBLE_DEVICES names {entry!r}, which NVML does not know as a GPU UUID "
                           f"(give full UUIDs as `nvidia-smi -L` prints them, or indices): {exc}") from exc


class GpuSampler:
    """``with GpuSampler(0) as sampler: ...`` then ``sampler.result``."""

    def __init__(self, torch_index: int = 0, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.nvml = nvml_module()
        self.nvml.nvmlInit()
        self.handle, self.gpu = gpu_handle(self.nvml, torch_index)
        self.interval_s = interval_s
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="benchbench-nvml", daemon=True)
        self._process_peak: float | None = None
        self._device_peak = 0.0
        self._baseline = 0.0
        self._power: list[tuple[float, float]] = []  # (perf_counter seconds, watts)
        self._pids: set[int] = set()
        self._most_processes = 0
        self._process_error = ""
        self._sampling_error = ""
        self._samples = 0
        self._energy_start: int | None = None
        self.result: GpuMeasurement | None = None

    def _sample(self) -> None:
        nvml = self.nvml
        used = nvml.nvmlDeviceGetMemoryInfo(self.handle).used / MIB
        self._device_peak = max(self._device_peak, used)
        if not self._process_error:
            try:
                processes = nvml.nvmlDeviceGetComputeRunningProcesses(self.handle)
            except nvml.NVMLError as exc:  # e.g. vGPU or MIG without per-process accounting
                self._process_error = f"per-process memory not reported by NVML: {exc}"
                processes = []
            self._most_processes = max(self._most_processes, len(processes))
            for process in processes:
                self._pids.add(process.pid)
                if process.pid == self.pid and process.usedGpuMemory is not None:
                    mine = process.usedGpuMemory / MIB
                    self._process_peak = mine if self._process_peak is None else max(self._process_peak, mine)
        try:
            self._power.append((time.perf_counter(), nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0))
        except nvml.NVMLError:
            pass
        self._samples += 1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._sample()
                self._stop.wait(self.interval_s)
        except Exception as exc:  # a sampling failure must not pass silently as a short, clean series
            self._sampling_error = f"sampling stopped early: {type(exc).__name__}: {exc}"

    def __enter__(self) -> "GpuSampler":
        self._baseline = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / MIB
        try:
            self._energy_start = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except self.nvml.NVMLError:
            self._energy_start = None
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self._sample()  # one last reading after the work
        except Exception as error:
            self._sampling_error = self._sampling_error or f"last sample failed: {type(error).__name__}: {error}"
        counter_j = None
        if self._energy_start is not None:
            counter_j = (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self._energy_start) / 1000.0
        energy_j, energy_method, energy_note = _energy(counter_j, self._power)
        mine_seen = self.pid in self._pids
        process_note = self._process_error or ("" if mine_seen else _PID_NOT_SEEN)
        if mine_seen and self._process_peak is None:
            process_note = "NVML listed this process without its memory (usedGpuMemory not available)"
        self.result = GpuMeasurement(
            gpu=self.gpu, samples=self._samples, process_peak_mib=self._process_peak,
            device_peak_mib=self._device_peak, device_baseline_mib=self._baseline,
            mean_power_w=_mean([watts for _, watts in self._power]),
            peak_power_w=max((watts for _, watts in self._power), default=None),
            energy_j=energy_j, energy_method=energy_method, energy_note=energy_note,
            other_processes=sorted(self._pids - {self.pid}) if mine_seen else [],
            unattributed_processes=[] if mine_seen else sorted(self._pids),
            most_processes=self._most_processes, process_note=process_note,
            sampling_error=self._sampling_error)
        self.nvml.nvmlShutdown()


_PID_NOT_SEEN = ("this process's PID was not among the GPU's processes in NVML (inside a container NVML "
                 "reports host PIDs; run the container with --pid=host to measure the process's own memory)")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def power_integral_j(power: list[tuple[float, float]]) -> float | None:
    """Energy (J) as the trapezoid integral of (seconds, watts) samples; None under two samples."""
    if len(power) < 2:
        return None
    return sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(power, power[1:]))


def _energy(counter_j: float | None, power: list[tuple[float, float]]) -> tuple[float | None, str | None, str]:
    """The energy counter's difference where it advanced, else the integral of sampled power."""
    if counter_j is not None and counter_j > 0:
        return counter_j, "nvml-energy-counter", ""
    why = ("this GPU/driver has no energy counter" if counter_j is None
           else "the energy counter did not advance during the task (shorter than its update period)")
    integral = power_integral_j(power)
    if integral is None:
        return None, None, f"{why}; too few power samples to integrate"
    return integral, "power-samples-integral", f"{why}: integrated from sampled power"


def gpu_facts(torch_index: int = 0) -> dict[str, Any]:
    """Name, memory, driver and CUDA versions of a GPU, from NVML."""
    nvml = nvml_module()
    nvml.nvmlInit()
    try:
        handle, _ = gpu_handle(nvml, torch_index)
        name = nvml.nvmlDeviceGetName(handle)
        return {"gpu_name": name.decode() if isinstance(name, bytes) else name,
                "gpu_memory_mib": nvml.nvmlDeviceGetMemoryInfo(handle).total / MIB,
                "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": nvml.nvmlSystemGetCudaDriverVersion()}
    finally:
        nvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
