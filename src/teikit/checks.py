"""Checks every file gets, whatever its schema: identifiers that other tools trip over.

Real files carry ``xml:id`` values copied from templates (``[UUID]``), starting with a
digit, or used twice. Schemas without ``xsd:ID`` (or no schema at all) let them through,
and HTML ids, XPointers and cross-references then break. teikit reports them; the file
still converts.
"""

from __future__ import annotations

import re

from teikit.diagnostics import Diagnostic, Severity
from teikit.loading import Document
from teikit.xmlutil import XML_ID, readable_path

#: XML Namespaces 1.0 NCName (the ASCII core and the common Unicode letters).
_NCNAME = re.compile(r"^[^\W\d][\w.\-·]*$|^_[\w.\-·]*$", re.UNICODE)


def id_findings(doc: Document, duplicates: bool = True) -> list[Diagnostic]:
    """``id.malformed`` (not an NCName) and, unless told not to, ``id.duplicate``."""
    found: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for el in doc.root.iter():
        if not isinstance(el.tag, str):
            continue
        ident = el.get(XML_ID)
        if ident is None:
            continue
        line = el.sourceline or 0
        if not _NCNAME.match(ident) or ":" in ident:
            found.append(
                Diagnostic(
                    doc.display,
                    line,
                    0,
                    Severity.WARNING,
                    "id.malformed",
                    f'xml:id "{ident}" is not a valid XML name (it must start with a letter '
                    "or _ and hold no spaces, colons or brackets)",
                    xpath=readable_path(el),
                )
            )
        if duplicates and ident in seen:
            found.append(
                Diagnostic(
                    doc.display,
                    line,
                    0,
                    Severity.ERROR,
                    "id.duplicate",
                    f'xml:id "{ident}" is already used on line {seen[ident]}',
                    xpath=readable_path(el),
                )
            )
        seen.setdefault(ident, line)
    return found
