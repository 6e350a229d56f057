"""Exceptions that carry a message a user can act on.

Every error benchbench raises on purpose says what was wrong, where, and how to fix it;
the CLI prints it without a traceback.
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class BenchbenchError(Exception):
    """Base class: an expected failure with a user-facing message."""


class SuiteError(BenchbenchError):
    """A suite file is invalid. Names the file, the key path and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str = "") -> None:
        self.file, self.key, self.problem, self.fix = file, key, problem, fix
        where = f"{file}: {key}" if key else file
        message = f"{where}: {problem}"
        if fix:
            message += f"\n  fix: {fix}"
        super().__init__(message)


class ExecutorUnavailable(BenchbenchError):
    """The chosen executor cannot run here: its extra is not installed, its cluster cannot be
    reached, or it cannot give the device asked for."""


class ModelUnavailable(BenchbenchError):
    """A model could not be resolved or loaded (no network, bad path, missing package)."""


class DatasetUnavailable(BenchbenchError):
    """A task's dataset could not be loaded or lacks the fields the task needs."""


class TaskConfigError(BenchbenchError):
    """A task cannot run with this model/options combination (e.g. no usable head)."""


class Unsupported(TaskConfigError):
    """The model cannot serve the task at all (an encoder asked for perplexity, a server that
    returns no log-probabilities): recorded as 'unsupported' with the reason, not as an error."""
