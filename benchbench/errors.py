"""Exceptions that carry a message a user can act on.

Every error benchbench raises on purpose says what was wrong, where, and how to fix it;
the CLI prints it without a traceback.
"""

from __future__ import annotations

import reprlib

READABLE_CHARS = 1000  # a reason shown on the terminal or stored with a result
SHOWN_VALUE_CHARS = 80  # a value quoted inside a reason


def readable(text: str, limit: int = READABLE_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was cut: a reason must stay readable
    even when it quotes a megabyte of input (a prompt, a value)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxstring, _SHORT_REPR.maxother = 3, SHOWN_VALUE_CHARS, SHOWN_VALUE_CHARS


def shown(value: object) -> str:
    """`repr(value)` for a message, a few dozen characters at most: long strings and lists are
    cut without writing them out whole (a value may be a megabyte, or an alias bomb)."""
    return readable(_SHORT_REPR.repr(value), SHOWN_VALUE_CHARS)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty), cut
    to a readable length."""
    return readable((str(exc).strip().splitlines() or [type(exc).__name__])[0])


class BenchbenchError(Exception):
    """Base class: an expected failure with a user-facing message (cut to a readable length)."""

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(readable(str(message)), *args)


class SuiteError(BenchbenchError):
    """A suite file is invalid. Names the file, the key path and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str = "") -> None:
        self.file, self.key, self.problem, self.fix = file, key, readable(problem), readable(fix)
        where = f"{file}: {key}" if key else file
        message = f"{where}: {self.problem}"
        if fix:
            message += f"\n  fix: {self.fix}"
        Exception.__init__(self, message)  # each part is cut already, so the fix line stays


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
