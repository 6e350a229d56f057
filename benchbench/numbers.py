"""NaN and infinity as missing values: strict JSON readers reject them, and a report shows
them as '-'. One rule for the store, the exports, the ranking and the report."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """None for a NaN or infinite float, the value itself otherwise."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


_LEAVES = (str, int, bool, type(None))  # kept as they are, checked first: most of a page's values are text


def finite_tree(value: Any) -> Any:
    """`value` with every non-finite float inside dicts and lists replaced by None."""
    if type(value) in _LEAVES:
        return value
    if isinstance(value, dict):
        return {str(k): finite_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_tree(v) for v in value]
    return finite_or_none(value)
