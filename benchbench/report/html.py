"""The self-contained HTML comparison report.

One file: inline CSS and JS, charts as inline SVG, no network access needed to view it.
Every piece of text that comes from models, data, suites or results is HTML-escaped.
Open it with `#selftest` appended to the URL and its script sorts every table by a
numeric column, checks the order, and writes the outcome into the page (used by the
headless-browser test).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from benchbench.comparable import choose_comparable
from benchbench.comparisons import load_evidence
from benchbench.metrics import DIRECTION
from benchbench.numbers import finite_or_none
from benchbench.ranking import recommend
from benchbench.report.plots import scatter_svg
from benchbench.report.terminal import versus_best_text
from benchbench.results import load_results
from benchbench.store import Store
from benchbench.tasks import TASK_TYPES

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th[data-sort]{cursor:pointer;background:#f4f6f8}th[data-sort]:hover{background:#e6ebf0}
td.num{text-align:right;font-variant-numeric:tabular-nums}.excluded{color:#888}.tag{font-size:.75rem;padding:0 .3rem;
border-radius:3px;background:#e8f0fe;margin-left:.3rem}.best{background:#e6f4ea}.charts{display:flex;flex-wrap:wrap;gap:1rem}
pre{white-space:pre-wrap;word-break:break-word;background:#f8f8f8;padding:.5rem;font-size:.78rem;max-height:20rem;overflow:auto}
details{margin:.4rem 0}.muted{color:#666;font-size:.85rem}.notes{background:#fff8e1;padding:.2rem .8rem;border-radius:4px}
"""

JS = """
function cellValue(row, index){const c=row.cells[index];return c.dataset.value!==undefined?c.dataset.value:c.textContent.trim();}
function sortTable(th){
  const table=th.closest('table'), index=Array.from(th.parentNode.children).indexOf(th), body=table.tBodies[0];
  const dir=th.dataset.dir==='asc'?'desc':'asc'; th.dataset.dir=dir;
  const rows=Array.from(body.rows);
  rows.sort(function(a,b){
    const x=cellValue(a,index), y=cellValue(b,index), nx=parseFloat(x), ny=parseFloat(y);
    let c;
    if(!isNaN(nx)&&!isNaN(ny)){c=nx-ny;}else if(!isNaN(nx)){c=-1;}else if(!isNaN(ny)){c=1;}else{c=x.localeCompare(y);}
    return dir==='asc'?c:-c;});
  rows.forEach(function(r){body.appendChild(r);});
}
document.querySelectorAll('th[data-sort]').forEach(function(th){th.addEventListener('click',function(){sortTable(th);});});
if(location.hash==='#selftest'){
  let ok=true, tables=0;
  document.querySelectorAll('table.sortable').forEach(function(table){
    const th=table.querySelector('th[data-numeric]'); if(!th){return;}
    tables++; th.click();
    const index=Array.from(th.parentNode.children).indexOf(th);
    const values=Array.from(table.tBodies[0].rows).map(function(r){return parseFloat(cellValue(r,index));}).filter(function(v){return !isNaN(v);});
    for(let i=1;i<values.length;i++){if(values[i]<values[i-1]){ok=false;}}
  });
  const marker=document.createElement('div'); marker.id='selftest';
  marker.textContent=(ok?'sort-ok':'sort-failed')+' tables='+tables+' charts='+document.querySelectorAll('svg').length;
  document.body.appendChild(marker);
}
"""


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


def _ranking_table(candidates: list[dict[str, Any]], frame: pd.DataFrame) -> str:
    metric = candidates[0]["metric"]
    headers = [("rank", True), ("model", False), (metric, True), ("n", True), ("95% CI low", True), ("95% CI high", True),
               ("vs best (paired)", False),
               ("memory GiB", True), ("memory source", False), ("latency ms", True), ("TTFT ms", True),
               ("ms per output token", True), ("cost per 1k examples", True), ("examples/s", True),
               ("tokens/s", True), ("MFU %", True), ("parameters (M)", True), ("status / why excluded", False)]
    rows = []
    for c in candidates:
        match = frame[(frame["model"] == c["model"]) & (frame["task"] == c["task"])]

        def measured(column: str) -> float | None:
            value = match[column].iloc[0] if column in match and len(match) else None
            return float(value) if value is not None and pd.notna(value) else None

        mfu = measured("model_flops_utilisation")
        tags = ("<span class='tag'>tied with best</span>" if c["tied_with_best"] and c["rank"] != 1 else "") + \
               ("<span class='tag'>Pareto</span>" if c["pareto"] else "")
        css = "best" if c["rank"] == 1 else ("excluded" if c["excluded"] else "")
        rows.append(f'<tr class="{css}">{_cell(c["rank"])}<td>{escape(c["model"])}{tags}</td>{_cell(c["score"])}'
                    f'{_cell(c["n"])}'
                    f'{_cell(c["ci_low"])}{_cell(c["ci_high"])}'
                    f'<td>{escape(versus_best_text(c["vs_best"])) if c["vs_best"] else ""}</td>{_cell(c["memory_gib"], 3)}'
                    f'<td>{escape(c["memory_source"])}</td>{_cell(c["latency_ms"], 4)}{_cell(c["ttft_ms"], 4)}'
                    f'{_cell(c["tpot_ms"], 3)}{_cell(c["cost_per_1k"], 3)}{_cell(measured("examples_per_second"), 3)}'
                    f'{_cell(measured("prompt_tokens_per_second"), 4)}{_cell(None if mfu is None else 100 * mfu, 3)}'
                    f'{_cell(c["parameters"] / 1e6 if c["parameters"] else None, 4)}'
                    f'<td>{escape("; ".join(c["excluded"]) or "ok")}</td></tr>')
    return _table(headers, rows)


def _metrics_table(rows: pd.DataFrame) -> str:
    """Every metric of the task with its interval, per model."""
    metrics = [m for m in DIRECTION if m in rows.columns and rows[m].notna().any()]
    headers = [("model", False)] + [(m, True) for m in metrics]
    body = []
    for _, row in rows.iterrows():
        cells = []
        for m in metrics:
            low, high = row.get(f"{m}_ci_low"), row.get(f"{m}_ci_high")
            interval = f" [{_number(low)}, {_number(high)}]" if pd.notna(low) and low is not None else ""
            value = row[m] if pd.notna(row[m]) else None
            data = f' data-value="{value}"' if value is not None else ""
            cells.append(f'<td class="num"{data}>{escape(_number(value) + interval)}</td>')
        body.append(f"<tr><td>{escape(str(row['model']))}</td>{''.join(cells)}</tr>")
    return _table(headers, body)


def _signatures(rows: pd.DataFrame) -> str:
    parts = []
    for _, row in rows.iterrows():
        settings = row.get("settings") or {}
        text = json.dumps({"signature_hash": row["signature"], "settings": settings}, indent=1, default=str)
        parts.append(f"<details><summary>{escape(str(row['model']))}: signature {escape(str(row['signature']))}"
                     f"</summary><pre>{escape(text)}</pre></details>")
    return "".join(parts)


def _worst_examples(store: Store, rows: pd.DataFrame, task_type: str, limit: int) -> str:
    if task_type not in TASK_TYPES:  # stored by a benchbench with a task type this one does not know
        return ""
    parts = []
    for _, row in rows.iterrows():
        if row["status"] != "ok":
            continue
        predictions = store.predictions(int(row["result_id"]))
        if not predictions:
            continue
        scorer = TASK_TYPES[task_type].example_score
        scored = sorted(((scorer(p["prediction"], p["reference"], p["details"] or {}), p) for p in predictions),
                        key=lambda x: x[0][0])[:limit]
        kind = scored[0][0][1]
        body = [f'<tr>{_cell(p["example_index"])}{_cell(score, 3)}<td><pre>{escape(str(p["input"])[:1500])}</pre></td>'
                f'<td><pre>{escape(json.dumps(p["prediction"], ensure_ascii=False)[:800])}</pre></td>'
                f'<td><pre>{escape(json.dumps(p["reference"], ensure_ascii=False)[:800])}</pre></td></tr>'
                for (score, _), p in scored]
        table = _table([("example", True), (kind, True), ("input", False), ("output", False), ("reference", False)], body)
        parts.append(f"<details><summary>{escape(str(row['model']))}: {len(scored)} worst of {len(predictions)} "
                     f"examples (by {escape(kind)})</summary>{table}</details>")
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


def _data_notes(result: dict[str, Any]) -> str:
    """Tasks whose stored results cover different examples: which ones are compared here."""
    notes = result["data"]["notes"]
    return (f"<div class='notes'><b>Compared like with like.</b><ul>"
            f"{''.join(f'<li>{escape(note)}</li>' for note in notes)}</ul></div>") if notes else ""


def _recommendation(result: dict[str, Any], budget: float | None) -> str:
    items = []
    for task, candidates in result["tasks"].items():
        ranked = [c for c in candidates if c["rank"] is not None]
        if not ranked:
            items.append(f"<li><b>{escape(task)}</b>: no model fits the constraints.</li>")
            continue
        best = ranked[0]
        tied = [c["model"] for c in ranked[1:] if c["tied_with_best"]]
        tie_text = f" (statistically tied: {escape(', '.join(tied))})" if tied else ""
        memory = "memory unknown" if best["memory_gib"] is None else f"{best['memory_gib']:.2f} GiB, {best['memory_source']}"
        items.append(f"<li><b>{escape(task)}</b>: {escape(best['model'])} ({escape(best['metric'])} "
                     f"{escape(_number(best['score']))}, n={escape(_number(best['n']))}; {escape(memory)}){tie_text}</li>")
    heading = f"for a {budget:g} GiB budget" if budget is not None else "(no memory budget given)"
    return f"<h2>Recommendation {escape(heading)}</h2><ul>{''.join(items)}</ul>"


def _racing(frame: pd.DataFrame) -> str:
    """What racing saved: the model-examples its stopped results did not score, against what a
    full run scores (each task's examples, as its complete results have them)."""
    stopped = frame[frame["status"] == "eliminated"]
    if stopped.empty:
        return ""
    full = {task: rows["examples"].max() for task, rows in frame.groupby("task")}
    saved = int(sum(full[row["task"]] - row["examples"] for _, row in stopped.iterrows()))
    total = int(sum(full[task] * rows["model"].nunique() for task, rows in frame.groupby("task")))
    return (f"<p>Racing stopped {len(stopped)} model x task result(s) early (status eliminated; the reason says "
            f"on what evidence): {saved} of {total} model-examples were not scored ({saved / max(total, 1):.0%} "
            f"saved; docs/statistics.md).</p>")


def build_report(results_dir: str | Path, budget_gb: float | None = None, worst_examples: int = 10,
                 data: str = "complete") -> str:
    """The report of the results compared over one data selection per task (comparable.py)."""
    frame, selections = choose_comparable(load_results(results_dir, all_attempts=True), data)
    ranking = recommend(frame, budget_gb, selections=selections, evidence=load_evidence(results_dir, frame))
    store = Store(results_dir, read_only=True)
    try:
        runs = store.runs()
        sections = []
        for task, candidates in ranking["tasks"].items():
            rows = frame[frame["task"] == task]
            task_type = str(rows["task_type"].iloc[0])
            memory_chart = scatter_svg(candidates, "memory_gib", "peak GPU memory (GiB; measured or estimated)", budget_gb)
            latency_chart = scatter_svg(candidates, "latency_ms", "latency (ms, p50)")
            charts = "".join(f"<figure>{svg}</figure>" for svg in (latency_chart, memory_chart) if svg)
            sections.append(
                f'<h2 id="task-{escape(task)}">Task {escape(task)} <span class="muted">({escape(task_type)})</span></h2>'
                f"<h3>Ranking</h3>{_ranking_table(candidates, frame)}"
                f"<h3>All metrics with 95% confidence intervals</h3>{_metrics_table(rows)}"
                f'<div class="charts">{charts or "<p class=muted>No chart: no latency or memory figures.</p>"}</div>'
                f"<h3>Settings signatures</h3>{_signatures(rows)}"
                f"<h3>Worst examples first</h3>{_worst_examples(store, rows, task_type, worst_examples)}")
    finally:
        store.close()
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>benchbench report</title>"
            f"<style>{CSS}</style></head><body><h1>benchbench comparison report</h1>"
            f'<p class="muted">Results: {escape(str(results_dir))}; generated {generated}. Memory in GiB; '
            f"latency in ms. Served models (api:) are timed per request on this machine: TTFT is the time to "
            f"the first token, ms per output token the time per token after it (p50 over requests); their cost is in "
            f"the currency of the suite's price. Click a column heading to sort.</p>"
            f"{_data_notes(ranking)}{_recommendation(ranking, budget_gb)}{_racing(frame)}{''.join(sections)}"
            f"<h2>Environment</h2>{_environment(runs)}<script>{JS}</script></body></html>")
