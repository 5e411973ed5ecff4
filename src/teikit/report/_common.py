"""Helpers the format modules share: counts in words, the summary line, text clean-up."""

from __future__ import annotations

import re
from collections.abc import Iterable

from teikit.diagnostics import Diagnostic, Severity, Summary

#: Characters XML 1.0 does not allow anywhere (C0 controls other than tab, LF and CR;
#: lone surrogates; U+FFFE and U+FFFF).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: Controls a terminal may act on (C0 except tab and newline, DEL, C1 such as CSI).
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plural(count: int, word: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(summary: Summary) -> str:
    """The closing line of the plain-text formats (no trailing newline)."""
    verdict = "valid" if summary.failed_files == 0 else f"{summary.failed_files} with errors"
    infos = f", {plural(summary.infos, 'info')}" if summary.infos else ""
    return (
        f"{plural(summary.files, 'file')} checked, {verdict}: "
        f"{plural(summary.errors, 'error')}, {plural(summary.warnings, 'warning')}{infos} "
        f"in {summary.seconds:.2f} s"
    )


def severity_counts(diagnostics: Iterable[Diagnostic]) -> str:
    """``2 errors, 1 warning`` for the severities present (``no findings`` when none)."""
    diags = list(diagnostics)
    parts = [
        plural(sum(1 for d in diags if d.severity is sev), str(sev))
        for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        if any(d.severity is sev for d in diags)
    ]
    return ", ".join(parts) or "no findings"


def xml_safe(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry, even escaped."""
    return _XML_ILLEGAL.sub("", text)


def terminal_safe(text: str, replacement: str | None = None) -> str:
    """Make control characters visible (``\\x1b``) so a file cannot drive the terminal.

    With ``replacement`` each one becomes that string instead (keeps columns aligned).
    """
    if replacement is not None:
        return _TERMINAL_CONTROLS.sub(replacement, text)
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def path_safe(path: str) -> str:
    """A file name on one line: :func:`terminal_safe`, and a newline in the name shown as
    ``\\n``, so that ``path:line:col:`` stays one line for whoever reads the report."""
    return terminal_safe(path).replace("\n", "\\n")


def finding_line(d: Diagnostic) -> str:
    """``path:line:col: severity [code] message``, the one-line form used inside reports."""
    return f"{d.location()}: {d.severity} [{d.code}] {d.message}"
