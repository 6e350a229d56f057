"""A run's terminal carries benchbench's own lines, not the libraries' deprecation notices: a
FutureWarning printed on every run teaches users to ignore warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import write_suite


def test_a_run_prints_no_library_future_warning(tmp_path, tiny_llama):
    data = tmp_path / "reviews.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in
                            [("a good film, a joy", "positive"), ("a bad one, a long evening", "negative")]))
    suite = write_suite(tmp_path, {"name": "quiet", "runtime": {"isolation": "process", "bootstrap_resamples": 0},
                                   "models": [{"name": "llama", "source": str(tiny_llama)}],
                                   "tasks": [{"name": "sentiment", "type": "classification", "dataset": {"path": str(data)},
                                              # choices of several tokens share the prompt's KV cache
                                              "options": {"choices": {"positive": " a good joy",
                                                                      "negative": " a bad evening"}}},
                                             {"name": "echo", "type": "summarization", "options": {"max_new_tokens": 4},
                                              "dataset": {"path": str(data), "fields": {"source": "text",
                                                                                        "reference": "label"}}}]})
    done = subprocess.run([sys.executable, "-m", "benchbench.cli", "run", str(suite), "-o", str(tmp_path / "out"),
                           "--no-progress"], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"PYTHONWARNINGS": "default"})  # as a user's shell shows them
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"choices_share_prompt_cache": true' in json.dumps(_settings(tmp_path / "out"))  # the cached path ran
    for noise in ("FutureWarning", "past_key_values", "deprecated"):
        assert noise not in done.stderr + done.stdout, (done.stderr + done.stdout)[-3000:]


def _settings(results):
    from benchbench import load_results

    return [row for row in load_results(results)["settings"]]
