"""The echo backend's registration: its suite keys, its typed spec and where its engine is.
This module is imported to read the entry (validation, `benchbench list`); the engine only
when a model of this backend is opened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchbench.backends.base import GENERATE
from benchbench.backends.entry import BackendEntry, SuitePlace
from benchbench.schema import key


@dataclass(frozen=True)
class EchoSpec:
    prefix: str = ""
    remote: ClassVar[bool] = False

    def label(self) -> str:
        return f"echo:{self.prefix}"

    def identity(self, dtype: str, suite_folder: Path | None) -> dict[str, Any]:
        return {"echo": {"prefix": self.prefix}}


def echo_spec(values: dict[str, Any], place: SuitePlace) -> EchoSpec:
    if "\n" in values["prefix"]:
        raise place.error("prefix", "the prefix has a line break, which the stop sequences would cut at",
                          "keep the prefix on one line")
    return EchoSpec(values["prefix"])


BACKEND = BackendEntry(
    description="answers with the text after the prompt's last ': ' (a test double)",
    keys={"prefix": key(str, "", help="text put before every answer")},
    spec=echo_spec,
    factory="benchbench_echo.engine:EchoBackend",
    capabilities=frozenset({GENERATE}),
)
