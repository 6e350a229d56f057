"""The GPU checks of the measurement issue, in one command: NVML process peak >= torch
max_memory_reserved, energy > 0, and batch/probe p50 latencies within 5% across two runs.

Real checkpoints are too big to carry to a lent GPU machine, so both suites run with
random weights built from the models' configs (--no-weights): the quickstart suite's
tasks with its two model architectures, and suites/perf-1b.yaml (a 1.2B Llama shape).

1. Where the quickstart is installed, export each quickstart model's config and
   tokenizer, without weights (about 36 MB, mostly Gemma's tokenizer):

       python benchmarks/gpu_acceptance.py export .gpu-models

2. On the GPU machine, with .gpu-models carried:

       python benchmarks/gpu_acceptance.py check --models .gpu-models --out results-gpu

   Each suite runs twice into fresh results folders; one line per model x task shows
   both runs' figures and whether each check holds. Exit status 1 when one fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")

import pandas as pd  # noqa: E402

from benchbench import load_results  # noqa: E402
from benchbench.run.driver import Driver  # noqa: E402
from benchbench.spec import Suite  # noqa: E402
from benchbench.suite import load_suite  # noqa: E402

SUITES = Path(__file__).resolve().parents[1] / "suites"
MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "chat_template.jinja", "tokenizer.model")
MAX_SPREAD = 0.05
LATENCIES = ("batch_latency_p50_ms", "latency_probe_batch_1_total_p50_ms", "latency_probe_batch_1_prefill_p50_ms")


def export(target: Path) -> None:
    """Config and tokenizer files of each quickstart model (weights left out)."""
    from benchbench.backends.hf.loading import materialize

    for model in load_suite(SUITES / "quickstart.yaml").models:
        folder = Path(materialize(model.settings, model.name).pretrained)
        (target / model.name).mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES:
            if (folder / name).exists():
                shutil.copy2(folder / name, target / model.name / name)
        print(f"{model.name}: {sorted(p.name for p in (target / model.name).iterdir())}")


def _suites(models: Path, device: str) -> dict[str, Suite]:
    quickstart = load_suite(SUITES / "quickstart.yaml")
    quickstart = dataclasses.replace(
        quickstart, models=tuple(dataclasses.replace(m, source=str((models / m.name).resolve()))
                                 for m in quickstart.models),
        runtime=dataclasses.replace(quickstart.runtime, device=device, no_weights=True, latency_probe=True))
    perf = load_suite(SUITES / "perf-1b.yaml")
    tokenizer = str((models / "smollm2-135m-instruct").resolve())
    perf = dataclasses.replace(
        perf, models=tuple(dataclasses.replace(m, tokenizer=tokenizer) for m in perf.models),
        runtime=dataclasses.replace(perf.runtime, device=device))
    return {"quickstart": quickstart, "perf-1b": perf}


def _spread(a: float, b: float) -> float:
    return abs(a - b) / ((a + b) / 2) if a + b else 0.0


def _checks(first: pd.Series, second: pd.Series) -> dict[str, Any]:
    row: dict[str, Any] = {"status": f"{first['status']}/{second['status']}"}
    for name, run in (("1", first), ("2", second)):
        row[f"nvml_process_peak_mib_{name}"] = run.get("gpu_process_peak_mib")
        row[f"torch_reserved_mib_{name}"] = run.get("torch_max_reserved_mib")
        row[f"energy_j_{name}"] = run.get("gpu_energy_j")
    peaks_ok = all(pd.notna(r.get("gpu_process_peak_mib")) and pd.notna(r.get("torch_max_reserved_mib"))
                   and r["gpu_process_peak_mib"] >= r["torch_max_reserved_mib"] for r in (first, second))
    row["process_peak_ge_reserved"] = peaks_ok
    if not peaks_ok:  # why a figure is missing: no GPU (gpu_note) or no per-process memory (process_note)
        row["note"] = first.get("gpu_note") or first.get("gpu_process_note")
    row["energy_positive"] = all(pd.notna(r.get("gpu_energy_j")) and r["gpu_energy_j"] > 0 for r in (first, second))
    row["energy_method"] = first.get("gpu_energy_method")
    stable = True
    for column in LATENCIES:
        if column in first and pd.notna(first.get(column)) and pd.notna(second.get(column)):
            spread = _spread(first[column], second[column])
            row[f"{column}"] = f"{first[column]:.3f} / {second[column]:.3f} ({spread:.1%})"
            stable &= spread < MAX_SPREAD
    row["p50_spread_under_5pct"] = stable
    return row


def check(models: Path, out: Path, device: str, only: list[str] | None, limit: int | None) -> bool:
    rows = []
    for name, suite in _suites(models, device).items():
        if only and name not in only:
            continue
        suite = suite.select(limit=limit)
        frames = []
        for attempt in (1, 2):
            folder = out / f"{name}-{attempt}"
            shutil.rmtree(folder, ignore_errors=True)
            Driver(suite, str(folder), progress=False, command=f"gpu_acceptance {name} run {attempt}").run()
            frames.append(load_results(folder).set_index(["model", "task"]))
        for key in frames[0].index:
            rows.append({"suite": name, "model": key[0], "task": key[1],
                         **_checks(frames[0].loc[key], frames[1].loc[key])})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 60):
        print(table.to_string(index=False))
    (out / "gpu_acceptance.json").write_text(json.dumps(rows, indent=1, default=str))
    verdicts = table[["process_peak_ge_reserved", "energy_positive", "p50_spread_under_5pct"]]
    ok = bool(verdicts.all().all()) and (table["status"] == "ok/ok").all()
    print("\nall checks hold" if ok else "\nsome checks do not hold (see the columns above)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("export").add_argument("target", type=Path)
    run = commands.add_parser("check")
    run.add_argument("--models", type=Path, required=True)
    run.add_argument("--out", type=Path, default=Path("results-gpu"))
    run.add_argument("--device", default="cuda", help="cpu runs the same steps (the GPU checks then fail)")
    run.add_argument("--suites", nargs="*", choices=["quickstart", "perf-1b"], help="default: both")
    run.add_argument("--limit", type=int, help="at most N examples per task (a quick trial)")
    args = parser.parse_args()
    if args.command == "export":
        export(args.target)
    else:
        sys.exit(0 if check(args.models, args.out, args.device, args.suites, args.limit) else 1)


if __name__ == "__main__":
    main()
