"""What a backend tells benchbench about itself: one :class:`BackendEntry` per backend name.

The built-in entries are listed in registry.py; a third-party package adds one through the
entry point group ``benchbench.backends`` (docs/backends.md). An entry is plain data that
imports nothing heavy: the engine behind it (torch, an HTTP client) is named by an import
path and imported only when a model of its kind is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from benchbench.errors import SuiteError
from benchbench.schema import Key
from benchbench.spec import ModelSettings


@dataclass(frozen=True)
class SuitePlace:
    """Where a model entry sits in a suite: for errors that name the key, and for local paths,
    which resolve against the suite's folder."""

    file: str
    path: str  # "models[2]"
    folder: Path

    def error(self, key: str, problem: str, fix: str = "") -> SuiteError:
        return SuiteError(self.file, f"{self.path}.{key}", problem, fix)


@dataclass(frozen=True)
class BackendEntry:
    """One backend: its suite keys, how they become its typed spec, and where its engine is.

    `keys`: the keys its models take besides ``name``, ``backend`` and ``task_options``,
    checked like every suite key (types, bounds, did-you-mean). `spec`: the checked values
    (every key present, defaults filled) -> the backend's typed spec (a frozen dataclass
    implementing spec.ModelSettings); it raises SuiteError (``place.error``) for what the
    schema cannot say. `factory`: ``"module:Class"``, imported when a model of this backend
    is opened and called as ``Class(model: ModelSpec, runtime: Runtime, device: str)``; the
    class implements backends.base.ModelBackend and the capability protocols it serves
    (backends/capabilities.py). `capabilities`: every capability a model of it can claim
    (its Profile's ``loadable`` is a part of it), shown by `benchbench list`.
    """

    description: str
    keys: dict[str, Key]
    spec: Callable[[dict[str, Any], SuitePlace], ModelSettings]
    factory: str
    capabilities: frozenset[str]
    origin: str = "built-in"  # a plugin's: its distribution's name and version (set on discovery)
