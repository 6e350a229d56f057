"""Measurement: latency statistics, the CPU path, and the NVML sampler against a fake
pynvml (the real one runs when a GPU is present)."""

from __future__ import annotations

import mmap
import os
import sys
import threading
import time
import types

import numpy as np
import pytest
import torch

from benchbench.measure import LatencyStats, TaskMeter
from benchbench.measure.nvml import GpuSampler, gpu_handle, power_integral_j


def test_latency_statistics_by_hand():
    stats = LatencyStats.from_seconds([0.010, 0.020, 0.030, 0.040, 0.100])
    assert stats.count == 5
    assert stats.mean_ms == pytest.approx(40.0)
    assert stats.p50_ms == pytest.approx(30.0)
    assert stats.p90_ms == pytest.approx(40 + 0.6 * 60)  # linear interpolation between 40 and 100
    assert stats.stdev_ms == pytest.approx(np.std([10, 20, 30, 40, 100], ddof=1))
    assert (stats.min_ms, stats.max_ms) == (pytest.approx(10.0), pytest.approx(100.0))
    assert LatencyStats.from_seconds([]) is None
    assert LatencyStats.from_seconds([0.5]).stdev_ms == 0.0


def test_task_meter_on_cpu_times_batches_and_excludes_warmup():
    def batches():
        for pause in (0.05, 0.01, 0.01, 0.01):
            time.sleep(pause)
            yield [{"prompt_tokens": 10, "generated_tokens": 2}, {"prompt_tokens": 5, "generated_tokens": 1}]

    with TaskMeter("cpu", warmup_batches=1) as meter:
        for batch in meter.timed(batches()):
            meter.count(batch)
    result = meter.measurement(load_seconds=1.5)
    assert result.examples == 8 and result.prompt_tokens == 60 and result.generated_tokens == 12
    assert result.batch_latency["count"] == 3  # the first (warm-up) batch is excluded
    assert 5 <= result.batch_latency["p50_ms"] < 40
    assert result.task_seconds >= 0.08
    assert result.prompt_tokens_per_second == pytest.approx(60 / result.task_seconds)
    assert result.timer == "perf_counter" and result.load_seconds == 1.5
    assert result.gpu is None and "cpu" in result.gpu_note
    assert result.torch_max_reserved_mib is None and result.peak_rss_mib > 0


def test_token_rates_absent_when_a_task_does_not_count_them():
    with TaskMeter("cpu") as meter:
        for batch in meter.timed([[{"x": 1}]]):
            meter.count(batch)
    result = meter.measurement(0.0)
    assert result.prompt_tokens is None and result.generated_tokens_per_second is None
    assert result.batch_latency["count"] == 1 and result.warmup_batches == 0  # a single batch is kept


class _FakeNvml(types.SimpleNamespace):
    """Just the pynvml calls the sampler makes; memory grows while sampled. `pids` are the
    PIDs NVML lists for the GPU (in a container: host PIDs, not ours)."""

    class NVMLError(Exception):
        pass

    def __init__(self, pids: list[int], energy_step_mj: int | None = 12_345, per_process: bool = True):
        super().__init__()
        self.pids, self.used, self.energy, self.energy_step_mj = pids, 1000 * 2**20, 5_000, energy_step_mj
        self.per_process = per_process
        self.uuids = {"GPU-aaaa-1111": ("handle", 7)}

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("handle", index)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        if uuid not in self.uuids:
            raise self.NVMLError("Not Found")
        return self.uuids[uuid]

    def nvmlDeviceGetMemoryInfo(self, handle):
        self.used += 10 * 2**20
        return types.SimpleNamespace(used=self.used, total=80 * 2**30)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        if not self.per_process:
            raise self.NVMLError("Not Supported")
        first, *rest = self.pids
        return [types.SimpleNamespace(pid=first, usedGpuMemory=self.used - 500 * 2**20),
                *(types.SimpleNamespace(pid=pid, usedGpuMemory=100 * 2**20) for pid in rest)]

    def nvmlDeviceGetPowerUsage(self, handle):
        return 250_000  # mW

    def nvmlDeviceGetName(self, handle):
        return b"Fake H100"

    def nvmlSystemGetDriverVersion(self):
        return "550.1"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12040

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if self.energy_step_mj is None:
            raise self.NVMLError("Not Supported")
        self.energy += self.energy_step_mj
        return self.energy


def _sample(monkeypatch, fake: _FakeNvml, seconds: float = 0.05):
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with GpuSampler(0, interval_s=0.005) as sampler:
        time.sleep(seconds)
    return sampler.result


def test_gpu_sampler_with_fake_nvml(monkeypatch):
    fake = _FakeNvml([os.getpid(), 4242])
    result = _sample(monkeypatch, fake)
    assert result.samples >= 3 and result.gpu == "0"
    assert result.device_peak_mib == fake.used / 2**20  # memory only grew: the last reading is the peak
    assert result.process_peak_mib == result.device_peak_mib - 500
    assert result.device_peak_mib > result.device_baseline_mib
    assert result.mean_power_w == pytest.approx(250.0) and result.peak_power_w == pytest.approx(250.0)
    assert result.other_processes == [4242] and result.unattributed_processes == [] and result.most_processes == 2
    assert result.energy_j == pytest.approx(12.345) and result.energy_method == "nvml-energy-counter"
    assert result.process_note == "" and result.sampling_error == ""


@pytest.mark.parametrize("energy_step_mj,why", [(None, "no energy counter"), (0, "did not advance")])
def test_energy_falls_back_to_integrated_power(monkeypatch, energy_step_mj, why):
    result = _sample(monkeypatch, _FakeNvml([os.getpid()], energy_step_mj), seconds=0.1)
    assert result.energy_method == "power-samples-integral" and why in result.energy_note
    assert 250 * 0.05 < result.energy_j < 250 * 0.3  # 250 W over the ~0.1 s sampled


def test_power_integral_is_the_trapezoid_rule():
    assert power_integral_j([(0.0, 100.0), (1.0, 200.0), (3.0, 200.0)]) == pytest.approx(150 + 400)
    assert power_integral_j([(0.0, 100.0)]) is None


def test_container_pids_are_not_called_other_processes(monkeypatch):
    """In a container NVML lists host PIDs: ours is not among them, so nothing is attributed."""
    result = _sample(monkeypatch, _FakeNvml([987654]))
    assert result.process_peak_mib is None and "--pid=host" in result.process_note
    assert result.other_processes == [] and result.unattributed_processes == [987654]
    assert result.device_peak_mib > 0 and result.most_processes == 1


def test_no_per_process_accounting_is_stated(monkeypatch):
    result = _sample(monkeypatch, _FakeNvml([os.getpid()], per_process=False))
    assert result.process_peak_mib is None and "Not Supported" in result.process_note
    assert result.device_peak_mib > 0 and result.mean_power_w == pytest.approx(250.0)


def test_missing_nvml_bindings_are_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(ImportError, match=r"benchbench\[nvml\]"):
        GpuSampler(0)


def test_visible_devices_map_to_the_nvml_device(monkeypatch):
    fake = _FakeNvml([os.getpid()])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1,GPU-aaaa-1111,GPU-bad")
    assert gpu_handle(fake, 0) == (("handle", 3), "3") and gpu_handle(fake, 1) == (("handle", 1), "1")
    assert gpu_handle(fake, 2) == (("handle", 7), "GPU-aaaa-1111")
    with pytest.raises(RuntimeError, match="GPU-bad.*nvidia-smi -L"):
        gpu_handle(fake, 3)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpu_handle(fake, 2) == (("handle", 2), "2")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the high-water mark reset is Linux's")
def test_peak_rss_is_per_task_on_linux():
    """A big allocation in one task does not become the next task's peak, whatever ran
    before. A thread that exits while the allocation is alive makes the kernel keep that
    high-water mark in getrusage's ru_maxrss for good (the reset cannot clear it), as the
    library threads of earlier tests did: the peak must not be read from there.

    The 400 MiB are mapped from the kernel directly: malloc may hand out memory that earlier
    tests freed and that is still resident (seen in CI after the served-model tests), which
    would not raise the resident size at all."""
    def exit_a_thread() -> None:
        worker = threading.Thread(target=lambda: None)
        worker.start()
        worker.join()

    with TaskMeter("cpu") as meter:
        block = mmap.mmap(-1, 400 * 2**20)  # fresh anonymous pages
        np.frombuffer(block, dtype=np.uint8)[:] = 1  # touched, so resident
        exit_a_thread()
        for batch in meter.timed([[{}]]):
            meter.count(batch)
    first = meter.measurement(0.0)
    block.close()  # unmapped: the resident size falls back
    with TaskMeter("cpu") as meter:
        exit_a_thread()
        for batch in meter.timed([[{}]]):
            meter.count(batch)
    second = meter.measurement(0.0)
    assert first.peak_rss_scope == second.peak_rss_scope == "task"
    assert first.peak_rss_mib - second.peak_rss_mib > 300


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_peak_rss_is_not_read_from_ru_maxrss(monkeypatch):
    """Some kernels keep a high-water mark in ru_maxrss that the reset cannot clear (raised
    when a thread exits): a task's peak must come from VmHWM, which the reset does clear."""
    from benchbench.measure import system

    stale = types.SimpleNamespace(ru_maxrss=64 * 2**20)  # 64 GiB in KiB: a peak from long ago
    monkeypatch.setattr(system.resource, "getrusage", lambda who: stale)
    assert system.reset_peak_rss()
    assert system.peak_rss_mib() < 64 * 1024 / 2


class _FakeCudaEvent:
    """torch.cuda.Event on the host clock: record() marks, elapsed_time() in ms."""

    def __init__(self, enable_timing: bool = False):
        assert enable_timing
        self.at = None

    def record(self):
        self.at = time.perf_counter()

    def elapsed_time(self, end: "_FakeCudaEvent") -> float:
        return (end.at - self.at) * 1000.0


@pytest.fixture
def fake_cuda(monkeypatch):
    """The torch.cuda calls of the CUDA measurement path, faked, so every line of that
    path runs on a machine without a GPU (the real-GPU test below checks the numbers)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "Event", _FakeCudaEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: calls.append("synchronize"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: 300 * 2**20)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda *a: 400 * 2**20)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")
    fake = _FakeNvml([os.getpid()])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return calls


def test_cuda_measurement_path_with_faked_cuda_and_nvml(fake_cuda):
    from benchbench.measure import environment

    def batches():
        for pause in (0.03, 0.01, 0.02):
            time.sleep(pause)
            yield [{"prompt_tokens": 4}]

    with TaskMeter("cuda") as meter:
        for batch in meter.timed(batches()):
            meter.count(batch)
    result = meter.measurement(load_seconds=2.0)
    assert result.timer == "cuda-events" and fake_cuda[0] == "reset" and "synchronize" in fake_cuda
    assert result.batch_latency["count"] == 2 and 5 <= result.batch_latency["p50_ms"] < 40  # warm-up dropped
    assert result.torch_max_allocated_mib == 300 and result.torch_max_reserved_mib == 400
    assert result.gpu["process_peak_mib"] >= result.torch_max_reserved_mib and result.gpu["energy_j"] > 0
    assert result.gpu_note == "" and result.prompt_tokens == 12
    assert meter.device_name == "NVIDIA H100 80GB HBM3"  # what MFU looks up its peak by (test_flops.py)
    env = environment("cuda")
    assert env["gpu_name"] == "Fake H100" and env["driver_version"] == "550.1" and "nvml" not in env


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_gpu_sampler_sees_allocations():
    pytest.importorskip("pynvml")
    with TaskMeter("cuda") as meter:
        for batch in meter.timed([[{}]]):
            x = torch.empty(512 * 2**20, dtype=torch.uint8, device="cuda")
            time.sleep(0.1)
            meter.count(batch)
    result = meter.measurement(0.0)
    assert result.gpu is not None and result.torch_max_reserved_mib >= 512
    assert result.gpu["process_peak_mib"] >= result.torch_max_reserved_mib
    del x


@pytest.mark.parametrize("fixture,head", [("tiny_gpt2", "causal-lm"), ("tiny_t5", "seq2seq-lm")])
def test_generation_probe_fixed_lengths(fixture, head, request):
    from helpers import load

    from benchbench.backends.hf.probe import generation_probe

    loaded = load(request.getfixturevalue(fixture), head)
    probe = generation_probe(loaded, [5, 6, 7], prompt_tokens=10, new_tokens=6, batch_sizes=[1, 3], repeats=2, warmup=1)
    assert set(probe) >= {"batch_1", "batch_3"} and probe["new_tokens"] == 6
    for key in ("batch_1", "batch_3"):
        figures = probe[key]
        assert figures["prefill"]["count"] == 2 and figures["total"]["mean_ms"] > 0
        assert figures["per_token_ms"] == pytest.approx(figures["decode_ms"] / 5)


def test_no_weights_run_measures_without_quality(tmp_path, tiny_gpt2, corpus_file):
    from click.testing import CliRunner
    from helpers import write_suite

    from benchbench import load_results
    from benchbench.cli import main
    from benchbench.store import Store

    data = tmp_path / "mt.jsonl"
    data.write_text('{"source": "a good film", "reference": "x"}\n{"source": "bread", "reference": "y"}\n')
    suite = write_suite(tmp_path, {
        "name": "perf", "runtime": {"latency_probe": True, "probe_new_tokens": 4, "probe_repeats": 3},
        "models": [{"name": "g", "source": str(tiny_gpt2)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)}, "options": {"max_new_tokens": 4}},
                  {"name": "ppl", "type": "perplexity", "dataset": {"path": str(corpus_file)}}]})
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress", "--no-weights"])
    assert result.exit_code == 0, result.output
    frame = load_results(out).set_index("task")
    assert (frame["status"] == "ok").all()
    assert "random weights" in frame.loc["mt", "reason"]
    assert "bleu" not in frame.columns and "word_perplexity" not in frame.columns
    assert frame.loc["mt", "examples_per_second"] > 0 and frame.loc["mt", "generated_tokens"] > 0
    assert frame.loc["mt", "settings"]["signature"]["random_weights"] is True
    store = Store(out)
    record = next(r for r in store.results() if r.task == "mt")
    assert store.predictions(record.result_id) == []
    assert record.model_info["random_weights"] is True
    probe = record.measurements["latency_probe"]["batch_1"]
    # the totals are measured; per token is a difference of two noisy means (never below 0 by construction)
    assert probe["total"]["p50_ms"] > 0 and probe["prefill"]["p50_ms"] > 0 and probe["per_token_ms"] >= 0
    assert record.measurements["gpu"] is None and "cpu" in record.measurements["gpu_note"]
    store.close()
