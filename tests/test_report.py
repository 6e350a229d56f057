"""The HTML report: self-contained, escaped, sortable in a real headless browser; exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from helpers import write_suite

from benchbench.cli import main

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def results(tmp_path, tiny_gpt2, tiny_llama):
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": f"{HOSTILE} film {i}", "reference": f"{HOSTILE} ref {i}"}) + "\n"
                            for i in range(6)))
    suite = write_suite(tmp_path, {
        "name": "report", "runtime": {"bootstrap_resamples": 100},
        "models": [{"name": f"gpt2 {HOSTILE}", "source": str(tiny_gpt2)}, {"name": "llama", "source": str(tiny_llama)}],
        "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                   "options": {"max_new_tokens": 6, "prompt": "{source} " + HOSTILE, "stop": []}}]})
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists()  # written at the end of every run
    return out


def test_report_escapes_everything_and_is_self_contained(results):
    result = CliRunner().invoke(main, ["report", str(results), "--budget-gb", "0.7"])
    assert result.exit_code == 0
    page = (results / "report.html").read_text()
    assert HOSTILE not in page and "&lt;script&gt;alert(" in page
    assert page.count("<script>") == 1  # only the report's own script
    assert not re.search(r"(src|href)=[\"']https?://", page)  # nothing fetched from the network
    assert "<svg" in page and "Recommendation for a 0.7 GiB budget" in page
    assert "Worst examples first" in page and "nrefs:1" in page  # per-example view, signatures


def test_exports(results):
    for fmt in ("csv", "json"):
        result = CliRunner().invoke(main, ["report", str(results), "--format", fmt])
        assert result.exit_code == 0
    rows = json.loads((results / "comparison.json").read_text())
    assert len(rows) == 2 and {"bleu", "bleu_ci_low", "model", "task"} <= set(rows[0])
    header = (results / "comparison.csv").read_text().splitlines()[0]
    assert "bleu" in header and "settings" not in header


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_report_in_headless_chromium(results, tmp_path):
    page = results / "report.html"
    done = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", f"file://{page}#selftest"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    marker = re.search(r'<div id="selftest">([^<]*)</div>', done.stdout)
    assert marker, "the page's script did not run"
    outcome = marker.group(1)
    assert outcome.startswith("sort-ok") and "tables=0" not in outcome
    assert int(re.search(r"charts=(\d+)", outcome).group(1)) >= 1
    console_errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line and
                      ("Uncaught" in line or "Error" in line)]
    assert not console_errors, console_errors
