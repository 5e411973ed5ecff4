"""Reporters: a name -> function registry that also feeds the CLI's ``--format`` choices.

A reporter writes a finished :class:`~teikit.runner.Run` to a stream it is given; it
never decides the exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from teikit.diagnostics import Diagnostic, Severity
from teikit.runner import Run

Reporter = Callable[[Run, TextIO, bool], None]

_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_RESET = "\033[0m"
_BOLD = "\033[1m"


def _source_line(path: str, line: int, cache: dict[str, list[str] | None]) -> str | None:
    if path not in cache:
        try:
            cache[path] = Path(path).read_text("utf-8", errors="replace").splitlines()
        except OSError:
            cache[path] = None
    lines = cache[path]
    if lines is None or not 0 < line <= len(lines):
        return None
    return lines[line - 1]


def human(run: Run, stream: TextIO, colour: bool = False) -> None:
    """Grouped by file; each finding with its source line and a caret under the column."""
    cache: dict[str, list[str] | None] = {}

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    for result in run.results:
        for d in result.diagnostics:
            sev = paint(str(d.severity), _COLOURS[d.severity])
            stream.write(f"{paint(d.location(), _BOLD)}: {sev}: {d.message} [{d.code}]\n")
            source = _source_line(d.file, d.line, cache)
            if source is not None:
                gutter = f"{d.line:>6} | "
                stream.write(f"{gutter}{source.expandtabs(1)}\n")
                if d.column > 0:
                    stream.write(" " * (len(gutter) - 2) + "| " + " " * (d.column - 1) + "^\n")
    s = run.summary
    verdict = "valid" if s.failed_files == 0 else f"{s.failed_files} with errors"
    stream.write(
        f"{s.files} file{'s' if s.files != 1 else ''} checked, {verdict}: "
        f"{s.errors} error{'s' if s.errors != 1 else ''}, "
        f"{s.warnings} warning{'s' if s.warnings != 1 else ''} in {s.seconds:.2f} s\n"
    )


def diagnostic_dict(d: Diagnostic) -> dict[str, object]:
    """The JSON shape of one diagnostic (stable keys; documented in the README)."""
    return {
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "severity": str(d.severity),
        "code": d.code,
        "message": d.message,
        "xpath": d.xpath,
        "schema": d.schema,
    }


def json_report(run: Run, stream: TextIO, colour: bool = False) -> None:
    """One JSON document: ``{"version": 1, "files": [...], "summary": {...}}``."""
    s = run.summary
    payload = {
        "version": 1,
        "files": [
            {
                "path": r.path,
                "valid": not r.failed(),
                "diagnostics": [diagnostic_dict(d) for d in r.diagnostics],
            }
            for r in run.results
        ],
        "summary": {
            "files": s.files,
            "failed_files": s.failed_files,
            "errors": s.errors,
            "warnings": s.warnings,
            "infos": s.infos,
            "seconds": round(s.seconds, 3),
        },
    }
    json.dump(payload, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


REPORTERS: dict[str, Reporter] = {"human": human, "json": json_report}
