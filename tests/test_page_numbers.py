"""The report page formats numbers as Python does (`format(x, ".{p}g")`), so a figure, a limit
or a p-value reads the same in the page as in the terminal: rank.js's pyG against Python on
thousands of values, dyadic ties (0.0625: to even) and near-ties (0.0615: just below) included.
Runs the page's own script under Node.js (no browser needed)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

RANK_JS = Path(__file__).resolve().parents[1] / "benchbench" / "report" / "rank.js"
NODE = shutil.which("node")
RUN = """
const src = require("fs").readFileSync(process.argv[1], "utf8");
eval(src.slice(src.indexOf("function pyG"), src.indexOf("function fmt")) + "; global.pyG = pyG;");
const values = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify([2, 4, 6].map(p => values.map(v => pyG(v, p)))));
"""


@pytest.mark.skipif(NODE is None, reason="needs Node.js")
def test_pyg_formats_as_python_does():
    rng = random.Random(2026)
    values = [0.0625, 0.125, 0.0615, 1 / 3, 12345.678, 1e-5, 99999.5, 123456789.0, -0.0625, 7.0, 1e21, 2.5, 999999.5]
    values += [rng.uniform(-1e6, 1e6) for _ in range(300)] + [rng.random() * 10 ** rng.randint(-9, 9) for _ in range(500)]
    values += [k / 2 ** n for n in range(1, 13) for k in range(1, 2 ** n, 5)]  # exact binary halves: ties
    done = subprocess.run([NODE, "-e", RUN, str(RANK_JS)], input=json.dumps(values), capture_output=True, text=True,
                          timeout=60, check=True)
    for digits, shown in zip((2, 4, 6), json.loads(done.stdout)):
        wrong = [(v, s) for v, s in zip(values, shown) if s != format(v, f".{digits}g")]
        assert not wrong, (digits, wrong[:5])
