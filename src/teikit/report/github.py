"""The ``github`` format: GitHub Actions workflow commands, which become annotations.

One line per finding, ``::error file=F,line=L,col=C,title=CODE::MESSAGE`` (``::warning``,
and ``::notice`` for info), then a plain summary line. Values are escaped as the Actions
runner expects, so a message cannot end the command early or start a new one: in the
message ``%``, CR and LF; in property values also ``:`` and ``,``.
"""

from __future__ import annotations

from typing import TextIO

from teikit.diagnostics import Diagnostic, Severity
from teikit.report._common import summary_line
from teikit.runner import Run

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    """Escape a command's message (the part after ``::``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a property value (``file=``, ``title=`` ...)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(d: Diagnostic) -> str:
    """The workflow command for one finding; line and column are left out when unknown."""
    props = [f"file={escape_property(d.file)}"]
    if d.line > 0:
        props.append(f"line={d.line}")
        if d.column > 0:
            props.append(f"col={d.column}")
    props.append(f"title={escape_property(d.code)}")
    return f"::{_COMMANDS[d.severity]} {','.join(props)}::{escape_data(d.message)}"


def github_report(run: Run, stream: TextIO, colour: bool = False) -> None:
    """One workflow command per finding, then the summary line."""
    for result in run.results:
        for d in result.diagnostics:
            stream.write(command(d) + "\n")
    stream.write(summary_line(run.summary) + "\n")
