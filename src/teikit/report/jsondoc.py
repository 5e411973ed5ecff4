"""The ``json`` format: one document with every file, every finding and the counts."""

from __future__ import annotations

import json
from typing import TextIO

from teikit.diagnostics import Diagnostic
from teikit.runner import Run


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
