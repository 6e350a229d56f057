"""The package's shape, checked: imports flow one way with no cycle, tasks and the worker side
know neither torch nor the store, the commands that only read results run without torch,
and the bundled suites ship in the wheel."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchbench"

# Each module may import its own layer and the layers before it (docs/architecture.md).
LAYERS = [
    {"errors", "schema", "paths", "numbers", "spec", "store", "bounded_yaml"},
    {"data", "metrics", "measure", "signature"},
    {"backends"},
    {"tasks"},
    {"estimate", "selection"},  # the choosing side; racing (run/) uses its evidence between rounds
    {"suite", "run", "catalog"},
    {"report"},
    {"cli", "__init__"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at the top or inside a function (a lazy import
    still ties the two modules together)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
            # `from pkg import submodule` imports the submodule; `from module import name`, the module
            found |= submodules if len(submodules) == len(node.names) else submodules | {node.module}
    return found


GRAPH = {name: {m for m in _imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def _reachable(start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in GRAPH[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_every_module_has_a_layer():
    assert all(_layer(m) >= 0 for m in MODULES)


def test_no_import_cycle():
    cycles = sorted(m for m in MODULES if m in _reachable(m))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_imports_flow_one_way():
    backwards = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in targets if _layer(b) > _layer(a)]
    assert not backwards, backwards


@pytest.mark.parametrize("folder", ["tasks", "backends/base.py", "backends/__init__.py", "backends/capabilities.py",
                                    "backends/entry.py", "backends/registry.py", "backends/hf/keys.py",
                                    "backends/api/keys.py", "spec.py", "suite.py", "selection", "store", "report",
                                    "metrics"])
def test_no_torch_or_transformers_outside_backends_and_measurement(folder):
    files = [PACKAGE / folder] if folder.endswith(".py") else sorted((PACKAGE / folder).rglob("*.py"))
    for path in files:
        heavy = {m.split(".")[0] for m in _imports(path)} & {"torch", "transformers"}
        assert not heavy, f"{path.relative_to(PACKAGE)} imports {heavy}"


def test_worker_side_never_reaches_the_store():
    worker_side = ["benchbench.run.worker", "benchbench.run.job", "benchbench.run.events",
                   "benchbench.run.executors.process", "benchbench.run.executors.inline",
                   *[m for m in MODULES if m.startswith(("benchbench.tasks", "benchbench.backends"))]]
    for module in worker_side:
        reached = _reachable(module)
        # the typed records (store/records.py) travel in events; the database code never does
        assert not reached & {"benchbench.store", "benchbench.store.database", "benchbench.store.claims"}, module


def test_the_top_level_stays_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 13, top


def test_files_stay_small():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


_BLOCK_TORCH = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Blocked())
from benchbench.cli import main
sys.argv = ["benchbench", *sys.argv[1:]]
main()
"""


def _cli_without_torch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _BLOCK_TORCH, *args], capture_output=True, text=True, timeout=120)


def _store_with_one_result(folder: Path) -> None:
    from benchbench.store import Outcome, Status, Store
    from benchbench.store.lease import Owner

    store = Store(folder)
    store.begin_run("r1", "s", "s.yaml", "test", {}, Owner.me())
    for model, accuracy in (("small", 0.7), ("large", 0.9)):
        result = store.begin_result("r1", f"sig-{model}", "s", model, "sentiment", "classification")
        store.finish_result(result, Outcome(
            Status.OK, metrics={"accuracy": accuracy},
            measurements={"batch_latency": {"p50_ms": 10.0 if model == "small" else 30.0}},
            counts={"examples": 10}, model_info={"parameters": 1000}))
    store.finish_run("r1", "finished")
    store.close()


def test_commands_that_read_results_run_without_torch(tmp_path):
    _store_with_one_result(tmp_path / "results")
    suite = PACKAGE / "suites" / "quickstart.yaml"
    for args, expected in ((["validate", str(suite)], "ok (2 models, 5 tasks"),
                           (["validate", "quickstart"], "ok (2 models, 5 tasks"),
                           (["list"], "quickstart"),
                           (["recommend", "--results", str(tmp_path / "results")], "1. large"),
                           (["report", str(tmp_path / "results")], "report.html")):
        done = _cli_without_torch(*args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert expected in done.stdout, (args, done.stdout)
    assert "blocked" in _cli_without_torch("run", str(suite), "-o", str(tmp_path / "x")).stderr  # the check bites


@pytest.mark.slow
def test_wheel_ships_the_bundled_suites_and_the_report_page(tmp_path):
    pytest.importorskip("setuptools", reason="builds the wheel with this environment's setuptools")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(PACKAGE.parent)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("benchbench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for suite in ("quickstart.yaml", "perf-1b.yaml", "data/sentiment.jsonl", "configs/llama-1b/config.json"):
        assert f"benchbench/suites/{suite}" in names
    for asset in ("rank.js", "page.js", "page.css"):  # the report page's script and styles
        assert f"benchbench/report/{asset}" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    listed = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(target)!r}); "
                             "from benchbench.cli import main; main(['list'])"],
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert f"quickstart: {target}" in listed.stdout  # found inside the installed wheel, not this checkout
