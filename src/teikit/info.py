"""What a file is: the questions an editor asks before opening it.

``describe`` reads a parsed document once and counts what matters for TEI work; it also
says plainly when a file is not TEI P5 (TEI P4, TEI without its namespace, other XML).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from teikit.diagnostics import Diagnostic
from teikit.discovery import discover_files
from teikit.loading import Document, LoadOptions, load
from teikit.schemas import xml_model_refs
from teikit.xmlutil import TEI_NS, XML_LANG, element_name, tei

TEI_P4_ROOTS = {"TEI.2", "teiCorpus.2"}
_NAMES = {"persName", "orgName", "placeName", "name", "rs", "geogName"}


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A summary of one file; ``kind`` is ``tei``, ``tei-corpus``, ``tei-fragment``,
    ``tei-p4``, ``tei-no-namespace`` or ``xml``."""

    path: str
    kind: str
    root: str
    description: str
    tei_version: str | None
    schemas: tuple[str, ...]
    languages: dict[str, int]
    elements: int
    counts: dict[str, int]
    top_elements: tuple[tuple[str, int], ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the ``--format json`` of ``teikit info``)."""
        return {
            "path": self.path,
            "kind": self.kind,
            "root": self.root,
            "description": self.description,
            "tei_version": self.tei_version,
            "schemas": list(self.schemas),
            "languages": self.languages,
            "elements": self.elements,
            "counts": self.counts,
            "top_elements": [{"name": n, "count": c} for n, c in self.top_elements],
            "diagnostics": [
                {"line": d.line, "column": d.column, "code": d.code, "message": d.message}
                for d in self.diagnostics
            ],
        }


def classify(root: etree._Element) -> tuple[str, str]:
    """(kind, description) of a document from its root element."""
    tag = root.tag if isinstance(root.tag, str) else ""
    qn = etree.QName(tag) if tag else None
    local = qn.localname if qn else ""
    ns = qn.namespace if qn else None
    if ns == TEI_NS:
        if local == "TEI":
            return "tei", "a TEI P5 document"
        if local == "teiCorpus":
            return "tei-corpus", "a TEI P5 corpus (teiCorpus)"
        return "tei-fragment", f"a lone TEI P5 <{local}> element, not a whole TEI document"
    if ns is None and local in TEI_P4_ROOTS:
        return "tei-p4", f"a TEI P4 document (<{local}>, no namespace); TEI P5 tools expect <TEI>"
    if ns is None and local in {"TEI", "teiCorpus"}:
        return (
            "tei-no-namespace",
            f"TEI without its namespace (<{local}> should be in {TEI_NS})",
        )
    shown = f"{{{ns}}}{local}" if ns else local
    return "xml", f"not TEI: the root element is <{shown}>"


def describe(doc: Document) -> FileInfo:
    """Count what a TEI editor wants to know; works on any XML."""
    root = doc.root
    kind, description = classify(root)
    tags: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    total = 0
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        total += 1
        tags[element_name(el)] += 1
        lang = el.get(XML_LANG)
        if lang:
            langs[lang] += 1
    in_tei = kind.startswith("tei") and kind not in {"tei-p4", "tei-no-namespace"}
    in_text: Counter[str] = Counter(
        element_name(el)
        for text in root.iter(tei("text"))
        for el in text.iter()
        if isinstance(el.tag, str)
    )
    if kind == "tei-fragment":
        in_text = tags
    counts = (
        {
            "notes": in_text["note"],
            "names": sum(in_text[n] for n in _NAMES),
            "persons": tags["person"] + tags["personGrp"],
            "places": tags["place"],
            "organizations": tags["org"],
            "dates": in_text["date"],
            "pages": tags["pb"],
            "divisions": sum(c for n, c in tags.items() if n == "div" or n[:3] == "div"),
            "paragraphs": in_text["p"],
            "xincludes": tags["xi:include"],
        }
        if in_tei
        else {}
    )
    schemas = tuple(r.location for r in xml_model_refs(doc.tree, doc.path.resolve().parent))
    version = root.get("version") or _version_hint(schemas)
    return FileInfo(
        path=doc.display,
        kind=kind,
        root=element_name(root),
        description=description,
        tei_version=version,
        schemas=schemas,
        languages=dict(langs.most_common()),
        elements=total,
        counts=counts,
        top_elements=tuple(tags.most_common(10)),
    )


_VERSION_IN_URL = re.compile(r"/(?:P5/)?Version/(\d+(?:\.\d+)*)/|/release/")


def _version_hint(schemas: tuple[str, ...]) -> str | None:
    """A TEI version named by a schema URL (``.../Version/4.4.0/...``; ``release`` = current)."""
    for location in schemas:
        m = _VERSION_IN_URL.search(location)
        if m:
            return m.group(1) or "current release (named by a /release/ URL)"
    return None


def info(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    options: LoadOptions | None = None,
) -> list[FileInfo]:
    """Describe every XML file under ``paths`` (one path or several); an unreadable file
    is described as such."""
    out: list[FileInfo] = []
    found = discover_files([paths] if isinstance(paths, (str, os.PathLike)) else list(paths))
    for path in found.files:
        loaded = load(path, options or LoadOptions())
        if loaded.document is None:
            out.append(_unreadable(path, loaded.diagnostics))
            continue
        described = describe(loaded.document)
        if loaded.diagnostics:
            described = dataclasses.replace(described, diagnostics=loaded.diagnostics)
        out.append(described)
    # Dangling links and unreadable folders met on the way are files that cannot be read.
    for problem in found.problems:
        out.append(_unreadable(Path(problem.file), (problem,)))
    return out


def _unreadable(path: Path, diags: tuple[Diagnostic, ...]) -> FileInfo:
    first = diags[0] if diags else None
    return FileInfo(
        path=first.file if first else str(path),
        kind="unreadable",
        root="",
        description=first.message if first else "cannot be read",
        tei_version=None,
        schemas=(),
        languages={},
        elements=0,
        counts={},
        top_elements=(),
        diagnostics=diags,
    )


def format_info(fi: FileInfo) -> str:
    """The human-readable block ``teikit info`` prints for one file."""
    lines = [f"{fi.path}: {fi.description}"]
    if fi.tei_version:
        lines.append(f"  TEI version: {fi.tei_version}")
    for schema in fi.schemas:
        lines.append(f"  schema: {schema}")
    if fi.languages:
        lines.append("  languages: " + ", ".join(f"{k} ({v})" for k, v in fi.languages.items()))
    if fi.elements:
        lines.append(f"  elements: {fi.elements:,}")
    if fi.counts:
        lines.append("  " + ", ".join(f"{k}: {v:,}" for k, v in fi.counts.items() if v))
    for d in fi.diagnostics:
        lines.append(f"  {d.code} at {d.line}:{d.column}: {d.message}")
    return "\n".join(lines) + "\n"
