"""Exceptions that cross the library boundary.

Problems *in the input files* are never raised: they become :class:`~teikit.Diagnostic`
values. Exceptions are for problems with how teikit was asked to work (a schema that
cannot be read, an option that makes no sense), which end a run with exit code 2.
"""

from __future__ import annotations

from typing import Any


class TeikitError(Exception):
    """Base class: anything teikit raises on purpose.

    Picklable whatever a subclass's ``__init__`` takes: errors raised in worker processes
    travel back to the parent, and one that cannot be rebuilt there turned a clear
    ``SchemaError`` into a lost one (pickle calls ``cls(*args)``, which a subclass with
    other parameters refuses).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[TeikitError], args: tuple[Any, ...], state: dict[str, Any]) -> TeikitError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class UsageError(TeikitError):
    """The caller asked for something impossible (bad option, missing path)."""


class SchemaError(TeikitError):
    """A schema could not be read or compiled; no file can be checked against it."""


class OutputError(TeikitError):
    """An output cannot be written where it was asked for (a file in the way of a folder,
    no permission, a full disk): the message names the path and the system's reason."""


class InputError(TeikitError):
    """An input cannot be processed at all (used where a Diagnostic has no place)."""


def one_of(what: str, value: object, allowed: tuple[object, ...]) -> None:
    """Refuse an option value outside ``allowed`` (options are checked when made, so that
    a typo is an error rather than a silent default)."""
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise UsageError(f"{what} must be one of {choices}, not {value!r}")
