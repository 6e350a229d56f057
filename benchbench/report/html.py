"""The self-contained HTML comparison report.

One file, readable offline: the styles (page.css) and the script (rank.js, then page.js) are inlined, and the
data the script ranks and draws from (data.py) sits in the page as JSON. What depends on the
constraints (the recommendation, the models x tasks overview, the decision map, the charts) is
drawn by the script, so the page's inputs can change it; what does not (every metric with its
interval, speed and memory figures, signatures, the environment) is written here as HTML.
Every piece of text from models, data, suites or results is escaped: HTML-escaped here, and
given to the page as text by the script; the embedded JSON cannot close its script element.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from importlib.resources import files
from typing import Any

from benchbench.numbers import finite_or_none
from benchbench.report.page_data import page_data
from benchbench.selection import Limits, Recommendation, Selection
from benchbench.selection.figures import measured
from benchbench.selection.ranking import Candidate
from benchbench.store import ResultRecord, Status


def _number(value: Any, digits: int = 4) -> str:
    if finite_or_none(value) is None:
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _cell(value: Any, digits: int = 4) -> str:
    data = "" if finite_or_none(value) is None else f' data-value="{value}"'
    return f'<td class="num"{data}>{escape(_number(value, digits))}</td>'


def _table(headers: list[tuple[str, bool]], rows: list[str], sortable: bool = True) -> str:
    head = "".join(f'<th data-sort{" data-numeric" if numeric else ""}>{escape(name)}</th>' if sortable
                   else f"<th>{escape(name)}</th>" for name, numeric in headers)
    return (f'<table class="{"sortable" if sortable else ""}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _metrics_table(records: list[ResultRecord], selection: Selection) -> str:
    """Every score of the task with its interval, and the examples scored (n), per model."""
    metrics = [m for m in selection.catalogue if any(r.metrics.get(m) is not None for r in records)]
    headers = [("model", False), ("n", True)] + [(m, True) for m in metrics]
    body = []
    for record in records:
        cells = []
        for m in metrics:
            value, interval = finite_or_none(record.metrics.get(m)), record.intervals.get(m)
            shown = _number(value) + (f" [{_number(interval['low'])}, {_number(interval['high'])}]" if interval else "")
            data = f' data-value="{value}"' if value is not None else ""
            cells.append(f'<td class="num"{data}>{escape(shown)}</td>')
        body.append(f"<tr><td>{escape(record.model)}</td>{_cell(record.examples)}{''.join(cells)}</tr>")
    return _table(headers, body)


def _signatures(records: list[ResultRecord]) -> str:
    parts = []
    for record in records:
        text = json.dumps({"signature_hash": record.signature, "settings": record.settings.to_dict()}, indent=1,
                          default=str)
        parts.append(f"<details><summary>{escape(record.model)}: signature {escape(record.signature)}"
                     f"</summary><pre>{escape(text)}</pre></details>")
    return "".join(parts)


def _environment(runs: list[dict[str, Any]]) -> str:
    rows = []
    for run in runs:
        env = run["environment"]
        libs = ", ".join(f"{k} {v}" for k, v in (env.get("libraries") or {}).items() if v)
        device = env.get("gpu_name") or f"{env.get('device')} ({env.get('cpu_count')} CPUs)"
        rows.append(f"<tr><td>{escape(run['run_id'])}</td><td>{escape(run['suite_name'])}</td>"
                    f"<td>{escape(str(run['started_at']))}</td><td>{escape(str(run['status']))}</td>"
                    f"<td>{escape(str(device))}</td><td>{escape(libs)}</td></tr>")
    return _table([("run", False), ("suite", False), ("started", False), ("status", False), ("device", False),
                   ("libraries", False)], rows)


def _workers(records: list[ResultRecord]) -> str:
    """Where each result was computed, for results a remote worker (a Ray node) measured: its
    own host and device, which the run's environment (the driver's) does not say."""
    rows = []
    for record in records:
        env = record.environment
        if env.get("host"):
            device = env.get("gpu_name") or f"{env.get('device')} ({env.get('cpu_count')} CPUs)"
            rows.append(f"<tr><td>{escape(record.model)}</td><td>{escape(record.task)}</td>"
                        f"<td>{escape(str(env['host']))}</td><td>{escape(str(device))}</td></tr>")
    if not rows:
        return ""
    return ("<h3>Where each result was computed</h3><div class=scroll>"
            + _table([("model", False), ("task", False), ("host", False), ("device", False)], rows) + "</div>")


def _data_notes(result: dict[str, Any]) -> str:
    """Tasks whose stored results cover different examples: which ones are compared here."""
    notes = result["data"]["notes"]
    return (f"<div class='notes'><b>Compared like with like.</b><ul>"
            f"{''.join(f'<li>{escape(note)}</li>' for note in notes)}</ul></div>") if notes else ""


def _cautions(result: Recommendation) -> str:
    """What to keep in mind about the picks (recommend.py's cautions), under the command line's limits."""
    lines = [f"{task or 'overall'}: {text}" for task, texts in result.cautions.items() for text in texts]
    return (f"<div class='notes' id='cautions'><b>Read the picks with care.</b><ul>"
            f"{''.join(f'<li>{escape(line)}</li>' for line in lines)}</ul></div>") if lines else ""


def _racing(records: list[ResultRecord]) -> str:
    """What racing saved: the model-examples its stopped results did not score, against what a
    full run scores (each task's examples, as its complete results have them)."""
    stopped = [r for r in records if r.status is Status.ELIMINATED]
    if not stopped:
        return ""
    tasks = {r.task for r in records}
    full = {task: max((r.examples or 0) for r in records if r.task == task) for task in tasks}
    saved = sum(full[r.task] - (r.examples or 0) for r in stopped)
    total = sum(full[task] * len({r.model for r in records if r.task == task}) for task in tasks)
    return (f"<p>Racing stopped {len(stopped)} model x task result(s) early (status eliminated; the reason says "
            f"on what evidence): {saved} of {total} model-examples were not scored ({saved / max(total, 1):.0%} "
            f"saved; docs/statistics.md).</p>")


def _speed_table(candidates: list[Candidate], records: list[ResultRecord]) -> str:
    """Each model's speed, memory and cost figures on the task, and its status."""
    headers = [("model", False), ("memory GiB", True), ("memory source", False), ("latency", True),
               ("latency 95% interval", False), ("latency unit and source", False), ("raw latency ms", True),
               ("TTFT ms", True), ("ms per output token (served)", True), ("cost per 1k examples", True),
               ("examples/s", True), ("tokens/s", True), ("MFU %", True), ("parameters (M)", True), ("status", False)]
    by_model = {r.model: r for r in records}
    rows = []
    for c in candidates:
        record = by_model[c.model]
        mfu = measured(record, "model_flops_utilisation")
        interval = "-" if c.latency_low is None else f"[{_number(c.latency_low)}, {_number(c.latency_high)}]"
        rows.append(f"<tr><td>{escape(c.model)}</td>{_cell(c.memory_gib, 3)}<td>{escape(c.memory_source)}</td>"
                    f"{_cell(c.latency_ms)}<td>{escape(interval)}</td>"
                    f"<td>{escape(f'{c.latency_unit}; {c.latency_source}')}</td>{_cell(c.raw_latency_ms)}"
                    f"{_cell(c.ttft_ms)}{_cell(c.tpot_ms, 3)}{_cell(c.cost_per_1k, 3)}"
                    f"{_cell(measured(record, 'examples_per_second'), 3)}"
                    f"{_cell(measured(record, 'prompt_tokens_per_second'))}{_cell(None if mfu is None else 100 * mfu, 3)}"
                    f"{_cell(c.parameters / 1e6 if c.parameters else None)}"
                    f"<td>{escape('; '.join(c.excluded + c.flags) or 'ok')}</td></tr>")
    return _table(headers, rows)


def _task_details(task: str, candidates: list[Candidate], selection: Selection) -> str:
    records = selection.of_task(task)
    return (f'<details class="task" id="task-{escape(task)}"><summary><b>{escape(task)}</b> '
            f'<span class="muted">({escape(records[0].task_type)})</span></summary>'
            f'<h3>Every metric with its 95% interval</h3><div class="scroll">{_metrics_table(records, selection)}</div>'
            f'<h3>Speed, memory and cost</h3><div class="scroll">{_speed_table(candidates, records)}</div>'
            f"<h3>Settings signatures</h3>{_signatures(records)}</details>")


def _asset(name: str) -> str:
    return files("benchbench.report").joinpath(name).read_text(encoding="utf-8")


def embedded_json(data: dict[str, Any]) -> str:
    """JSON that can sit inside a <script> element: no '<' (so no '</script>'), and no line or
    paragraph separator characters, which old JavaScript engines rejected."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def build_report(selection: Selection, limits: Limits = Limits()) -> str:
    """The report of a selection's comparable results, its page starting from `limits`."""
    base = selection.candidates()
    ranking = selection.recommend(limits)
    payload = page_data(selection, base, limits, ranking)
    details = "".join(_task_details(task, candidates, selection) for task, candidates in base.items())
    results_dir = selection.store.path.parent
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>benchbench report</title>'
            f"<style>{_asset('page.css')}</style></head><body><h1>benchbench comparison report</h1>"
            f'<p class="muted">Results: {escape(str(results_dir))}; generated {generated}. Memory in GiB (the GPU peak '
            f"where measured, else an estimate from the model's shape); latency: p50, per each task's unit (ms per output "
            f"token for generating tasks, ms per example for the others, or ms for a fixed-length request where "
            f"the probe ran), with its 95% interval. Served models (api:) "
            f"use no local memory; their cost is in the currency of the suite's price.</p>"
            f"<noscript><p class=notes>This page draws its overview with JavaScript; the tables further down "
            f"work without it.</p></noscript>"
            f"{_data_notes(ranking.to_dict())}{_cautions(ranking)}{_racing(selection.records)}"
            f'<h2>Constraints</h2><p class="muted">Change a limit and everything down to the charts is ranked and '
            f"drawn again; leave it empty for no limit.</p><form id=inputs onsubmit='return false'></form>"
            f'<h2>Recommendation</h2><div id="recommendation"></div>'
            f'<h2>Overview</h2><p class="muted">Each task\'s ranking metric; the colour is scaled per task, darker '
            f"is better (whichever way the metric goes). ★ the pick; = statistically tied with it (paired test, "
            f"Holm-adjusted p &ge; 0.05, or overlapping 95% intervals where examples cannot be paired); struck "
            f"through: excluded by a limit. Hover a cell for its interval and its difference from the best."
            f'</p><div class="scroll" id="matrix"></div>'
            f'<h2>Where the pick changes</h2><p class="muted">Each limit alone, the others held where they are: '
            f'the value past which a task\'s pick (or the overall one) changes, and the model that takes over. '
            f'Highlighted: the next change if the limit tightens from where it is now.</p><div id="decision"></div>'
            f'<h2>Quality against cost</h2><p class="muted">Bars: 95% intervals; line: the Pareto front of the '
            f"models within the limits; dashed: the limit; green: the pick; hollow: excluded.</p>"
            f'<div id="charts"></div>'
            f'<h2>Examples side by side</h2><div id="compare-controls"></div><div id="compare"></div>'
            f"<h2>Per task</h2>{details}<h2>Environment</h2><div class=scroll>{_environment(selection.runs)}</div>{_workers(selection.records)}"
            f'<script type="application/json" id="report-data">{embedded_json(payload)}</script>'
            f"<script>{_asset('rank.js')}\n{_asset('page.js')}</script></body></html>")
