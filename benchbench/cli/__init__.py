"""The `benchbench` command (click wiring over the Python API): run, validate, list, recommend,
report, estimate. Option types and callbacks shared by commands live in options.py."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shlex
import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable

import click

from benchbench.cli.options import names_option, nonempty_option
from benchbench.errors import BenchbenchError, SuiteError
from benchbench.schema import key
from benchbench.spec import DTYPES, BatchSize

# NVML and torch must number GPUs the same way (docs/methodology.md).
os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")

EXIT_FAILED_RESULTS = 1
EXIT_BAD_INPUT = 2
DATA_HELP = ("Which stored results to compare when a task was scored on different examples (a --limit "
             "smoke run, an edited data file): 'complete' (the most examples), 'latest', or a data fingerprint.")


class _BatchSizeType(click.ParamType):
    """A positive number of rows, or auto."""

    name = "batch size"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> BatchSize:
        if str(value) == "auto":
            return "auto"
        if str(value).isdigit() and int(str(value)) >= 1:
            return int(str(value))
        self.fail(f"{value!r} is neither a number of rows (1 or more) nor auto", param, ctx)


BATCH_SIZE = _BatchSizeType()


def _fail(exc: BenchbenchError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_BAD_INPUT)


_POSITIVE = key(float, bounds="(0, inf)")  # a budget or a limit: NaN or inf would mean no limit at all


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A budget or a limit: a positive, finite number (NaN or inf would mean no limit at all)."""
    if value is not None and _POSITIVE.out_of_bounds(value):
        raise click.BadParameter(f"{value} is not a positive number")
    return value


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A resource count: finite (the range itself is the option's type)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


def _show_progress_messages() -> None:
    """benchbench's own INFO messages (e.g. a GGUF conversion) go to stderr, plainly."""
    logger = logging.getLogger("benchbench")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _after_run(results_dir: str, result_ids: list[int]) -> None:
    """The run's table, then the HTML report refreshed (a failure of the report must not fail
    the run: the results are stored, and `benchbench report` rebuilds it)."""
    from benchbench.report.html import build_report
    from benchbench.report.terminal import comparison_table
    from benchbench.selection import Selection

    with Selection.open(results_dir) as selection:
        wanted = set(result_ids)
        click.echo("\n" + comparison_table([r for r in selection.attempts if r.result_id in wanted],
                                           selection.catalogue))
        target = Path(results_dir) / "report.html"
        try:
            target.write_text(build_report(selection), encoding="utf-8")
            click.echo(f"report: {target}")
        except Exception as exc:
            click.echo(f"warning: could not write the HTML report ({type(exc).__name__}: {exc}); "
                       f"run `benchbench report {results_dir}`", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="benchbench")
def main() -> None:
    """Benchmark language models on task suites and compare quality and cost.

    \b
    benchbench run suites/quickstart.yaml     run a suite, print a comparison
    benchbench validate my-suite.yaml         check a suite without running it
    benchbench list                           task types, metrics, bundled suites
    """
    _show_progress_messages()


@main.command()
@click.argument("suite", type=click.Path(dir_okay=False))
@click.option("--results", "--output", "-o", "output", default="results", show_default=True,
              help="Results folder (a SQLite store inside; runs accumulate there). --output and -o are aliases.")
@click.option("--limit", type=click.IntRange(min=1), help="Use at most N examples per task.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Override the suite's runtime.device.")
@click.option("--batch-size", type=BATCH_SIZE, metavar="N|auto",
              help="Override runtime.batch_size (and every task's): rows per pass, or auto.")
@click.option("--dtype", type=click.Choice(DTYPES), help="Override runtime.dtype and every model's dtype.")
@click.option("--models", multiple=True, callback=names_option,
              help="Comma-separated model names from the suite to run; repeatable (the union).")
@click.option("--tasks", multiple=True, callback=names_option,
              help="Comma-separated task names from the suite to run; repeatable (the union).")
@click.option("--fresh", is_flag=True,
              help="Recompute everything, even results already in the store with the same settings.")
@click.option("--no-weights", is_flag=True,
              help="Build each model from its config with random weights: speed and memory only, no quality.")
@click.option("--isolation", type=click.Choice(["process", "none"]),
              help="Override runtime.isolation: 'process' runs each model in a child process of its own "
                   "(the default; clean per-model measurements, a crash loses one task), 'none' runs all "
                   "models in this process (for debugging).")
@click.option("--executor", type=click.Choice(["local", "ray"]),
              help="Override runtime.executor: 'local' runs models on this machine one at a time; 'ray' runs "
                   "each model in a Ray task on a cluster, in parallel (docs/distributed.md).")
@click.option("--address", "ray_address", metavar="ADDR", callback=nonempty_option,
              help="Override runtime.ray_address: the Ray cluster to join; implies --executor ray.")
@click.option("--gpus-per-model", type=click.FloatRange(min=0), metavar="N", callback=_finite,
              help="Override runtime.gpus_per_model: GPUs each model reserves on Ray.")
@click.option("--cpus-per-model", type=click.FloatRange(min=0, min_open=True), metavar="N", callback=_finite,
              help="Override runtime.cpus_per_model: CPUs each model reserves on Ray.")
@click.option("--race", is_flag=True,
              help="Racing: score every model on growing prefixes of each task's examples and stop those that "
                   "cannot win (runtime.race; its defaults unless the suite sets it; docs/statistics.md).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def run(suite: str, output: str, limit: int | None, device: str | None, batch_size: BatchSize | None, dtype: str | None,
        models: list[str] | None, tasks: list[str] | None, fresh: bool, no_weights: bool, isolation: str | None,
        executor: str | None, ray_address: str | None, gpus_per_model: float | None, cpus_per_model: float | None,
        race: bool, progress: bool) -> None:
    """Run SUITE (a YAML file) and print a comparison table.

    Every model x task is stored as it finishes; a model that cannot be loaded is
    recorded as 'unavailable' with the reason and the others still run; a model whose
    process dies is recorded as 'crashed' for the task in flight. Exit code 0 when
    every result is ok, 1 when some are not (they are stored with their reason), 2 for
    an invalid suite or options.
    """
    if not progress:  # also the bars of libraries (tqdm's and the hub's), here and in model processes
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from benchbench.estimate import weights_over_budget
    from benchbench.run.driver import Driver
    from benchbench.run.events import EmitFailed
    from benchbench.run.signals import RunInterrupted, stop_cleanly
    from benchbench.spec import RaceSpec
    from benchbench.suite import load_suite

    try:
        loaded = load_suite(suite)
        chosen = loaded.select(
            models, tasks, limit, batch_size, dtype, device=device, no_weights=no_weights,
            isolation=isolation, executor=executor, ray_address=ray_address, gpus_per_model=gpus_per_model,
            cpus_per_model=cpus_per_model, race=(loaded.runtime.race or RaceSpec()) if race else None)
        budget = chosen.runtime.race and chosen.runtime.race.max_memory_gb
        up_front = weights_over_budget(chosen.models, chosen.runtime.dtype, budget) if budget else {}
        driver = Driver(chosen, output, progress=progress, command=" ".join(sys.argv), fresh=fresh, up_front=up_front)
    except BenchbenchError as exc:
        _fail(exc)
    rerun = "benchbench " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    try:
        with stop_cleanly():
            summary = driver.run()
    except RunInterrupted as stop:
        done = sum(driver.summary.statuses.values())
        click.echo(f"\ninterrupted by {stop}: {done} result(s) recorded in this run; the results in flight keep "
                   f"the examples they had scored. Resume with the same command (finished results are reused, "
                   f"interrupted ones continue):\n  {rerun}", err=True)
        sys.exit(stop.exit_code)
    except (sqlite3.Error, EmitFailed) as exc:
        cause = exc.__cause__ or exc  # the driver's own error, under either executor
        click.echo(f"error: the results store {driver.store.path} could not be written ({cause}); what it held is "
                   f"kept. Free space or make the folder writable, then resume with:\n  {rerun}", err=True)
        sys.exit(EXIT_FAILED_RESULTS)
    _after_run(output, summary.result_ids)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    reuse = f"; {summary.reused} reused, {summary.resumed_examples} examples resumed" \
        if summary.reused or summary.resumed_examples else ""
    click.echo(f"\nresults: {summary.database} (run {summary.run_id}: {counts}{reuse})")
    if summary.race:
        full, saved = summary.race["full"], summary.race["saved"]
        click.echo(f"racing: {full - saved} of {full} model-examples scored, {saved} saved by stopping models "
                   f"({saved / max(full, 1):.0%}); {summary.workers_started} model worker(s) started")
    for line in summary.problems:
        click.echo(f"  {line}")
    if not summary.all_ok:
        sys.exit(EXIT_FAILED_RESULTS)


@main.command()
@click.argument("suite", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(suite: str, fmt: str) -> None:
    """Check SUITE without running it: keys, types, ranges, task types, metrics, local paths.
    Exit code 2, with the file, the key and the fix, when it is not valid."""
    from benchbench.suite import load_suite

    try:
        parsed = load_suite(suite)
    except SuiteError as exc:
        _fail(exc)
    if fmt == "json":
        click.echo(json.dumps({"suite": parsed.path, "valid": True, "models": [m.name for m in parsed.models],
                               "tasks": {t.name: t.type for t in parsed.tasks}}, indent=2))
        return
    click.echo(f"{suite}: ok ({len(parsed.models)} models, {len(parsed.tasks)} tasks: "
               f"{', '.join(t.name for t in parsed.tasks)})")


def _constraint_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The limits `recommend` ranks under, and the report and exports start from."""
    options = [
        click.option("--budget-gb", "--budget-gib", "budget_gib", type=float, callback=_positive,
                     help="GPU memory budget in GiB (--budget-gib is the same)."),
        click.option("--max-latency-ms", type=float, callback=_positive,
                     help="Exclude models slower than this on a task's ranking latency (p50 in ms, in the unit the "
                          "task's heading names: per output token for generating tasks, per example for the others, "
                          "or per fixed-length request where every model ran the latency probe)."),
        click.option("--min-score", "min_scores", multiple=True, metavar="[METRIC=]VALUE",
                     help="Exclude models scoring worse than VALUE on METRIC (at most VALUE for lower-is-better "
                          "metrics); repeatable. A bare VALUE applies to the ranking metric and needs --task or "
                          "--metric."),
        click.option("--max-cost-per-1k", type=float, callback=_positive,
                     help="Exclude models costing more than this per 1,000 examples (served models with a price; "
                          "models without a cost are excluded).")]
    for option in reversed(options):
        command = option(command)
    return command


def _open_selection(results_dir: str, data: str) -> Any:
    """The results folder's Selection, or exit 2 with the reason."""
    from benchbench.selection import Selection

    try:
        return Selection.open(results_dir, data)
    except FileNotFoundError as exc:
        _fail(BenchbenchError(str(exc)))
    except BenchbenchError as exc:
        _fail(exc)


@main.command()
@_constraint_options
@click.option("--task", help="Rank for this task only (default: every task, plus an overall ranking).")
@click.option("--metric", help="Rank by this metric (default: the task type's primary metric).")
@click.option("--results", "results_dir", default="results", show_default=True, help="Results folder.")
@click.option("--data", default="complete", show_default=True, help=DATA_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def recommend(budget_gib: float | None, task: str | None, metric: str | None, max_latency_ms: float | None,
              min_scores: tuple[str, ...], max_cost_per_1k: float | None, results_dir: str, data: str,
              fmt: str) -> None:
    """Rank the models that fit the constraints, and say why the others do not.

    Memory is the measured GPU peak where a GPU run measured it, else an estimate from
    the model's shape (flagged). Each model is compared with the best on the examples both
    scored (paired): tied unless the Holm-adjusted p-value is below 0.05 (docs/statistics.md);
    the Pareto set trades quality, latency, memory and cost. Exit code 1 when no model fits a
    task's constraints, 2 for invalid options.
    """
    from benchbench.report.terminal import format_table

    with _open_selection(results_dir, data) as selection:
        try:
            limits = selection.limits(budget_gib, max_latency_ms, min_scores, max_cost_per_1k, task, metric)
        except BenchbenchError as exc:
            _fail(exc)
        result = selection.recommend(limits, task, metric)
    click.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else format_table(result))
    if result.nothing_fits:
        sys.exit(EXIT_FAILED_RESULTS)


@main.command()
@click.argument("model")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "int8", "int4"]), default="bfloat16",
              show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seq-len", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Prompt plus generated tokens.")
@click.option("--scoring", is_flag=True,
              help="Logits for every position (perplexity, log-likelihood scoring) instead of generation.")
@click.option("--trust-remote-code", is_flag=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def estimate(model: str, dtype: str, batch_size: int, seq_len: int, scoring: bool, trust_remote_code: bool,
             fmt: str) -> None:
    """Memory needed to run MODEL (hub id, folder, .gguf or packaged:NAME), from its config alone."""
    from benchbench.backends.hf.loading import inspect_config, model_shape
    from benchbench.backends.reference import resolve_source_path
    from benchbench.estimate import count_parameters, estimate_from_shape
    from benchbench.spec import CheckpointSpec

    try:
        source = resolve_source_path(model, Path.cwd(), "command line", "MODEL")
        config, family = inspect_config(CheckpointSpec(source, trust_remote_code=trust_remote_code), model)
    except BenchbenchError as exc:
        _fail(exc)
    shape = model_shape(config)
    result = estimate_from_shape(count_parameters(config), shape, dtype, batch_size, seq_len,
                                 logits_positions=None if scoring else 1)
    if fmt == "json":
        click.echo(json.dumps({"model": model, "model_type": config.model_type, "family": family,
                               "units": "GiB", **dataclasses.asdict(result)}, indent=2))
        return
    click.echo(f"{model} ({config.model_type}, {family}): {result.parameters / 1e6:.1f}M parameters, {dtype}, "
               f"batch {batch_size} x {seq_len} tokens")
    for part in ("weights", "kv_cache", "activations", "logits", "overhead"):
        click.echo(f"  {part:<12} {getattr(result, part + '_gib'):8.3f} GiB")
    click.echo(f"  {'total':<12} {result.total_gib:8.3f} GiB (estimate; see docs/estimate.md for its error)")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("results_dir", default=None, required=False)
@click.option("--results", "results_option", help="Results folder (default: results); the same as RESULTS_DIR.")
@click.option("-o", "--output", help="Output file (default: report.html / comparison.csv / comparison.json "
                                     "in the results folder; - writes to standard output).")
@_constraint_options
@click.option("--data", default="complete", show_default=True, help=DATA_HELP)
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html", show_default=True)
def report(results_dir: str | None, results_option: str | None, output: str | None, budget_gib: float | None,
           max_latency_ms: float | None, min_scores: tuple[str, ...], max_cost_per_1k: float | None,
           data: str, fmt: str) -> None:
    """Write the comparison of RESULTS_DIR (default: results) as a self-contained HTML
    report, or export it as CSV or JSON (one row per model x task, with its rank, ties, Pareto
    mark and exclusions under the limits given). The limits are where the report's page
    starts; its inputs change them."""
    if results_dir and results_option and results_dir != results_option:
        _fail(BenchbenchError(f"two results folders given ({results_dir} and --results {results_option}); give one"))
    results_dir = results_dir or results_option or "results"
    from benchbench.report.export import export_comparison
    from benchbench.report.html import build_report

    with _open_selection(results_dir, data) as selection:
        try:
            limits = selection.limits(budget_gib, max_latency_ms, min_scores, max_cost_per_1k)
        except BenchbenchError as exc:
            _fail(exc)
        content = build_report(selection, limits) if fmt == "html" else export_comparison(selection, fmt, limits)
    if output == "-":
        click.echo(content, nl=False)
        return
    target = Path(output) if output else Path(results_dir) / {"html": "report.html", "csv": "comparison.csv",
                                                               "json": "comparison.json"}[fmt]
    try:
        target.write_text(content, encoding="utf-8")
    except OSError as exc:
        _fail(BenchbenchError(f"cannot write {target}: {exc.strerror or exc}; give a path in an existing, "
                              f"writable folder with -o"))
    click.echo(f"wrote {target}")


@main.command(name="list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_(fmt: str) -> None:
    """Show task types (fields, options, metrics), metrics, packaged models and bundled suites."""
    from benchbench.catalog import catalog, catalog_text

    data = catalog()
    click.echo(json.dumps(data, indent=2, default=str) if fmt == "json" else catalog_text(data))

