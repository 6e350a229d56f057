"""How big and how fast the HTML report and `recommend` are for a large store, against an older
benchbench in the same run: by default 20 models x 10 tasks x 1,000 examples (half
classification, half translation), written straight into a results store with figures, per-
example statistics and example scores computed by the task types' own scoring, as a real run
stores them. The goals (docs/performance.md): the report builds in under 5 s and `recommend`
answers in under 2 s on this store; the page opens in under 2 s in headless Chromium; the file
stays under about 10 MB.

    python benchmarks/report_scale.py [--models 20] [--tasks 10] [--examples 1000] [--baseline REF]

--baseline REF (default: 7a8da35, the last commit before statistics were stored): that commit
is checked out into a temporary folder, builds its own store of the same figures, and its
report and `recommend` are timed there, in a fresh process each, as this code's are. Prints
each time, its ratio to the baseline's and to the goal, and the browser's times. Also times
this code on a store written without statistics (an older store: the first reader scores it
and writes back what it scored, the next reads it).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["negative", "positive"]
WORDS = ("the a river town council bridge film bread light keeper harbour storm evening morning quickly slowly "
         "closed opened built found wrote read long short old new").split()
RESAMPLES = 200
DEFAULT_BASELINE = "7a8da35"
BUDGET = 6.0


def _classification(rng: random.Random, n: int, quality: float) -> tuple[list, dict]:
    from benchbench.tasks.base import ExampleResult

    results = []
    for i in range(n):
        gold = LABELS[i % 2]
        guess = gold if rng.random() < quality else LABELS[1 - i % 2]
        results.append(ExampleResult(i, f"Review {i}: " + " ".join(random.Random(i).choices(WORDS, k=25)), guess, gold))
    settings = {"method": "choices", "labels": LABELS, "choices": {k: f" {k}" for k in LABELS}, "metric_options": {}}
    return results, settings


def _translation(rng: random.Random, n: int, quality: float) -> tuple[list, dict]:
    from benchbench.tasks.base import ExampleResult

    results = []
    for i in range(n):
        source = random.Random(i).choices(WORDS, k=18)
        output = [w if rng.random() < quality else rng.choice(WORDS) for w in source]
        results.append(ExampleResult(i, "Translate: " + " ".join(source), " ".join(output), [" ".join(source)],
                                     {"generated_tokens": len(output)}))
    return results, {"max_new_tokens": 64, "metric_options": {}}


def build_store(folder: Path, models: int, tasks: int, examples: int, statistics: bool = True) -> None:
    """The store a run of these figures writes (`statistics` False: as a benchbench before them wrote it)."""
    from benchbench.store import Outcome, ResultSettings, Status, Store
    from benchbench.tasks import TASK_TYPES
    from benchbench.tasks.base import Scoring

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
            settings = ResultSettings({"task": {"type": task_type, "metrics": list(metrics)},
                                       "dataset": {"fingerprint": f"synthetic-{t}"}},
                                      {**resolved, "bootstrap": {"resamples": RESAMPLES, "seed": 1234}})
            store.finish_result(result_id, Outcome(
                Status.OK, metrics=scored.scores, intervals={k: v.to_dict() for k, v in scored.intervals.items()},
                measurements={"gpu": {"process_peak_mib": 400.0 * (m + 1)},
                              "latency_probe": {"batch_1": {"total": {"p50_ms": 8.0 + 3.5 * m}}}},
                settings=settings, counts={"examples": examples},
                model_info={"parameters": (m + 1) * 70_000_000, "family": "causal-lm", "dtype": "bfloat16",
                            "device": "cuda"}))
            if statistics:
                indices = [r.index for r in results]
                store.add_example_stats(result_id, [s for name, found in scored.example_stats(indices).items()
                                                    if (s := found.stored(name)) is not None])
                store.set_example_scores(result_id, {r.index: TASK_TYPES[task_type].example_score(
                    r.prediction, r.reference, r.details) for r in results})
    store.close()


NEW_TIMING = """
import sys, time
from pathlib import Path
from benchbench.report.html import build_report
from benchbench.selection import Limits, Selection
folder, what = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
with Selection.open(folder) as selection:
    if what == "report":
        (folder / "report.html").write_text(build_report(selection, Limits(budget_gib=%(budget)r)), encoding="utf-8")
    else:
        selection.recommend(Limits(budget_gib=%(budget)r))
print(time.perf_counter() - started)
""" % {"budget": BUDGET}

OLD_TIMING = """
import runpy, sys, time
from pathlib import Path
folder, what = Path(sys.argv[1]), sys.argv[2]
if what == "build":
    runpy.run_path(sys.argv[3])["build_store"](folder, *map(int, sys.argv[4:7]))
    sys.exit()
from benchbench.ranking import Limits
started = time.perf_counter()
if what == "report":
    from benchbench.report.html import build_report
    (folder / "report.html").write_text(build_report(folder, Limits(budget_gb=%(budget)r)), encoding="utf-8")
else:
    from benchbench.comparable import choose_comparable
    from benchbench.comparisons import load_evidence
    from benchbench.recommendation import recommend
    from benchbench.results import load_results
    frame, selections = choose_comparable(load_results(folder, all_attempts=True))
    recommend(frame, %(budget)r, selections=selections, evidence=load_evidence(folder, frame))
print(time.perf_counter() - started)
""" % {"budget": BUDGET}


def _run_code(code: str, pythonpath: Path, *args: str) -> str:
    """Run `code` in a fresh process from the code's own folder, so that it imports that code; its output."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=pythonpath,
                          env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"timing failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _timed(code: str, pythonpath: Path, *args: str) -> float:
    """Seconds a fresh process reports for one report or recommend (its imports not counted)."""
    return float(_run_code(code, pythonpath, *args).strip().splitlines()[-1])


def _command_seconds(pythonpath: Path, *args: str) -> float:
    """Wall time of a whole `benchbench` command (interpreter start and imports included)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchbench.cli", *args], capture_output=True, check=False, cwd=pythonpath,
                   env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - started


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


def _baseline(ref: str, work: Path, sizes: list[str]) -> dict[str, float]:
    """The older benchbench's times on a store of the same figures, built by its own code."""
    old = work / "baseline-code"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), ref], check=True,
                   capture_output=True)
    try:
        folder = work / "baseline-store"
        _run_code(OLD_TIMING, old, str(folder), "build", str(old / "benchmarks" / "report_scale.py"), *sizes)
        return {"report": _timed(OLD_TIMING, old, str(folder), "report"),
                "recommend": _timed(OLD_TIMING, old, str(folder), "recommend"),
                "recommend command": _command_seconds(old, "recommend", "--results", str(folder), "--budget-gb",
                                                      str(BUDGET))}
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref of the benchbench to compare with")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    sizes = [str(args.models), str(args.tasks), str(args.examples)]
    work = Path(tempfile.mkdtemp(prefix="report-scale-"))
    folder, older = work / "store", work / "store-without-statistics"
    started = time.perf_counter()
    build_store(folder, args.models, args.tasks, args.examples)
    build_store(older, args.models, args.tasks, args.examples, statistics=False)
    print(f"store: {args.models} models x {args.tasks} tasks x {args.examples} examples, written twice in "
          f"{time.perf_counter() - started:.1f} s ({work})")
    new = {"report": _timed(NEW_TIMING, ROOT, str(folder), "report"),
           "recommend": _timed(NEW_TIMING, ROOT, str(folder), "recommend"),
           "recommend command": _command_seconds(ROOT, "recommend", "--results", str(folder), "--budget-gb",
                                                 str(BUDGET))}
    first, then = _timed(NEW_TIMING, ROOT, str(older), "report"), _timed(NEW_TIMING, ROOT, str(older), "report")
    base = _baseline(args.baseline, work, sizes) if args.baseline else {}
    goals = {"report": 5.0, "recommend": 2.0, "recommend command": None}
    for name, seconds in new.items():
        versus = f"; {args.baseline}: {base[name]:.1f} s, {base[name] / seconds:.1f}x faster" if name in base else ""
        goal = f"; goal {goals[name]:g} s: {seconds / goals[name]:.2f} of it" if goals[name] else ""
        print(f"{name}: {seconds:.2f} s{goal}{versus}")
    print(f"report of a store written without statistics: {first:.1f} s the first time (scores and writes back), "
          f"{then:.2f} s after")
    page = folder / "report.html"
    size_mb = page.stat().st_size / 1e6
    print(f"size: {size_mb:.2f} MB (goal 10 MB: {size_mb / 10:.2f} of it)")
    if not args.no_browser:
        load, rerank = browser_times(page)
        print(f"open to load event (Chromium, headless): {load:.2f} s (goal 2 s: {load / 2:.2f} of it)")
        print(f"re-rank and redraw after an input changes: {rerank:.3f} s")


if __name__ == "__main__":
    main()
