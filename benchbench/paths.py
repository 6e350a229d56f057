"""Whether a location in a suite is a local path or a hub id: one rule for models and datasets;
and how a local path is recorded so that a moved checkout still matches it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def local_path(location: str, base: Path, suffixes: Iterable[str] = ()) -> Path | None:
    """The path `location` names relative to `base` (the suite's folder), or None when it
    reads as a hub id. Local: it starts with '.', '/' or '~', ends in one of `suffixes`
    (file types only a local file has), or exists under `base`. ``org/name`` that exists
    nowhere is a hub id."""
    candidate = (base / location).expanduser()
    if location.startswith((".", "/", "~")) or Path(location).suffix in set(suffixes) or candidate.exists():
        return candidate
    return None


def portable(location: str | None, suite_folder: Path | None) -> str | None:
    """A local path relative to the suite's folder; hub ids and packaged: names as they are."""
    if location is None or suite_folder is None or not Path(location).is_absolute():
        return location
    return os.path.relpath(location, suite_folder)
