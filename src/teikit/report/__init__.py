"""Reporters: a name -> function registry that also feeds the CLI's ``--format`` choices.

A reporter writes a finished :class:`~teikit.runner.Run` to a stream it is given; it
never decides the exit code. One module per format:

- ``human`` (:mod:`.console`): findings with source line and caret, for people;
- ``json`` (:mod:`.jsondoc`): one JSON document with every finding and the counts;
- ``junit`` (:mod:`.junit`): JUnit XML, one test case per file (GitLab, Jenkins);
- ``github`` (:mod:`.github`): GitHub Actions workflow commands, which become annotations;
- ``sarif`` (:mod:`.sarif`): SARIF 2.1.0 for code-scanning dashboards.

``auto`` is not a reporter but a choice resolved by :func:`resolve_format`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TextIO

from teikit.report.console import human
from teikit.report.github import github_report
from teikit.report.jsondoc import diagnostic_dict, json_report
from teikit.report.junit import junit_report
from teikit.report.sarif import sarif_report
from teikit.runner import Run

Reporter = Callable[[Run, TextIO, bool], None]

REPORTERS: dict[str, Reporter] = {
    "human": human,
    "json": json_report,
    "junit": junit_report,
    "github": github_report,
    "sarif": sarif_report,
}

#: The pseudo-format that picks a reporter from the environment.
AUTO = "auto"


def resolve_format(name: str, env: Mapping[str, str]) -> str:
    """The reporter name for ``name``: ``auto`` is ``github`` inside GitHub Actions, else ``human``.

    Any other name is returned as it is when it is a reporter; an unknown one is a
    ``ValueError``.
    """
    if name == AUTO:
        return "github" if env.get("GITHUB_ACTIONS") == "true" else "human"
    if name not in REPORTERS:
        known = ", ".join([*sorted(REPORTERS), AUTO])
        raise ValueError(f"unknown report format {name!r} (expected one of {known})")
    return name


__all__ = [
    "AUTO",
    "REPORTERS",
    "Reporter",
    "diagnostic_dict",
    "github_report",
    "human",
    "json_report",
    "junit_report",
    "resolve_format",
    "sarif_report",
]
