"""Ctrl-C (SIGINT) and a scheduler's preemption (SIGTERM) stop a run cleanly.

The first signal raises :class:`RunInterrupted` in the driver: the model's process is
terminated, the run is recorded as interrupted, and the results in flight keep their stored
predictions for the next run to resume. A second signal during that cleanup ends the process
at once. Model processes ignore SIGINT (a terminal sends it to the whole process group):
their driver stops them.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Any, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(BaseException):
    """A stop signal arrived. A BaseException, so no per-task `except Exception` takes it for
    a task's failure."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as shells report them


@contextmanager
def stop_cleanly() -> Iterator[None]:
    """Within the block, the first stop signal raises RunInterrupted; a second exits now."""
    def force(signum: int, frame: Any) -> None:
        os._exit(128 + signum)

    def interrupt(signum: int, frame: Any) -> None:
        for each in STOP_SIGNALS:
            signal.signal(each, force)
        raise RunInterrupted(signum)

    previous = {each: signal.signal(each, interrupt) for each in STOP_SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def ignore_interrupts() -> None:
    """In a model process: Ctrl-C is for the driver, which stops this process itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
