"""What the two executors that run on this machine share: the device is this machine's, and
jobs run one at a time."""

from __future__ import annotations

from typing import Any


class OnThisMachine:
    """Base of the local executors (process.py, inline.py)."""

    parallel = False
    remote = False

    def device(self, requested: str) -> str:
        """This machine's: 'auto' is cuda when torch sees a GPU; cuda without one is an error."""
        from benchbench.backends.hf.loading import resolve_device

        return resolve_device(requested)

    def describe(self) -> dict[str, Any]:
        """The run's environment already describes this machine."""
        return {"executor": "local"}

    def close(self) -> None:
        """Nothing to let go of: each job ends its own worker (process.py) or runs here (inline.py)."""
