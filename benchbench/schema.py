"""A tiny declarative schema for YAML mappings, with errors a user can act on.

Suites are small, hand-written files; the errors matter more than the machinery. Each
mapping is described by a plain dict of :class:`Key` entries, which `benchbench list`
and docs/suites.md can show as they are.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from benchbench.errors import SuiteError, shown

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               dict: "a mapping", list: "a list"}


@dataclass(frozen=True)
class Key:
    """One allowed key: its type(s), default, whether required, allowed values, and for a
    number the interval it must lie in, written as in mathematics: "[1, inf)", "(0, 1]"."""

    types: tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] = ()
    help: str = ""
    bounds: str = ""

    def describe_type(self) -> str:
        return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in self.types)

    def describe_bounds(self) -> str:
        """'at least 1', 'greater than 0', or the interval itself."""
        left, low, high, right = _interval(self.bounds)
        number = f"{low:g}"
        if high == float("inf"):
            return f"at least {number}" if left == "[" else f"greater than {number}"
        return f"in {self.bounds}"

    def out_of_bounds(self, value: Any) -> bool:
        """Whether a number lies outside `bounds` (NaN always does)."""
        if not self.bounds or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        left, low, high, right = _interval(self.bounds)
        if value != value:  # NaN
            return True
        too_low = value < low if left == "[" else value <= low
        too_high = value > high if right == "]" else value >= high
        return too_low or too_high


def _interval(bounds: str) -> tuple[str, float, float, str]:
    low, high = (float(part) for part in bounds[1:-1].split(","))
    return bounds[0], low, high, bounds[-1]


def key(types: type | tuple[type, ...], default: Any = None, *, required: bool = False,
        choices: tuple[Any, ...] = (), help: str = "", bounds: str = "") -> Key:
    """Shorthand constructor used by the schemas of suites, task and metric options."""
    if bounds:
        left, low, high, right = _interval(bounds)  # a malformed interval fails at import, not in use
        assert left in "[(" and right in "])" and low <= high, bounds
    return Key(types if isinstance(types, tuple) else (types,), default, required, choices, help, bounds)


def _matches(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def did_you_mean(word: str, options: list[str], what: str = "valid keys") -> str:
    """'did you mean X?' for a misspelt name, or the list of valid names, introduced by
    `what` ("valid keys", "task types", "models in the suite", ...)."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"{what}: " + ", ".join(sorted(options))


def check_mapping(value: Any, schema: dict[str, Key], file: str, path: str) -> dict[str, Any]:
    """Validate `value` against `schema`; return a dict with defaults filled in."""
    where = path or "(top level)"
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise SuiteError(file, where, f"expected a mapping, got {type(value).__name__}",
                         "write it as 'key: value' lines")
    for name in value:
        if name not in schema:
            raise SuiteError(file, _join(path, str(name)), "unknown key",
                             did_you_mean(str(name), list(schema)))
    checked: dict[str, Any] = {}
    for name, spec in schema.items():
        key_path = _join(path, name)
        if name not in value or value[name] is None:
            if spec.required:
                raise SuiteError(file, key_path, "required key is missing",
                                 f"add '{name}:' ({spec.help or spec.describe_type()})")
            checked[name] = spec.default() if callable(spec.default) else spec.default
            continue
        item = value[name]
        if not _matches(item, spec.types):
            raise SuiteError(file, key_path,
                             f"expected {spec.describe_type()}, got {type(item).__name__} {shown(item)}",
                             spec.help or f"give {spec.describe_type()}")
        if spec.out_of_bounds(item):
            raise SuiteError(file, key_path, f"{shown(item)} is out of range: it must be {spec.describe_bounds()}",
                             f"give a value {spec.describe_bounds()}" + (f" ({spec.help})" if spec.help else ""))
        if spec.choices and item not in spec.choices and not (spec.bounds and _is_number(item)):
            choices = ", ".join(str(c) for c in spec.choices)
            hint = did_you_mean(str(item), [str(c) for c in spec.choices])
            number = f"a number {spec.describe_bounds()}" if spec.bounds else ""
            raise SuiteError(file, key_path, f"{shown(item)} is neither {number} nor one of: {choices}" if number
                             else f"{shown(item)} is not one of: {choices}",
                             hint if "did you mean" in hint else f"use {number + ', or ' if number else 'one of: '}{choices}")
        checked[name] = item
    return checked


def _is_number(value: Any) -> bool:
    """Numbers are checked by `bounds`; `choices` name the other values a key takes (batch_size: auto)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
