"""The HTML report: self-contained and escaped (test_report_page.py opens it in a browser); exports."""

from __future__ import annotations

import json
import re

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
    assert HOSTILE not in page and "&lt;script&gt;alert(" in page  # HTML-escaped in the tables
    assert "\\u003cscript>alert(" in page  # and unable to close the embedded data's element
    assert page.count("<script>") == 1 and page.count("<script") == 2  # the page's script and its data
    assert not re.search(r"(src|href)=[\"']https?://", page)  # nothing fetched from the network
    assert '"budget_gib":0.7' in page and "nrefs:1" in page  # the starting constraints, signatures


def test_report_refuses_a_bare_min_score(results):
    result = CliRunner().invoke(main, ["report", str(results), "--min-score", "30"])
    assert result.exit_code == 2 and "METRIC=VALUE" in result.output


def test_exports(results):
    for fmt in ("csv", "json"):
        result = CliRunner().invoke(main, ["report", str(results), "--format", fmt])
        assert result.exit_code == 0
    rows = json.loads((results / "comparison.json").read_text())
    assert len(rows) == 2 and {"bleu", "bleu_ci_low", "model", "task"} <= set(rows[0])
    header = (results / "comparison.csv").read_text().splitlines()[0]
    assert "bleu" in header and "settings" not in header
