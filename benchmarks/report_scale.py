"""How big and how fast the HTML report is for a large store: by default 20 models x 10 tasks
x 1,000 examples (half classification, half translation), written straight into a results
store with figures computed by the task types' own scoring, so the report reads what a real
run would have stored. The goals (docs/performance.md): the page opens in under 2 s in
headless Chromium and the file stays under about 10 MB.

    python benchmarks/report_scale.py [--models 20] [--tasks 10] [--examples 1000]

Prints the time to build the report (Python), its size, and the browser's times: to the load
event (the page's script has ranked and drawn everything by then), and to re-rank after an
input changes, each with its ratio to the goal.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchbench.ranking import Limits
from benchbench.report.html import build_report
from benchbench.store import Store
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.base import ExampleResult, Scoring

LABELS = ["negative", "positive"]
WORDS = ("the a river town council bridge film bread light keeper harbour storm evening morning quickly slowly "
         "closed opened built found wrote read long short old new").split()
RESAMPLES = 200


def _classification(rng: random.Random, n: int, quality: float) -> tuple[list[ExampleResult], dict]:
    results = []
    for i in range(n):
        gold = LABELS[i % 2]
        guess = gold if rng.random() < quality else LABELS[1 - i % 2]
        results.append(ExampleResult(i, f"Review {i}: " + " ".join(random.Random(i).choices(WORDS, k=25)), guess, gold))
    settings = {"method": "choices", "labels": LABELS, "choices": {k: f" {k}" for k in LABELS}, "metric_options": {}}
    return results, settings


def _translation(rng: random.Random, n: int, quality: float) -> tuple[list[ExampleResult], dict]:
    results = []
    for i in range(n):
        source = random.Random(i).choices(WORDS, k=18)
        output = [w if rng.random() < quality else rng.choice(WORDS) for w in source]
        results.append(ExampleResult(i, "Translate: " + " ".join(source), " ".join(output), [" ".join(source)],
                                     {"generated_tokens": len(output)}))
    return results, {"max_new_tokens": 64, "metric_options": {}}


def build_store(folder: Path, models: int, tasks: int, examples: int) -> None:
    store = Store(folder)
    store.db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     ("synthetic", "scale", "scale.yaml", "2026-01-01T00:00:00", "2026-01-01T01:00:00", "finished",
                      "report_scale.py", '{"device": "cuda", "gpu_name": "synthetic"}', None, None, None, None))
    for t in range(tasks):
        task_type = "classification" if t % 2 == 0 else "translation"
        for m in range(models):
            rng = random.Random(1000 * t + m)
            quality = 0.55 + 0.4 * ((m * 7 + t) % models) / models
            results, resolved = (_classification if task_type == "classification" else _translation)(rng, examples, quality)
            metrics = ("accuracy",) if task_type == "classification" else ("bleu", "chrf")
            scored = TASK_TYPES[task_type].score(results, resolved, Scoring(metrics, {}, RESAMPLES, 1234))
            result_id = store.begin_result("synthetic", f"sig-{t}-{m}", "scale", f"model-{m:02d}-{(m + 1) * 70}m",
                                           f"task-{t:02d}", task_type)
            store.add_predictions(result_id, [r.to_dict() for r in results])
            settings = {"resolved": {**resolved, "bootstrap": {"resamples": RESAMPLES, "seed": 1234}},
                        "signature": {"metrics": list(metrics), "dataset": {"fingerprint": f"synthetic-{t}"}}}
            store.finish_result(result_id, "ok", metrics=scored.scores,
                                intervals={k: v.to_dict() for k, v in scored.intervals.items()},
                                measurements={"gpu_process_peak_mib": 400.0 * (m + 1),
                                              "latency_probe": {"batch_1": {"total_p50_ms": 8.0 + 3.5 * m}}},
                                settings=settings, counts={"examples": examples},
                                model_info={"parameters": (m + 1) * 70_000_000, "family": "causal-lm",
                                            "dtype": "bfloat16", "device": "cuda"})
    store.close()


def browser_times(page_path: Path) -> tuple[float, float]:
    """Seconds from navigation to the load event, and to re-rank after the budget changes."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("google-chrome")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri(), wait_until="load", timeout=120_000)
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
        rerank = page.evaluate("(() => { const t = performance.now(); const input = document.getElementById('budget_gib');"
                               " input.value = '3'; input.dispatchEvent(new Event('input')); return performance.now() - t; })()")
        browser.close()
    if errors:
        raise SystemExit(f"the page raised: {errors}")
    return load, rerank / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="report-scale-"))
    started = time.perf_counter()
    build_store(folder, args.models, args.tasks, args.examples)
    print(f"store: {args.models} models x {args.tasks} tasks x {args.examples} examples, "
          f"written in {time.perf_counter() - started:.1f} s ({folder})")
    started = time.perf_counter()
    html = build_report(folder, Limits(budget_gb=6.0))
    built = time.perf_counter() - started
    page = folder / "report.html"
    page.write_text(html, encoding="utf-8")
    size_mb = page.stat().st_size / 1e6
    load, rerank = browser_times(page)
    print(f"build (Python): {built:.1f} s")
    print(f"size: {size_mb:.2f} MB (goal 10 MB: {size_mb / 10:.2f} of it)")
    print(f"open to load event (Chromium, headless): {load:.2f} s (goal 2 s: {load / 2:.2f} of it)")
    print(f"re-rank and redraw after an input changes: {rerank:.3f} s")


if __name__ == "__main__":
    main()
