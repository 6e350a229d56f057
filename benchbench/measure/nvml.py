"""GPU memory, power and energy from NVML, sampled on a background thread.

Every ~10 ms the sampler reads the device's used memory (nvmlDeviceGetMemoryInfo) and
this process's own usedGpuMemory (nvmlDeviceGetComputeRunningProcesses), and the power
draw; it keeps the peaks and the mean power. Energy is the difference of
nvmlDeviceGetTotalEnergyConsumption (mJ) between start and stop, where the GPU supports
it. Other processes seen on the GPU are reported, since they distort device-wide figures.

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

    gpu_index: int
    samples: int
    process_peak_mib: float | None
    device_peak_mib: float
    device_baseline_mib: float
    mean_power_w: float | None
    energy_j: float | None
    other_processes: list[int] = field(default_factory=list)
    energy_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def nvml_module() -> Any:
    """pynvml from nvidia-ml-py, or an ImportError that says how to install it."""
    try:
        import pynvml
    except ImportError as exc:
        raise ImportError("GPU memory/power sampling needs NVML bindings: pip install 'benchbench[nvml]'") from exc
    return pynvml


def physical_gpu_index(torch_index: int) -> int:
    """NVML index of torch's cuda:torch_index, honouring CUDA_VISIBLE_DEVICES (numeric lists)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if not visible:
        return torch_index
    entries = [v.strip() for v in visible.split(",") if v.strip()]
    if torch_index < len(entries) and entries[torch_index].isdigit():
        return int(entries[torch_index])
    return torch_index


class GpuSampler:
    """``with GpuSampler(0) as sampler: ...`` then ``sampler.result``."""

    def __init__(self, torch_index: int = 0, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.nvml = nvml_module()
        self.nvml.nvmlInit()
        self.index = physical_gpu_index(torch_index)
        self.handle = self.nvml.nvmlDeviceGetHandleByIndex(self.index)
        self.interval_s = interval_s
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="benchbench-nvml", daemon=True)
        self._process_peak: float | None = None
        self._device_peak = 0.0
        self._baseline = 0.0
        self._power: list[float] = []
        self._others: set[int] = set()
        self._samples = 0
        self._energy_start: int | None = None
        self.result: GpuMeasurement | None = None

    def _sample(self) -> None:
        nvml = self.nvml
        used = nvml.nvmlDeviceGetMemoryInfo(self.handle).used / MIB
        self._device_peak = max(self._device_peak, used)
        for process in nvml.nvmlDeviceGetComputeRunningProcesses(self.handle):
            if process.pid == self.pid:
                if process.usedGpuMemory is not None:
                    mine = process.usedGpuMemory / MIB
                    self._process_peak = mine if self._process_peak is None else max(self._process_peak, mine)
            else:
                self._others.add(process.pid)
        try:
            self._power.append(nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0)
        except nvml.NVMLError:
            pass
        self._samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "GpuSampler":
        self._baseline = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / MIB
        try:
            self._energy_start = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except self.nvml.NVMLError:
            self._energy_start = None
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # one last reading after the work
        energy, note = None, ""
        if self._energy_start is None:
            note = "not supported by this GPU/driver"
        else:
            energy = (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self._energy_start) / 1000.0
        self.result = GpuMeasurement(
            gpu_index=self.index, samples=self._samples, process_peak_mib=self._process_peak,
            device_peak_mib=self._device_peak, device_baseline_mib=self._baseline,
            mean_power_w=sum(self._power) / len(self._power) if self._power else None,
            energy_j=energy, other_processes=sorted(self._others), energy_note=note)
        self.nvml.nvmlShutdown()


def gpu_facts(torch_index: int = 0) -> dict[str, Any]:
    """Name, memory, driver and CUDA versions of a GPU, from NVML."""
    nvml = nvml_module()
    nvml.nvmlInit()
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(physical_gpu_index(torch_index))
        name = nvml.nvmlDeviceGetName(handle)
        return {"gpu_name": name.decode() if isinstance(name, bytes) else name,
                "gpu_memory_mib": nvml.nvmlDeviceGetMemoryInfo(handle).total / MIB,
                "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": nvml.nvmlSystemGetCudaDriverVersion()}
    finally:
        nvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
