"""The one hardened way teikit reads XML.

Every entry point parses through :func:`load`, so the safety policy lives in one place:
no network, no external DTDs or entities, bounded size, and whitespace kept exactly
(in TEI mixed content whitespace is text).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity

#: Files larger than this are refused unless the caller raises the limit.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What a caller may relax; the defaults are the safe ones."""

    max_bytes: int = DEFAULT_MAX_BYTES
    #: libxml2's own limits on depth and text size are lifted only on request.
    huge_tree: bool = False


@dataclass(slots=True)
class Document:
    """A parsed file: the tree plus the name diagnostics should carry."""

    path: Path
    display: str
    tree: etree._ElementTree

    @property
    def root(self) -> etree._Element:
        return self.tree.getroot()


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Either a document or the diagnostics saying why there is none."""

    document: Document | None
    diagnostics: tuple[Diagnostic, ...] = ()


def make_parser(options: LoadOptions = LoadOptions()) -> etree.XMLParser:
    """Build the parser every entry point shares.

    ``resolve_entities="internal"`` expands entities declared in the file's own internal
    subset (libxml2 bounds their amplification) but never loads external ones.
    """
    return etree.XMLParser(
        resolve_entities="internal",
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=options.huge_tree,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=True,
        collect_ids=False,
    )


def display_name(path: Path) -> str:
    """Paths are shown relative to the working directory when they lie under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load(path: str | os.PathLike[str], options: LoadOptions = LoadOptions()) -> LoadResult:
    """Parse ``path`` safely; a file that cannot be read gives diagnostics, not exceptions."""
    p = Path(path)
    shown = display_name(p)
    try:
        size = p.stat().st_size
        if not p.is_file():
            return _fail(shown, "io.not-a-file", "not a regular file")
        if size > options.max_bytes:
            return _fail(
                shown,
                "io.too-large",
                f"file is {size:,} bytes, above the limit of {options.max_bytes:,} "
                "(raise it with --max-bytes)",
            )
        data = p.read_bytes()
    except OSError as exc:
        return _fail(shown, "io.unreadable", exc.strerror or str(exc))
    return parse_bytes(data, p, options, shown=shown)


def parse_bytes(
    data: bytes,
    path: Path,
    options: LoadOptions = LoadOptions(),
    *,
    shown: str | None = None,
) -> LoadResult:
    """Parse bytes that came from ``path`` (used by :func:`load` and by tests)."""
    shown = shown if shown is not None else display_name(path)
    if not data.strip():
        return _fail(shown, "xml.empty", "file is empty")
    parser = make_parser(options)
    try:
        root = etree.fromstring(data, parser=parser, base_url=path.resolve().as_uri())
    except etree.XMLSyntaxError as exc:
        # The parser's own log: the exception's log can hold entries of earlier parses.
        entries = [e for e in parser.error_log if e.level_name in ("ERROR", "FATAL")]
        diags = tuple(
            Diagnostic(
                shown,
                e.line,
                e.column,
                Severity.ERROR,
                "xml.syntax",
                f"not well-formed: {e.message.strip()}",
            )
            for e in entries[:1]
        ) or (
            Diagnostic(
                shown,
                exc.lineno or 0,
                exc.offset or 0,
                Severity.ERROR,
                "xml.syntax",
                f"not well-formed: {exc.msg}",
            ),
        )
        return LoadResult(None, diags)
    tree = root.getroottree()
    return LoadResult(Document(path=path, display=shown, tree=tree), _dtd_findings(tree, shown))


def _dtd_findings(tree: etree._ElementTree, shown: str) -> tuple[Diagnostic, ...]:
    """External DTDs and entities are never loaded; say so rather than drop text silently."""
    info = tree.docinfo
    found: list[Diagnostic] = []
    if info.system_url or info.public_id:
        found.append(
            Diagnostic(
                shown,
                1,
                1,
                Severity.WARNING,
                "xml.external-dtd",
                f"external DTD {info.system_url or info.public_id!s} was not loaded "
                "(teikit never fetches DTDs)",
            )
        )
    for node in tree.iter(etree.Entity):
        assert isinstance(node, etree._Entity)
        found.append(
            Diagnostic(
                shown,
                node.sourceline or 0,
                0,
                Severity.ERROR,
                "xml.external-entity",
                f"entity &{node.name}; is external or undeclared and was not expanded",
            )
        )
    return tuple(found)


def _fail(shown: str, code: str, message: str) -> LoadResult:
    return LoadResult(None, (Diagnostic(shown, 0, 0, Severity.ERROR, code, message),))
