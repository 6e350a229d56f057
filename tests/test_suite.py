"""Suite validation: every error names the file, the key and a fix; CLI exit code 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import minimal_suite, parse, write_suite

from benchbench.cli import main
from benchbench.errors import SuiteError


def _error(tmp_path, document) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        parse(tmp_path, document)
    return info.value


def test_valid_suite_resolves_relative_paths(tmp_path, corpus_file, tiny_gpt2):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.txt").write_text(corpus_file.read_text())
    suite = parse(tmp_path, minimal_suite(str(tiny_gpt2), "data/c.txt"))
    assert suite.tasks[0].dataset.path == str((tmp_path / "data" / "c.txt").resolve())
    assert suite.tasks[0].dataset.format == "text"
    assert suite.runtime.batch_size == 8 and suite.models[0].settings.trust_remote_code is False
    assert suite.tasks[0].options["prefix"] == "bos"  # task option defaults are filled


def test_hub_ids_stay_hub_ids(tmp_path):
    document = minimal_suite("openai-community/gpt2", "wikitext")
    document["tasks"][0]["dataset"]["name"] = "wikitext-2-raw-v1"
    suite = parse(tmp_path, document)
    assert suite.models[0].source == "openai-community/gpt2"
    assert suite.tasks[0].dataset.format == "hub"


def test_misspelt_key_suggests_the_right_one(tmp_path, corpus_file):
    document = minimal_suite("gpt2", str(corpus_file))
    document["models"][0]["revison"] = "main"
    error = _error(tmp_path, document)
    assert error.key == "models[0].revison" and "did you mean 'revision'" in str(error)
    assert str(tmp_path / "suite.yaml") in str(error)


@pytest.mark.parametrize("change,key,text", [
    (lambda d: d["models"][0].pop("source"), "models[0].source", "required key is missing"),
    (lambda d: d["tasks"][0].update(type="perplexty"), "tasks[0].type", "did you mean 'perplexity'"),
    (lambda d: d["tasks"][0].update(metrics=["acuracy"]), "tasks[0].metrics[0]", "not a metric"),
    (lambda d: d["tasks"][0]["dataset"].update(limit="ten"), "tasks[0].dataset.limit", "expected an integer"),
    (lambda d: d["tasks"][0]["dataset"].update(limit=0), "tasks[0].dataset.limit", "at least 1"),
    (lambda d: d["tasks"][0]["options"].update(strid=3), "tasks[0].options.strid", "did you mean 'stride'"),
    (lambda d: d["runtime"].update(device="gpu"), "runtime.device", "is not one of"),
    (lambda d: d["models"].append(dict(d["models"][0])), "models", "duplicate name"),
    (lambda d: d["models"][0].update(source="./missing-model"), "models[0].source", "does not exist"),
    (lambda d: d["models"][0].update(source="packaged:smollm"), "models[0].source", "no packaged model"),
    (lambda d: d["tasks"][0]["dataset"].update(fields={"txt": "a"}), "tasks[0].dataset.fields.txt", "did you mean 'text'"),
    (lambda d: d["models"][0].update(task_options={"nope": {}}), "models[0].task_options.nope", "names no task"),
    (lambda d: d.update(tasks=[]), "tasks", "empty"),
])
def test_invalid_suites_name_key_and_fix(tmp_path, corpus_file, change, key, text):
    document = minimal_suite("gpt2", str(corpus_file))
    document.setdefault("runtime", {})
    document["tasks"][0].setdefault("options", {})
    change(document)
    error = _error(tmp_path, document)
    assert error.key == key, str(error)
    assert text in str(error)


def test_missing_local_dataset(tmp_path):
    error = _error(tmp_path, minimal_suite("gpt2", "data/nothing.jsonl"))
    assert error.key == "tasks[0].dataset.path" and "relative to the suite file" in error.fix


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodels: [\n  - a\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.output and "line" in result.output


def test_cli_validate_ok_and_error(tmp_path, corpus_file):
    good = write_suite(tmp_path, minimal_suite("gpt2", str(corpus_file)), "good.yaml")
    result = CliRunner().invoke(main, ["validate", str(good)])
    assert result.exit_code == 0 and "ok (1 models, 1 tasks" in result.output
    document = minimal_suite("gpt2", str(corpus_file))
    document["tasks"][0]["tpye"] = "perplexity"
    bad = write_suite(tmp_path, document, "bad.yaml")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "tasks[0].tpye" in result.output and "did you mean 'type'" in result.output
    assert "Traceback" not in result.output


def test_run_rejects_unknown_model_name(tmp_path, corpus_file):
    good = write_suite(tmp_path, minimal_suite("gpt2", str(corpus_file)))
    result = CliRunner().invoke(main, ["run", str(good), "--models", "n", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--models" in result.output and "no entry named 'n'" in result.output


def test_model_options_merge_by_type_then_name(tmp_path, corpus_file):
    document = minimal_suite("gpt2", str(corpus_file), options={"stride": 4})
    document["models"][0]["task_options"] = {"perplexity": {"stride": 2, "max_length": 8},
                                             "ppl": {"max_length": 16}}
    suite = parse(tmp_path, document)
    merged = suite.models[0].options_for(suite.tasks[0])
    assert merged["stride"] == 2 and merged["max_length"] == 16 and merged["prefix"] == "bos"


def test_signature_changes_with_a_chosen_attention_kernel_only(tmp_path, corpus_file):
    from benchbench.signature import signature_fields, signature_hash
    from benchbench.spec import CheckpointSpec, ModelSpec

    task = parse(tmp_path, minimal_suite("gpt2", str(corpus_file))).tasks[0]

    def signature(model: ModelSpec) -> str:
        return signature_hash(signature_fields(model, task, {}, "fingerprint", "cpu", "auto"))

    plain = ModelSpec("m", "hf", CheckpointSpec("gpt2"))
    assert "attn_implementation" not in signature_fields(plain, task, {}, "f", "cpu", "auto")["model"]
    assert signature(plain) != signature(ModelSpec("m", "hf", CheckpointSpec("gpt2", attn_implementation="eager")))
    assert signature(plain) == signature(ModelSpec("other display name", "hf", CheckpointSpec("gpt2")))


@pytest.mark.parametrize("where,value", [
    (("runtime", "batch_size"), 0), (("runtime", "batch_size"), -4), (("runtime", "probe_new_tokens"), 1),
    (("runtime", "bootstrap_resamples"), -1), (("options", "max_new_tokens"), -5), (("options", "top_p"), 1.5),
    (("options", "temperature"), 0.0), (("options", "temperature"), float("nan")), (("dataset", "limit"), 0),
    (("metric_options", "bleu", "max_ngram_order"), 0), (("options", "num_beams"), 0)])
def test_numbers_out_of_range_are_rejected_before_anything_runs(tmp_path, where, value):
    data = tmp_path / "t.jsonl"
    data.write_text('{"source": "a", "reference": "b"}\n')
    task = {"name": "t", "type": "translation", "dataset": {"path": str(data)}, "options": {}, "metric_options": {}}
    document = {"name": "s", "runtime": {}, "models": [{"name": "m", "source": "org/m"}], "tasks": [task]}
    target = document if where[0] == "runtime" else task
    for part in where[:-1]:
        target = target.setdefault(part, {})
    target[where[-1]] = value
    result = CliRunner().invoke(main, ["validate", str(write_suite(tmp_path, document))])
    assert result.exit_code == 2 and "out of range" in result.output and "Traceback" not in result.output
    assert str(where[-1]) in result.output
