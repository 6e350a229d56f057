"""Backends by name: a suite model picks its backend (backend:, else api: -> api, else hf),
whose own keys are checked and parsed into its typed spec; a third-party backend installed
as a package (tests/plugins/benchbench-echo) runs a suite and shows in `benchbench list`; a
broken plugin is one line naming its package."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import parse, write_suite

from benchbench import load_results
from benchbench.errors import ModelUnavailable, SuiteError
from benchbench.spec import ApiSpec, CheckpointSpec, ModelSpec, Runtime

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).resolve().parent / "plugins" / "benchbench-echo"
API = {"base_url": "http://127.0.0.1:8000/v1", "model": "m"}


def _document(tmp_path: Path, *models: dict) -> dict:
    data = tmp_path / "mt.jsonl"
    data.write_text("".join(json.dumps({"source": s, "reference": s}) + "\n"
                            for s in ("the cat sat on the mat", "a dog ran in the park")))
    return {"name": "b", "models": list(models),
            "tasks": [{"name": "mt", "type": "translation", "dataset": {"path": str(data)},
                       "options": {"prompt": "Repeat: {source}"}},
                      {"name": "ppl", "type": "perplexity", "dataset": {"path": str(data), "fields": {"text": "source"}}}]}


def test_a_model_picks_its_backend_as_before_or_by_name(tmp_path):
    suite = parse(tmp_path, _document(tmp_path, {"name": "local", "source": "org/model", "dtype": "bfloat16"},
                                      {"name": "served", "api": API},
                                      {"name": "named", "backend": "api", "api": API}))
    local, served, named = suite.models
    assert (local.backend, local.settings) == ("hf", CheckpointSpec("org/model", dtype="bfloat16"))
    assert (served.backend, named.backend) == ("api", "api") and served.settings == named.settings
    assert isinstance(served.settings, ApiSpec) and served.source == "api:m@http://127.0.0.1:8000/v1"
    assert local.dtype == "bfloat16" and served.dtype is None and served.api is served.settings


@pytest.mark.parametrize("model, key, words", [
    ({"name": "m", "backend": "hff", "source": "org/m"}, "models[0].backend", "did you mean 'hf'"),
    ({"name": "m", "backend": 3, "source": "org/m"}, "models[0].backend", "expected a string"),
    ({"name": "m", "api": API, "dtype": "float16"}, "models[0].dtype", "a key of hf models"),
    ({"name": "m", "backend": "hf", "source": "org/m", "api": API}, "models[0].api", "a key of api models"),
    ({"name": "m", "backend": "api"}, "models[0].api", "required key is missing"),
    ({"name": "m", "source": "org/m", "revison": "main"}, "models[0].revison", "did you mean 'revision'"),
])
def test_each_backend_checks_its_own_keys(tmp_path, model, key, words):
    with pytest.raises(SuiteError) as info:
        parse(tmp_path, _document(tmp_path, model))
    assert info.value.key == key and words in str(info.value), str(info.value)


def test_an_engine_that_cannot_be_imported_makes_its_models_unavailable(monkeypatch):
    from benchbench.backends import open_backend
    from benchbench.backends.registry import BACKENDS

    monkeypatch.setitem(BACKENDS, "ghost", dataclasses.replace(BACKENDS["hf"], factory="no_such_engine:Backend"))
    with pytest.raises(ModelUnavailable) as info:
        open_backend(ModelSpec("m", "ghost", CheckpointSpec("org/m")), Runtime(), "cpu")
    assert str(info.value) == ("the ghost backend's engine no_such_engine:Backend (built-in) cannot be imported: "
                               "ModuleNotFoundError: No module named 'no_such_engine'")


# --- a third-party backend, installed as a package ---------------------------------------------

_CLI = "import sys; from benchbench.cli import main; sys.argv[0] = 'benchbench'; main()"


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    """A folder holding the echo plugin, installed by pip as any package is, and a broken one:
    an installed distribution whose entry point names a module that is not there, and which
    also claims the built-in name hf."""
    root = tmp_path_factory.mktemp("plugins")
    shutil.copytree(PLUGIN, root / "source")  # pip builds in the source folder: keep the checkout clean
    site = root / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(root / "source")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    broken = site / "broken_plugin-0.2.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.2\n")
    (broken / "entry_points.txt").write_text("[benchbench.backends]\nbroken = no_such_module:BACKEND\n"
                                             "hf = no_such_module:HF\n")
    return site


def _with_plugins(site: Path, *args: str, code: str = _CLI) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


def test_an_installed_backend_runs_a_suite_and_is_listed_with_its_origin(plugins, tmp_path):
    suite = write_suite(tmp_path, _document(tmp_path, {"name": "parrot", "backend": "echo"},
                                            {"name": "prefixed", "backend": "echo", "prefix": "well, "},
                                            {"name": "chatty", "backend": "echo",
                                             "task_options": {"mt": {"chat_template": True}}}))
    checked = _with_plugins(plugins, str(suite), code=(
        "import sys; from benchbench.suite import load_suite; models = load_suite(sys.argv[1]).models; "
        "print([type(m.settings).__name__ for m in models], sorted(m for m in sys.modules if 'echo' in m), "
        "'torch' in sys.modules)"))
    # validation reads the plugin's entry, not its engine (nor torch)
    assert checked.stdout.split() == ["['EchoSpec',", "'EchoSpec',", "'EchoSpec']", "['benchbench_echo']", "False"], \
        checked.stderr
    conformance = _with_plugins(plugins, code=(
        "import pkgutil; from benchbench.backends.capabilities import conformance_problems; "
        "from benchbench.backends.registry import backend_entry; entry = backend_entry('echo'); "
        "print(conformance_problems(pkgutil.resolve_name(entry.factory), entry.capabilities))"))
    assert conformance.stdout.strip() == "[]", conformance.stderr

    out = tmp_path / "results"
    ran = _with_plugins(plugins, "run", str(suite), "-o", str(out), "--no-progress")
    assert ran.returncode == 1, ran.stderr[-3000:]  # the echo backend serves no perplexity
    frame = load_results(out).set_index(["model", "task"])
    assert frame.loc[("parrot", "mt"), "bleu"] == pytest.approx(100.0)  # it echoes the source, the reference
    assert frame.loc[("prefixed", "mt"), "bleu"] < 100.0  # its typed spec reaches the engine
    assert frame.loc[("parrot", "mt"), "settings"]["resolved"]["engine"] == "echo"
    assert frame.loc[("parrot", "ppl"), "status"] == "unsupported"
    assert "scores no text" in frame.loc[("parrot", "ppl"), "reason"]
    chat = frame.loc[("chatty", "mt")]  # a capability the backend does not implement: one line, before any example
    assert chat["status"] == "unsupported" and chat["reason"] == (
        "the model's backend (EchoBackend) does not implement ChatPrompts (chat_prompt)")

    listed = _with_plugins(plugins, "list")
    assert listed.returncode == 0, listed.stderr
    assert "echo [benchbench-echo 0.1.0]: answers with the text after the prompt's last ': '" in listed.stdout
    assert "hf [built-in]" in listed.stdout


def test_a_broken_plugin_is_one_line_naming_its_package(plugins, tmp_path):
    listed = _with_plugins(plugins, "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stdout + listed.stderr, listed.stderr
    broken = [line for line in listed.stdout.splitlines() if "broken-plugin" in line]
    assert broken == [
        "  cannot be used: backend 'hf' from broken-plugin 0.2 is left out: a built-in backend has that name; "
        "rename the entry point in broken-plugin 0.2",
        "  cannot be used: backend 'broken' from broken-plugin 0.2 cannot be loaded (no_such_module:BACKEND: "
        "ModuleNotFoundError: No module named 'no_such_module'); reinstall or uninstall broken-plugin 0.2"]

    suite = write_suite(tmp_path, _document(tmp_path, {"name": "m", "backend": "broken"}))
    validated = _with_plugins(plugins, "validate", str(suite))
    assert validated.returncode == 2 and "Traceback" not in validated.stdout + validated.stderr
    assert "models[0].backend: backend 'broken' from broken-plugin 0.2 cannot be loaded" in validated.stdout + \
        validated.stderr
