"""Backends by name: what runs a suite model (its ``backend:`` key).

BACKENDS lists the built-in ones. Installed packages add theirs through the entry point
group ``benchbench.backends`` (docs/backends.md); their names are read the first time a
name is not built in, and a plugin is imported only when a suite names it or `benchbench
list` shows them all. A broken plugin is one line naming its package, never a traceback.
An engine (torch, an HTTP client) is imported only when a model of its backend is opened.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import pkgutil

from benchbench.backends.api.keys import SERVED_KEYS, served_spec
from benchbench.backends.base import CAPABILITIES, GENERATE, LOGLIKELIHOOD, ModelBackend
from benchbench.backends.entry import BackendEntry
from benchbench.backends.hf.keys import CHECKPOINT_KEYS, checkpoint_spec
from benchbench.errors import BenchbenchError, ModelUnavailable, first_line
from benchbench.spec import ModelSpec, Runtime

GROUP = "benchbench.backends"

BACKENDS: dict[str, BackendEntry] = {
    "hf": BackendEntry(
        description="transformers: a hub id, local folder, .gguf file or packaged model, loaded on this machine",
        keys=CHECKPOINT_KEYS, spec=checkpoint_spec,  # -> spec.CheckpointSpec
        factory="benchbench.backends.hf.backend:HFBackend",
        capabilities=frozenset(CAPABILITIES)),
    "api": BackendEntry(
        description="a model behind an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp's server, hosted APIs)",
        keys=SERVED_KEYS, spec=served_spec,  # -> spec.ApiSpec
        factory="benchbench.backends.api.backend:ApiBackend",
        capabilities=frozenset({GENERATE, LOGLIKELIHOOD})),
}


class PluginBroken(BenchbenchError):
    """An installed backend plugin that cannot be used; the message is one line naming its package."""


@functools.cache
def _plugins() -> tuple[dict[str, importlib.metadata.EntryPoint], tuple[str, ...]]:
    """The installed plugins' entry points by backend name (none imported yet), and a line for
    each one left out: a built-in name cannot be taken over, and of two plugins with one name
    the first found is kept."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    left_out = []
    for point in importlib.metadata.entry_points(group=GROUP):
        if point.name in BACKENDS or point.name in found:
            holder = "a built-in backend" if point.name in BACKENDS else _package(found[point.name])
            left_out.append(f"backend {point.name!r} from {_package(point)} is left out: {holder} has that name; "
                            f"rename the entry point in {_package(point)}")
        else:
            found[point.name] = point
    return found, tuple(left_out)


def _package(point: importlib.metadata.EntryPoint) -> str:
    return f"{point.dist.name} {point.dist.version}" if point.dist else f"the package providing {point.value}"


def backend_names() -> list[str]:
    """Every backend a suite may name: the built-in ones, then the installed plugins'."""
    return [*BACKENDS, *_plugins()[0]]


def backend_entry(name: str) -> BackendEntry:
    """The entry of a backend named in backend_names(). Raises PluginBroken."""
    return BACKENDS[name] if name in BACKENDS else _load_plugin(name)


@functools.cache
def _load_plugin(name: str) -> BackendEntry:
    point = _plugins()[0][name]
    package = _package(point)
    try:
        entry = point.load()
    except Exception as exc:  # noqa: BLE001 - any failure of a third party's import is reported as one line
        raise PluginBroken(f"backend {name!r} from {package} cannot be loaded ({point.value}: "
                           f"{type(exc).__name__}: {first_line(exc)}); reinstall or uninstall {package}") from None
    if not isinstance(entry, BackendEntry):
        raise PluginBroken(f"backend {name!r} from {package}: {point.value} is a {type(entry).__name__}, not a "
                           f"benchbench.backends.entry.BackendEntry; reinstall or uninstall {package}")
    return dataclasses.replace(entry, origin=package)


def installed_backends() -> tuple[dict[str, BackendEntry], list[str]]:
    """Every backend that can be used, and one line for each installed plugin that cannot."""
    usable, broken = {}, list(_plugins()[1])
    for name in backend_names():
        try:
            usable[name] = backend_entry(name)
        except PluginBroken as exc:
            broken.append(str(exc))
    return usable, broken


def open_backend(model: ModelSpec, runtime: Runtime, device: str) -> ModelBackend:
    """The backend of a suite model, its engine imported now. Raises ModelUnavailable when the
    engine cannot be imported, or the model cannot be found or read."""
    try:
        entry = backend_entry(model.backend)
        factory = pkgutil.resolve_name(entry.factory)
    except PluginBroken as exc:
        raise ModelUnavailable(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - an engine that cannot be imported (a missing package) is one line
        raise ModelUnavailable(f"the {model.backend} backend's engine {entry.factory} ({entry.origin}) cannot be "
                               f"imported: {type(exc).__name__}: {first_line(exc)}") from None
    return factory(model, runtime, device)
