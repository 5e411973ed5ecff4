"""The ``sarif`` format: SARIF 2.1.0, which GitHub code scanning and other dashboards read.

One run whose driver lists a rule per finding code, and one result per finding with a
location (a relative POSIX path under ``%SRCROOT%``, or a ``file:`` URI for an absolute path),
a region when the line is known, and a partial fingerprint that stays the same while the
file, code, line and message do, so dashboards can follow a finding across runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from teikit.diagnostics import Diagnostic, Severity
from teikit.runner import Run

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "teikit/v1"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

#: Short descriptions of the codes teikit reports; unknown codes get a generic one.
RULE_DESCRIPTIONS = {
    "io.not-a-file": "The path is not a regular file.",
    "io.too-large": "The file is larger than the configured limit.",
    "io.unreadable": "The file could not be read.",
    "xml.empty": "The file is empty.",
    "xml.syntax": "The file is not well-formed XML.",
    "xml.external-dtd": "An external DTD is referenced and was not loaded.",
    "xml.external-entity": "An external or undeclared entity was not expanded.",
    "schema.unavailable": "A schema the file names cannot be had.",
    "schema.unusable": "A schema the file names could not be compiled.",
    "rng.invalid": "The document is not valid against a RELAX NG schema.",
    "xsd.invalid": "The document is not valid against an XML Schema (XSD).",
    "sch.assert": "A Schematron assertion failed.",
    "sch.report": "A Schematron report fired.",
    "sch.error": "A Schematron rule could not be evaluated.",
    "ref.unresolved": "A pointer does not resolve to anything.",
}


def _tool_version() -> str:
    import importlib.metadata  # here, not at the top: it costs every command 20 ms to import

    try:
        return importlib.metadata.version("teikit")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _information_uri() -> str | None:
    """The project's home page from its metadata; None (omitted) rather than a guessed URL."""
    import importlib.metadata

    try:
        urls = importlib.metadata.metadata("teikit").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        urls = []
    by_label: dict[str, str] = {}
    for entry in urls:
        label, _, url = entry.partition(",")
        by_label[label.strip().lower()] = url.strip()
    for label in ("homepage", "home", "source", "repository", "documentation"):
        if by_label.get(label):
            return by_label[label]
    return None


def artifact_location(path: str) -> dict[str, str]:
    """A relative path becomes a percent-encoded POSIX URI under ``%SRCROOT%``."""
    p = Path(path)
    if p.is_absolute():
        return {"uri": p.as_uri()}
    return {"uri": quote(p.as_posix(), safe="/"), "uriBaseId": SRCROOT}


def fingerprint(d: Diagnostic) -> str:
    """A hash of (file, code, line, message): stable across runs and machines."""
    key = json.dumps([d.file, d.code, d.line, d.message], ensure_ascii=True)
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def _result(d: Diagnostic, rule_index: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact_location(d.file)}
    if d.line > 0:
        region: dict[str, int] = {"startLine": d.line}
        if d.column > 0:
            region["startColumn"] = d.column
        physical["region"] = region
    return {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": _LEVELS[d.severity],
        "message": {"text": d.message},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(d)},
    }


def sarif_log(run: Run) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    diags = [d for r in run.results for d in r.diagnostics]
    codes = sorted({d.code for d in diags})
    index = {code: i for i, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "shortDescription": {"text": RULE_DESCRIPTIONS.get(code, f"teikit finding {code}.")},
        }
        for code in codes
    ]
    driver: dict[str, Any] = {"name": "teikit", "version": _tool_version(), "rules": rules}
    uri = _information_uri()
    if uri:
        driver["informationUri"] = uri
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "columnKind": "unicodeCodePoints",
                "results": [_result(d, index[d.code]) for d in diags],
            }
        ],
    }


def sarif_report(run: Run, stream: TextIO, colour: bool = False) -> None:
    """SARIF 2.1.0 JSON (ASCII-only, so it is correct whatever the stream's encoding)."""
    json.dump(sarif_log(run), stream, ensure_ascii=True, indent=2)
    stream.write("\n")
