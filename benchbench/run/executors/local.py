"""What the two executors that run on this machine share: the device is this machine's, and
jobs run one at a time."""

from __future__ import annotations

from typing import Any


class OnThisMachine:
    """Base of the local executors (process.py, inline.py)."""

    name = "local"
    parallel = False
    remote = False

    def device(self, requested: str) -> str:
        from benchbench.backends.hf.loading import resolve_device

        return resolve_device(requested)

    def describe(self) -> dict[str, Any]:
        return {"executor": "local"}

    def close(self) -> None:
        """Nothing to let go of: each job ends its own worker (process.py) or runs here (inline.py)."""
