"""The docs stand on their own: every relative link resolves inside the repository, and
none points outside it (a reader of the repository or the wheel has nothing else)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_stay_in_the_repository_and_resolve(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"
    assert "shared/docs" not in page.read_text(encoding="utf-8"), f"{page.name} points at a folder outside the repo"


def test_every_metric_option_is_in_the_metrics_page():
    """Each option a metric takes (and records in its signature) is explained in docs/metrics.md."""
    from benchbench.metrics import METRICS

    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))  # an options table's first column
    prose = " ".join(re.findall(r"^Options: .*?(?:\n\n|\Z)", text, flags=re.M | re.S))  # "Options: bleu: `x`, ..."
    missing = sorted({f"{name}: {option}" for name, metric in METRICS.items() for option in metric.options
                      if option not in rows and f"`{option}`" not in prose})
    assert not missing, f"metric options docs/metrics.md does not explain: {missing}"
