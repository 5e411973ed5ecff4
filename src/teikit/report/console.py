"""The ``human`` format: what a person reads in a terminal.

Each finding is ``file:line:col: severity: message [code]`` (editors jump to that), then the
source line with a caret under the column. When more than one file has findings they are
grouped under a ``==> file (counts)`` header. The last line is the summary with the time.
Colour only when the caller asks for it; control characters from the files are shown, not
sent to the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from teikit.diagnostics import Severity
from teikit.report._common import path_safe, severity_counts, summary_line, terminal_safe
from teikit.runner import Run

_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_RESET = "\033[0m"
_BOLD = "\033[1m"
_GUTTER_WIDTH = 6


def _source_line(path: str, line: int, cache: dict[str, list[str] | None]) -> str | None:
    if line <= 0:
        return None  # a finding about the file as a whole: nothing to show (or to open)
    if path not in cache:
        try:
            # Never open what is not a regular file: reading a FIFO blocks forever.
            source = Path(path)
            text = source.read_text("utf-8", errors="replace") if source.is_file() else None
            cache[path] = text.splitlines() if text is not None else None
        except OSError:
            cache[path] = None
    lines = cache[path]
    if lines is None or not 0 < line <= len(lines):
        return None
    return lines[line - 1]


def human(run: Run, stream: TextIO, colour: bool = False) -> None:
    """Findings with source line and caret, grouped by file when several files have any."""
    cache: dict[str, list[str] | None] = {}

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    with_findings = [r for r in run.results if r.diagnostics]
    grouped = len(with_findings) > 1
    for index, result in enumerate(with_findings):
        if grouped:
            if index:
                stream.write("\n")
            header = f"==> {path_safe(result.path)} ({severity_counts(result.diagnostics)})"
            stream.write(paint(header, _BOLD) + "\n")
        for d in result.diagnostics:
            sev = paint(str(d.severity), _COLOURS[d.severity])
            message = terminal_safe(d.message).replace("\n", "\n    ")
            location = paint(path_safe(d.location()), _BOLD)
            stream.write(f"{location}: {sev}: {message} [{terminal_safe(d.code)}]\n")
            source = _source_line(d.file, d.line, cache)
            if source is not None:
                gutter = f"{d.line:>{_GUTTER_WIDTH}} | "
                stream.write(f"{gutter}{terminal_safe(source.expandtabs(1), '?')}\n")
                if d.column > 0:
                    pad = " " * (len(gutter) - 2)
                    stream.write(f"{pad}| {' ' * (d.column - 1)}^\n")
    if grouped:
        stream.write("\n")
    stream.write(summary_line(run.summary) + "\n")
