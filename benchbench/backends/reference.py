"""What a model `source` string refers to: a hub id, a local folder, a .gguf file, or a
packaged model. Kept apart from loading so that suite validation needs no torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchbench.errors import SuiteError
from benchbench.paths import local_path
from benchbench.schema import did_you_mean

PACKAGED_PREFIX = "packaged:"


@dataclass(frozen=True)
class ModelLocation:
    """Where from_pretrained should look: a folder/hub id, plus the gguf file inside it."""

    kind: str  # "hub" | "folder" | "gguf" | "packaged"
    pretrained: str
    gguf_file: str | None = None
    original_gguf: str | None = None  # set when a GGUF file was converted to `pretrained`


def resolve_source_path(source: str, base: Path, file: str, key: str) -> str:
    """Make a local source absolute against the suite folder; check it exists.

    Anything that does not look like a path (``org/name``) is kept as a hub id.
    """
    if source.startswith(PACKAGED_PREFIX):
        from benchbench.backends.packaged import PACKAGED_MODELS

        name = source[len(PACKAGED_PREFIX):]
        if name not in PACKAGED_MODELS:
            raise SuiteError(file, key, f"no packaged model named {name!r}",
                             did_you_mean(name, list(PACKAGED_MODELS), "packaged models"))
        return source
    candidate = local_path(source, base, (".gguf",))
    if candidate is None:
        return source
    if not candidate.exists():
        raise SuiteError(file, key, f"local model path {str(candidate)!r} does not exist",
                         "paths are relative to the suite file's folder; a hub id looks like org/name")
    return str(candidate.resolve())


def locate(source: str, gguf_file: str | None = None) -> ModelLocation:
    """Turn a (validated) source into what from_pretrained needs."""
    if source.startswith(PACKAGED_PREFIX):
        from benchbench.backends.packaged import locate_packaged

        path = locate_packaged(source[len(PACKAGED_PREFIX):])
        if path.suffix == ".gguf":
            return ModelLocation("packaged", str(path.parent), path.name)
        return ModelLocation("packaged", str(path), gguf_file)
    path = Path(source)
    if path.suffix == ".gguf" and path.is_file():
        return ModelLocation("gguf", str(path.parent), path.name)
    if path.is_absolute():
        return ModelLocation("gguf" if gguf_file else "folder", source, gguf_file)
    return ModelLocation("hub", source, gguf_file)
