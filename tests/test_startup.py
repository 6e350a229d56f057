"""Start-up cost of the commands a user types most: `validate` and `list` import neither the
heavy libraries (scikit-learn, pandas, torch, datasets) nor anything that pulls them in, and
answer in well under 1.5 s."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1] / "benchbench" / "suites" / "quickstart.yaml"
HEAVY = ("sklearn", "pandas", "torch", "transformers", "datasets", "scipy")

_RUN_AND_LIST_MODULES = """
import json, sys
from benchbench.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def _modules_after(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _RUN_AND_LIST_MODULES, *args], capture_output=True, text=True,
                          timeout=120)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [("validate", str(SUITE)), ("list",), ("--help",)], ids=lambda a: a[0])
def test_light_commands_import_no_heavy_library(args):
    heavy = sorted(_modules_after(*args) & set(HEAVY))
    assert not heavy, f"`benchbench {' '.join(args)}` imports {heavy}"


def test_the_package_gives_its_public_functions_on_first_use():
    import benchbench

    assert callable(benchbench.load_results) and callable(benchbench.load_suite)
    assert callable(benchbench.load_comparisons)
    with pytest.raises(AttributeError):
        benchbench.no_such_function  # noqa: B018


@pytest.mark.parametrize("args", [("validate", str(SUITE)), ("list",)], ids=lambda a: a[0])
def test_light_commands_start_in_under_a_second_and_a_half(args):
    best = float("inf")
    for _ in range(3):  # the best of three: a busy machine slows one try, not the command
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "benchbench.cli", *args], capture_output=True, timeout=120)
        best = min(best, time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    assert best < 1.5, f"`benchbench {args[0]}` took {best:.2f} s"
