"""Whether a location in a suite is a local path or a hub id: one rule for models and datasets."""

from __future__ import annotations

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
