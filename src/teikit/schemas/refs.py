"""Which schemas a document names itself: ``<?xml-model?>`` and ``xsi:schemaLocation``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree

SCHEMATYPENS = {
    "http://relaxng.org/ns/structure/1.0": "relaxng",
    "http://www.w3.org/2001/XMLSchema": "xsd",
    "http://purl.oclc.org/dsdl/schematron": "schematron",
    "http://www.ascc.net/xml/schematron": "schematron",
}
#: ``<?xml-model type=...?>`` values that name a schema language by media type.
MEDIA_TYPES = {
    "application/relax-ng-compact-syntax": "rnc",
    "application/xml-dtd": "dtd",
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_PSEUDO_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass(frozen=True, slots=True)
class SchemaRef:
    """A schema to apply: where it is, in which language, and who asked for it.

    ``location`` is a local path or an absolute URL (``https://...``; ``file:`` URLs
    count as local). ``language`` is ``None`` when only the file name can tell.
    """

    location: str
    language: str | None
    origin: str  # "option", "xml-model", "xsi", "config"
    line: int = 0
    phase: str | None = None

    @property
    def is_remote(self) -> bool:
        """True for a URL other than ``file:`` (it must be resolved before use)."""
        return _is_url(self.location) and not self.location.startswith("file:")

    @property
    def path(self) -> Path:
        """The local path (for a ``file:`` URL, its path; for a malformed one, the text)."""
        loc = self.location
        if loc.startswith("file:"):
            return _file_path(loc) or Path(loc)
        return Path(loc)


def _file_path(url: str) -> Path | None:
    """The path of a ``file:`` URL, or None when urllib cannot parse it (``ValueError``)."""
    try:
        return Path(unquote(urlsplit(url).path))
    except ValueError:
        return None


def _is_url(href: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", href) is not None and not re.match(
        r"^[A-Za-z]:[\\/]", href
    )


def _absolute(href: str, base: Path) -> str:
    """A URL stays as it is; anything else is a path relative to ``base``.

    Never raises: a ``file:`` URL urllib cannot parse stays as written, and a path the
    system cannot resolve (a NUL byte) stays unresolved; neither names an existing file,
    which is what the document then hears.
    """
    if href.startswith("file:"):
        path = _file_path(href)
        return href if path is None else str(path)
    if _is_url(href):
        return href
    try:
        return str((base / unquote(href)).resolve())
    except (OSError, RuntimeError, ValueError):
        return str(base / unquote(href))


def xml_model_refs(tree: etree._ElementTree, base: Path) -> list[SchemaRef]:
    """Schemas named by ``<?xml-model?>`` before the root element, relative to ``base``.

    The language comes from ``schematypens`` or ``type`` (RELAX NG compact syntax is
    ``rnc``); ``phase`` is kept for Schematron.
    """
    refs: list[SchemaRef] = []
    node = tree.getroot().getprevious()
    pis: list[etree._Element] = []
    while node is not None:
        if isinstance(node, etree._ProcessingInstruction) and node.target == "xml-model":
            pis.append(node)
        node = node.getprevious()
    for pi in reversed(pis):
        attrs = {
            m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PSEUDO_ATTR.finditer(pi.text or "")
        }
        href = attrs.get("href")
        if not href:
            continue
        language = SCHEMATYPENS.get(attrs.get("schematypens", ""))
        if language is None:
            language = MEDIA_TYPES.get(attrs.get("type", "").strip().lower())
        refs.append(
            SchemaRef(
                _absolute(href, base),
                language,
                "xml-model",
                pi.sourceline or 0,
                attrs.get("phase"),
            )
        )
    return refs


def xsi_refs(tree: etree._ElementTree, base: Path) -> list[SchemaRef]:
    """XSDs named by ``xsi:schemaLocation`` / ``xsi:noNamespaceSchemaLocation`` on the root.

    ``xsi:schemaLocation`` holds namespace/location pairs; every location is returned.
    """
    root = tree.getroot()
    refs: list[SchemaRef] = []
    pairs = (root.get(f"{{{XSI}}}schemaLocation") or "").split()
    locations = pairs[1::2]
    no_ns = root.get(f"{{{XSI}}}noNamespaceSchemaLocation")
    if no_ns and no_ns.strip():
        locations.append(no_ns.strip())
    for href in locations:
        refs.append(SchemaRef(_absolute(href, base), "xsd", "xsi", root.sourceline or 0))
    return refs


def document_refs(tree: etree._ElementTree, base: Path) -> list[SchemaRef]:
    """Every schema the document names: ``<?xml-model?>`` first, then ``xsi`` locations."""
    return xml_model_refs(tree, base) + xsi_refs(tree, base)
