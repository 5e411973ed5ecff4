"""OASIS XML Catalogs 1.1: the parts TEI users need to map schema URLs to local copies.

Supported: ``uri``, ``rewriteURI``, ``uriSuffix`` (URI resolution); ``system``,
``rewriteSystem``, ``systemSuffix`` (system identifiers); ``group``; ``nextCatalog``;
``xml:base`` on any element. Not supported (ignored): ``public``, ``delegate*``, and
``urn:publicid:`` unwrapping. Catalog files are read with teikit's hardened parser, which
answers every request for an external DTD or entity with nothing: the usual
``<!DOCTYPE catalog PUBLIC "-//OASIS//DTD ... XML Catalog V1.0//EN" "http://...">`` is
ignored, never fetched or read. A ``nextCatalog`` that is missing, remote or malformed is
treated as an empty catalog, as the specification asks (section 8).

Resolution follows section 7: the catalog entry files are consulted in order; within one
file an exact entry wins, then the rewrite entry with the longest matching prefix, then the
suffix entry with the longest matching suffix; a file's ``nextCatalog`` entries are
consulted right after it, before the following file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from teikit.errors import UsageError
from teikit.loading import make_parser

CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
#: Characters the spec (section 6.3) says to percent-encode before comparing.
_ENCODE = set('"<>\\^`{|}')


def normalize(uri: str) -> str:
    """Normalise a URI or system identifier for comparison (OASIS XML Catalogs 6.3)."""
    out: list[str] = []
    for ch in uri:
        code = ord(ch)
        if code <= 0x20 or code >= 0x7F or ch in _ENCODE:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


@dataclass(slots=True)
class EntryFile:
    """The entries of one catalog entry file, in document order, with absolute targets."""

    url: str
    uri: dict[str, str] = field(default_factory=dict)
    rewrite_uri: list[tuple[str, str]] = field(default_factory=list)
    uri_suffix: list[tuple[str, str]] = field(default_factory=list)
    system: dict[str, str] = field(default_factory=dict)
    rewrite_system: list[tuple[str, str]] = field(default_factory=list)
    system_suffix: list[tuple[str, str]] = field(default_factory=list)
    next_catalogs: list[str] = field(default_factory=list)

    def match(self, kind: str, key: str) -> str | None:
        """Step 2-4 of section 7 for one file: exact, longest rewrite, longest suffix."""
        exact = self.uri if kind == "uri" else self.system
        rewrites = self.rewrite_uri if kind == "uri" else self.rewrite_system
        suffixes = self.uri_suffix if kind == "uri" else self.system_suffix
        if key in exact:
            return exact[key]
        best: tuple[str, str] | None = None
        for start, prefix in rewrites:
            if key.startswith(start) and (best is None or len(start) > len(best[0])):
                best = (start, prefix)
        if best is not None:
            return best[1] + key[len(best[0]) :]
        found: tuple[str, str] | None = None
        for suffix, target in suffixes:
            if key.endswith(suffix) and (found is None or len(suffix) > len(found[0])):
                found = (suffix, target)
        return found[1] if found is not None else None


def _file_url(path: Path) -> str:
    return path.resolve().as_uri()


def _local(url: str) -> Path | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None  # not a URL a file can be read from
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return None


def _parse(path: Path, url: str) -> etree._Element:
    """The catalog's root, its DOCTYPE ignored.

    Read by teikit and parsed from memory: a parser whose resolver refuses everything
    would refuse the file itself if libxml2 opened it, and without that resolver libxml2
    loads the DTD a catalog names (through its own catalogs, ``XML_CATALOG_FILES``
    included), which fails offline or on the DTD's parameter entities.
    """
    return etree.fromstring(path.read_bytes(), make_parser(refuse_external=True), base_url=url)


def read_entry_file(url: str, *, required: bool) -> EntryFile | None:
    """Parse one catalog file (a ``file:`` URL); None for a tolerated failure."""
    path = _local(url)
    if path is None or not path.is_file():
        if required:
            raise UsageError(f"catalog {path or url}: no such file")
        return None
    try:
        root = _parse(path, url)
    except OSError as exc:
        if required:
            raise UsageError(f"catalog {path}: cannot read ({exc.strerror or exc})") from None
        return None
    except (etree.XMLSyntaxError, ValueError) as exc:
        if required:
            raise UsageError(f"catalog {path}: not well-formed XML: {exc}") from None
        return None
    if root.tag != f"{{{CATALOG_NS}}}catalog":
        if required:
            raise UsageError(
                f"catalog {path}: root element is {root.tag!r}, expected {{{CATALOG_NS}}}catalog"
            )
        return None
    entries = EntryFile(url)
    try:
        _collect(root, url, entries)
    except _BadURL as exc:
        if required:
            raise UsageError(f"catalog {path}: {exc}") from None
        return None
    return entries


class _BadURL(ValueError):
    """A catalog entry names a URL urllib cannot parse (its message says which)."""


def _join(base: str, ref: str, elem: etree._Element) -> str:
    """``ref`` made absolute against ``base``; :class:`_BadURL` if either is malformed."""
    try:
        joined = urljoin(base, ref)
        _ = urlsplit(joined).port
    except ValueError as exc:
        line = f"line {elem.sourceline}: " if elem.sourceline else ""
        raise _BadURL(
            f"{line}<{etree.QName(elem).localname}> names {ref!r}, a malformed URL ({exc})"
        ) from None
    return joined


def _collect(elem: etree._Element, base: str, out: EntryFile) -> None:
    own = elem.get(_XML_BASE)
    if own is not None:
        base = _join(base, own, elem)
    for child in elem:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{CATALOG_NS}}}"):
            continue
        local = etree.QName(child).localname
        own_base = child.get(_XML_BASE)
        child_base = _join(base, own_base, child) if own_base else base
        if local == "group":
            _collect(child, base, out)
        elif local in ("uri", "system"):
            key = child.get("name" if local == "uri" else "systemId")
            target = child.get("uri")
            if key and target:
                table = out.uri if local == "uri" else out.system
                table.setdefault(normalize(key), _join(child_base, target, child))
        elif local in ("rewriteURI", "rewriteSystem"):
            start = child.get("uriStartString" if local == "rewriteURI" else "systemIdStartString")
            prefix = child.get("rewritePrefix")
            if start and prefix is not None:
                rows = out.rewrite_uri if local == "rewriteURI" else out.rewrite_system
                rows.append((normalize(start), _join(child_base, prefix, child)))
        elif local in ("uriSuffix", "systemSuffix"):
            suffix = child.get("uriSuffix" if local == "uriSuffix" else "systemIdSuffix")
            target = child.get("uri")
            if suffix and target:
                rows = out.uri_suffix if local == "uriSuffix" else out.system_suffix
                rows.append((normalize(suffix), _join(child_base, target, child)))
        elif local == "nextCatalog":
            ref = child.get("catalog")
            if ref:
                out.next_catalogs.append(_join(child_base, ref, child))


class Catalog:
    """An ordered list of catalog files (``--catalog``, configuration, XML_CATALOG_FILES)."""

    def __init__(self, files: tuple[Path, ...] | list[Path]) -> None:
        self.files = tuple(Path(f) for f in files)
        self._top = [read_entry_file(_file_url(f), required=True) for f in self.files]
        self._cache: dict[str, EntryFile | None] = {}

    def _next(self, url: str) -> EntryFile | None:
        if url not in self._cache:
            self._cache[url] = read_entry_file(url, required=False)
        return self._cache[url]

    def entry_files(self) -> list[EntryFile]:
        """Every entry file in the order resolution consults them (nextCatalog pre-order)."""
        ordered: list[EntryFile] = []
        seen: set[str] = set()

        def visit(entry: EntryFile | None) -> None:
            if entry is None or entry.url in seen:
                return
            seen.add(entry.url)
            ordered.append(entry)
            for nxt in entry.next_catalogs:
                visit(self._next(nxt))

        for top in self._top:
            visit(top)
        return ordered

    def resolve_uri(self, uri: str) -> str | None:
        """The catalog's answer for a URI reference (``uri`` entries), or None."""
        return self._resolve("uri", uri)

    def resolve_system(self, system_id: str) -> str | None:
        """The catalog's answer for a system identifier (``system`` entries), or None."""
        return self._resolve("system", system_id)

    def lookup(self, url: str) -> str | None:
        """A schema location: as a URI first, then as a system identifier."""
        return self.resolve_uri(url) or self.resolve_system(url)

    def _resolve(self, kind: str, key: str) -> str | None:
        if not self._top:
            return None
        normal = normalize(key)
        for entry in self.entry_files():
            found = entry.match(kind, normal)
            if found is not None:
                return found
        return None
