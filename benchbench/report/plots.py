"""Charts as inline SVG (matplotlib, Agg backend): quality against latency and memory,
with the Pareto front and the memory budget line."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchbench.metrics import DIRECTION  # noqa: E402


def scatter_svg(candidates: list[dict[str, Any]], x_key: str, x_label: str, budget: float | None = None) -> str | None:
    """SVG text of score vs `x_key`, or None when no candidate has both numbers."""
    points = [c for c in candidates if c.get(x_key) is not None and c.get("score") is not None
              and c["score"] == c["score"]]
    if not points:
        return None
    metric = points[0]["metric"]
    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=100)
    for c in points:
        ax.scatter(c[x_key], c["score"], s=40, color="#1f77b4" if c.get("pareto") else "#999999", zorder=3)
        ax.annotate(c["model"], (c[x_key], c["score"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    front = sorted((c for c in points if c.get("pareto")), key=lambda c: c[x_key])
    if len(front) > 1:
        ax.plot([c[x_key] for c in front], [c["score"] for c in front], color="#1f77b4", lw=1, zorder=2,
                label="Pareto front")
    if budget is not None:
        ax.axvline(budget, color="#d62728", ls="--", lw=1, label=f"budget {budget:g} GiB")
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"{metric} ({'higher' if DIRECTION.get(metric, True) else 'lower'} is better)")
    ax.grid(alpha=0.3)
    if len(front) > 1 or budget is not None:
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog so it can sit inside HTML
