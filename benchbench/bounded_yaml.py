"""Read a suite's YAML within bounds a hand-written suite never reaches.

A suite is a small file a person writes, but YAML lets a small file describe a huge document:
aliases that refer to lists of aliases (a "billion laughs" of a few hundred bytes expands to
gigabytes as soon as anything walks it), nesting thousands of levels deep (the parser recurses),
or a key given twice (YAML keeps the second silently). Each is refused here, with one line that
says which bound and where, before anything reads the document. The bounds, below, are in
docs/suites.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchbench.errors import SuiteError

MAX_FILE_BYTES = 1024 * 1024  # a suite file
MAX_DEPTH = 50  # lists and mappings inside each other
MAX_STRING_CHARS = 100_000  # one value (a prompt template, say): long texts belong in the data file
MAX_EXPANDED_VALUES = 100_000  # values once every alias is followed
MAX_EXPANDED_CHARS = 2_000_000  # characters of all values once every alias is followed
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: faster, no recursion
_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults`: merged keys may be overridden, they are no duplicates


def read_yaml(path: Path, file: str) -> Any:
    """The document in `path` (a UTF-8 YAML file) as plain Python values, or SuiteError naming
    `file`, the place and the fix."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SuiteError(file, "", f"the file is {size:,} bytes; a suite may hold at most {MAX_FILE_BYTES:,}",
                         "put long texts (examples, documents) in the dataset file, not in the suite")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SuiteError(file, "", "not a UTF-8 text file", "save the suite as UTF-8") from None
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node, file)
        return loader.construct_document(node)
    except RecursionError:  # the pure-Python parser recurses once per level
        raise _too_deep(file, "") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(exc, "problem", None) or exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit (1000 levels)
            raise _too_deep(file, where) from None
        raise SuiteError(file, where, f"not valid YAML: {problem}", "check indentation and quoting at that line") from None
    finally:
        loader.dispose()


def _too_deep(file: str, where: str) -> SuiteError:
    return SuiteError(file, where, f"lists and mappings are nested more than {MAX_DEPTH} levels deep",
                      "a suite needs a few levels; check the brackets and the indentation")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _check(root: yaml.Node, file: str) -> None:
    """Every bound on the node graph, each node visited once: an alias is the node it names,
    so sizes are summed over the graph (memoised), not over the expanded document."""
    sizes: dict[int, tuple[int, int, int]] = {}  # id(node): (depth, values, characters) once expanded
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not children_done:
            if id(node) in on_path:
                raise SuiteError(file, f"line {_line(node)}", "an alias refers to a list or mapping that holds it",
                                 "an alias may only repeat a value defined before it, outside it")
            on_path.add(id(node))
            _check_node(node, file)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        on_path.discard(id(node))
        parts = [sizes[id(child)] for child in children]
        depth = 1 + max((d for d, _, _ in parts), default=0) if isinstance(node, yaml.CollectionNode) else 0
        values = 1 + sum(v for _, v, _ in parts)
        chars = len(node.value) if isinstance(node, yaml.ScalarNode) else sum(c for _, _, c in parts)
        if depth > MAX_DEPTH:
            raise _too_deep(file, f"line {_line(node)}")
        if values > MAX_EXPANDED_VALUES or chars > MAX_EXPANDED_CHARS:
            raise SuiteError(file, f"line {_line(node)}",
                             f"with its aliases followed this value holds {values:,} values and {chars:,} characters; "
                             f"a suite may hold at most {MAX_EXPANDED_VALUES:,} and {MAX_EXPANDED_CHARS:,}",
                             "write the values out, or use fewer aliases of aliases")
        sizes[id(node)] = (depth, values, chars)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_node(node: yaml.Node, file: str) -> None:
    """One node's own bounds: a string's length, a mapping's keys given once."""
    if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_STRING_CHARS:
        raise SuiteError(file, f"line {_line(node)}", f"a value of {len(node.value):,} characters; a suite's values "
                                                      f"may hold at most {MAX_STRING_CHARS:,}",
                         "put long texts in the dataset file (a prompt template needs only its placeholders)")
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                raise SuiteError(file, f"line {_line(key)}",
                                 f"key {key.value!r} is given a second time (first on line {_line(first)}; YAML "
                                 f"would keep only this one)", "keep one of them, with everything it should hold")
