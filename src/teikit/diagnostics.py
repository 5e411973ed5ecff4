"""One result type for every engine, so reporters and exit codes need no special cases."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered so that ``max()`` over diagnostics gives the worst one."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Accept the lower-case names used on the command line and in reports."""
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of {names})") from None


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """A finding at one place in one file.

    ``line`` and ``column`` are 1-based; 0 means the engine could not tell. ``code`` is
    stable across releases (``xml.syntax``, ``rng.invalid``, ``sch.assert`` ...) so that
    CI configurations can filter on it; ``message`` is for people and may change.
    """

    file: str
    line: int
    column: int
    severity: Severity = field(compare=False)
    code: str
    message: str
    xpath: str | None = field(default=None, compare=False)
    schema: str | None = field(default=None, compare=False)

    def location(self) -> str:
        """``file:line:column`` as editors and compilers print it."""
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class FileResult:
    """Everything one file produced; a file that failed to parse is a result too."""

    path: str
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def worst(self) -> Severity | None:
        return max((d.severity for d in self.diagnostics), default=None)

    def failed(self, threshold: Severity = Severity.ERROR) -> bool:
        """True when a diagnostic at or above ``threshold`` was found."""
        worst = self.worst
        return worst is not None and worst >= threshold


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts a reporter prints last and the CLI turns into an exit code."""

    files: int
    failed_files: int
    errors: int
    warnings: int
    infos: int
    seconds: float

    @classmethod
    def of(
        cls,
        results: Sequence[FileResult],
        seconds: float,
        threshold: Severity = Severity.ERROR,
    ) -> Summary:
        diags = [d for r in results for d in r.diagnostics]
        return cls(
            files=len(results),
            failed_files=sum(1 for r in results if r.failed(threshold)),
            errors=_count(diags, Severity.ERROR),
            warnings=_count(diags, Severity.WARNING),
            infos=_count(diags, Severity.INFO),
            seconds=seconds,
        )


def _count(diags: Iterable[Diagnostic], severity: Severity) -> int:
    return sum(1 for d in diags if d.severity is severity)
