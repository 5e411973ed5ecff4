"""The one hardened way teikit reads XML.

Every entry point parses through :func:`load`, so the safety policy lives in one place
(``SECURITY.md`` describes it for users):

* nothing is fetched or read besides the file itself: every request libxml2 makes for
  an external DTD, entity or XInclude goes through a gate that refuses it (and records
  it, so the refusal becomes a diagnostic); lxml's ``no_network`` is a second lock;
* entity expansion stays within libxml2's amplification limits (a "billion laughs" or a
  quadratic blowup is refused, not expanded);
* size is bounded: bytes (``max_bytes``), nesting depth (``max_depth``), the length of a
  text node or attribute value (``max_text``) and the number of elements
  (``max_elements``); each limit can be raised through :class:`LoadOptions`;
* whitespace is kept exactly (in TEI mixed content whitespace is text);
* XInclude is processed only on request, and then only for files inside the input's
  folder.

Problems are values: :func:`load` never raises for anything in the file, it returns a
:class:`LoadResult` whose diagnostics carry stable codes (``xml.syntax``, ``xml.encoding``,
``xml.entity-expansion``, ``xml.external-entity``, ``xml.external-dtd``,
``xml.parameter-entity``, ``xml.too-deep``, ``xml.too-large``, ``xml.huge-text``,
``xml.xinclude``, ``io.unreadable``, ``io.dangling-symlink``, ``io.not-a-file``,
``io.too-large``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import InputError

if TYPE_CHECKING:
    from lxml.etree import ParserTarget

_T = TypeVar("_T")

#: Files larger than this are refused unless the caller raises the limit.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: Deepest element nesting accepted by default (libxml2's own default).
DEFAULT_MAX_DEPTH = 256
#: Longest text node, comment or attribute value by default, in characters (libxml2
#: counts bytes and has the same figure as its default).
DEFAULT_MAX_TEXT = 10_000_000
#: Most elements in one document by default: about half a gigabyte of tree.
DEFAULT_MAX_ELEMENTS = 2_000_000
#: libxml2's ceilings, which no option lifts: nesting with XML_PARSE_HUGE, and text.
HARD_MAX_DEPTH = 2048
HARD_MAX_TEXT = 1_000_000_000

# What libxml2 enforces by itself without XML_PARSE_HUGE.
_LIBXML_DEPTH = 256
_LIBXML_TEXT = 10_000_000

XINCLUDE_NAMESPACES = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What a caller may relax; the defaults are the safe ones.

    Every limit is an ``int`` a caller can raise. ``huge_tree`` is the short way to lift
    the depth and text limits to libxml2's hard ceilings (2048 levels, 1,000,000,000
    characters); ``max_bytes`` and ``max_elements`` still apply.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    #: Lift the depth and text-size limits to libxml2's ceilings.
    huge_tree: bool = False
    #: Deepest element nesting (the root is depth 1); at most 2048 (libxml2's ceiling).
    max_depth: int = DEFAULT_MAX_DEPTH
    #: Longest text node, comment, processing instruction or attribute value (characters).
    max_text: int = DEFAULT_MAX_TEXT
    #: Most elements in the document (counting those produced by internal entities).
    max_elements: int = DEFAULT_MAX_ELEMENTS
    #: Process ``xi:include`` (XInclude), only of files inside the input's folder tree.
    xinclude: bool = False

    @property
    def depth_limit(self) -> int:
        """The nesting depth actually enforced."""
        return HARD_MAX_DEPTH if self.huge_tree else max(1, min(self.max_depth, HARD_MAX_DEPTH))

    @property
    def text_limit(self) -> int:
        """The text length actually enforced."""
        return HARD_MAX_TEXT if self.huge_tree else max(1, min(self.max_text, HARD_MAX_TEXT))

    @property
    def libxml_huge(self) -> bool:
        """Whether libxml2's own depth and text limits must be lifted (XML_PARSE_HUGE)."""
        return self.depth_limit > _LIBXML_DEPTH or self.text_limit > _LIBXML_TEXT


#: What ``load`` uses when given no options.
DEFAULT_OPTIONS = LoadOptions()


@dataclass(slots=True)
class Document:
    """A parsed file: the tree plus the name diagnostics should carry."""

    path: Path
    display: str
    tree: etree._ElementTree
    #: The limits it was read under: files it points into are read under the same ones.
    options: LoadOptions = DEFAULT_OPTIONS

    @property
    def root(self) -> etree._Element:
        return self.tree.getroot()


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Either a document or the diagnostics saying why there is none."""

    document: Document | None
    diagnostics: tuple[Diagnostic, ...] = ()

    def require(self) -> Document:
        """The document; for callers that raise instead of reporting, an
        :class:`InputError` naming the file, line and problem when there is none."""
        if self.document is None:
            first = self.diagnostics[0]
            raise InputError(f"{first.location()}: {first.message}")
        return self.document


# --- the gate every external request goes through ----------------------------------------


@dataclass(slots=True)
class _Request:
    url: str
    public_id: str | None
    reason: str = ""


class _Gate(etree.Resolver):
    """libxml2 asks here for every external DTD, entity and XInclude: refuse and record.

    With ``include_root`` set (XInclude on request), local files inside that folder are
    served (read by teikit, size-checked, their own includes checked first); everything
    else still gets an empty answer, so nothing is ever opened or fetched by libxml2.
    """

    def __init__(self, include_root: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__()
        self.refused: list[_Request] = []
        self.include_root = include_root
        self.max_bytes = max_bytes

    def resolve(  # type: ignore[override]
        self, system_url: str | None, public_id: str | None, context: object
    ) -> object:
        url = system_url or ""
        if self.include_root is not None:
            served = self._serve(url)
            if isinstance(served, bytes):
                return self.resolve_string(served, context, base_url=url)
            self.refused.append(_Request(url, public_id, served))
        else:
            self.refused.append(_Request(url, public_id))
        return self.resolve_string("", context)

    def _serve(self, url: str) -> bytes | str:
        """The bytes of a permitted include, or why it is refused."""
        assert self.include_root is not None
        reason = include_refusal(url, self.include_root)
        if reason:
            return reason
        path = _url_path(url)
        try:
            data = _read(path, self.max_bytes)
        except _TooLarge as exc:
            return f"it is {exc.size:,} bytes, above the limit of {self.max_bytes:,}"
        except OSError as exc:
            return f"it cannot be read ({exc.strerror or exc})"
        nested = _nested_include_refusal(data, url, self.include_root)
        return nested or data


def _url_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def include_refusal(url: str, root: Path) -> str:
    """Why ``url`` may not be included from a document under ``root`` ('' if it may)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it is a malformed URL ({exc})"
    if parts.scheme.lower() not in ("", "file"):
        return "it is remote (teikit never fetches anything)"
    if parts.netloc not in ("", "localhost"):
        return "it names another host"
    try:
        real = _url_path(url).resolve()
    except (OSError, RuntimeError):
        return "it cannot be resolved"
    if not real.is_relative_to(root):
        return f"it lies outside {root}"
    if not real.is_file():
        return "it is not a readable file"
    return ""


def _nested_include_refusal(data: bytes, url: str, root: Path) -> str:
    """Check the includes of a file about to be included (text includes bypass the gate)."""
    parser = _parser(LoadOptions(), _Gate())
    try:
        tree = etree.fromstring(data, parser=parser, base_url=url).getroottree()
    except etree.XMLSyntaxError:
        return ""  # a parse="text" include, or broken XML libxml2 will report itself
    for el, href in _includes(tree):
        reason = include_refusal(href, root)
        if reason:
            return f"it includes {el.get('href')!r}, which is refused: {reason}"
    return ""


def _includes(tree: etree._ElementTree) -> list[tuple[etree._Element, str]]:
    """Every ``xi:include`` with the absolute URL its ``href`` names (xml:base applied)."""
    found: list[tuple[etree._Element, str]] = []
    for ns in XINCLUDE_NAMESPACES:
        for el in tree.iter(f"{{{ns}}}include"):
            href = (el.get("href") or "").strip()
            if not href:
                continue  # the same document (an xpointer into it)
            base = el.base or ""
            try:
                found.append((el, urljoin(base, href)))
            except ValueError:  # malformed: include_refusal says so
                found.append((el, href))
    return found


# --- parsers ------------------------------------------------------------------------------


#: What every parser teikit makes is set to (see :func:`make_parser` for why).
_SAFE_SETTINGS: dict[str, Any] = {
    "resolve_entities": "internal",
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "remove_blank_text": False,
    "remove_comments": False,
    "remove_pis": False,
    "strip_cdata": True,
    "collect_ids": False,
}


#: What a pull parser can report.
PullEvent = Literal["start", "end", "comment", "pi"]


def _parser(options: LoadOptions, gate: _Gate | None) -> etree.XMLParser:
    parser: etree.XMLParser = etree.XMLParser(huge_tree=options.libxml_huge, **_SAFE_SETTINGS)
    if gate is not None:
        parser.resolvers.add(gate)
    return parser


def pull_parser(
    events: tuple[PullEvent, ...],
    *,
    huge_tree: bool,
    base_url: str | None = None,
    encoding: str | None = None,
    gate: _Gate | None = None,
) -> etree.XMLPullParser:
    """The safe parser, fed in chunks, reporting ``events``; every request for an
    external resource gets nothing (``gate``, when given, records them).

    libxml2's push parser does not detect UTF-32 by itself: ``encoding`` says it.
    """
    parser = etree.XMLPullParser(
        events=events,
        base_url=base_url,
        encoding=encoding,
        huge_tree=huge_tree,
        **_SAFE_SETTINGS,
    )
    parser.resolvers.add(gate if gate is not None else _Gate())
    return parser


def base_url_of(path: Path) -> str | None:
    """The file's URL, against which its relative references resolve (None if unknown)."""
    try:
        return path.resolve().as_uri()
    except (OSError, RuntimeError, ValueError):
        return None


def scan_file(path: Path, target: ParserTarget[_T], *, huge_tree: bool, chunk: int) -> _T:
    """Feed the file to ``target``'s ``start``/``end`` through the safe parser, building no
    tree (for a pass that only counts); what its ``close`` returns. Every request for an
    external resource gets nothing."""
    parser = etree.XMLParser(target=target, huge_tree=huge_tree, **_SAFE_SETTINGS)
    parser.resolvers.add(_Gate())
    with path.open("rb") as handle:
        while data := handle.read(chunk):
            parser.feed(data)
    return parser.close()


def make_parser(
    options: LoadOptions = LoadOptions(), *, refuse_external: bool = False
) -> etree.XMLParser:
    """Build a parser with the safe settings, for files the user chose (schemas, catalogs).

    ``resolve_entities="internal"`` expands entities declared in the file's own internal
    subset (libxml2 bounds their amplification) but never loads external ones, and
    ``no_network`` keeps everything local. Schemas legitimately include other local files,
    so this parser lets libxml2 read them. Documents are parsed by :func:`load` instead,
    whose parser (``refuse_external=True``) answers every request for an external DTD,
    entity or XInclude with nothing: libxml2 2.14 reads a ``file:`` DTD even with
    ``load_dtd=False`` unless a resolver stops it.
    """
    gate = _Gate() if refuse_external else None
    return _parser(options, gate)


def display_name(path: Path) -> str:
    """Paths are shown relative to the working directory when they lie under it.

    Symbolic links are not followed: a link is shown by its own name (a dangling link or
    a loop has no other), and nothing here touches the file system beyond the cwd.
    """
    try:
        absolute = Path(os.path.abspath(path))  # noqa: PTH100  (resolve() follows links)
        cwd = Path.cwd()
        if absolute.is_relative_to(cwd):
            return str(absolute.relative_to(cwd))
        real_cwd = _resolved_cwd(str(cwd))
        if absolute.is_relative_to(real_cwd):
            return str(absolute.relative_to(real_cwd))
    except (ValueError, OSError, RuntimeError):
        pass
    return str(path)


@lru_cache(maxsize=8)
def _resolved_cwd(cwd: str) -> Path:
    """The working folder resolved: asked for every file shown that lies outside it."""
    return Path(cwd).resolve()


# --- reading ------------------------------------------------------------------------------


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _read(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of a regular file (never blocks on a FIFO or a device)."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(21, "not a regular file")
    if info.st_size > max_bytes:
        raise _TooLarge(info.st_size)
    with path.open("rb") as handle:
        now = os.fstat(handle.fileno())
        if not stat.S_ISREG(now.st_mode):  # swapped since the stat
            raise IsADirectoryError(21, "not a regular file")
        # read(n) sets aside n bytes first: ask for the size the file has (and one more, to
        # see it grew), not for the limit, which cost 50 µs a file for a 256 MB buffer.
        expected = min(now.st_size, max_bytes) + 1
        data = handle.read(expected)
        if len(data) == expected:  # it grew since, or reports no size (/proc-like files)
            data += handle.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:  # the file grew, or /proc-like files that report size 0
        raise _TooLarge(len(data))
    return data


def load(path: str | os.PathLike[str], options: LoadOptions = LoadOptions()) -> LoadResult:
    """Parse ``path`` safely; a file that cannot be read gives diagnostics, not exceptions."""
    p = Path(path)
    shown = display_name(p)
    try:
        if p.is_symlink() and not p.exists():
            return _fail(
                shown,
                "io.dangling-symlink",
                "symbolic link leads nowhere (a missing target or a loop)",
            )
        info = p.stat()
        if stat.S_ISDIR(info.st_mode):
            return _fail(shown, "io.not-a-file", "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            return _fail(shown, "io.not-a-file", "not a regular file (a device, FIFO or socket)")
        data = _read(p, options.max_bytes)
    except _TooLarge as exc:
        return _fail(
            shown,
            "io.too-large",
            f"file is {exc.size:,} bytes, above the limit of {options.max_bytes:,} "
            "(raise it with --max-bytes)",
        )
    except IsADirectoryError:
        return _fail(shown, "io.not-a-file", "not a regular file")
    except PermissionError as exc:
        return _fail(shown, "io.unreadable", f"permission denied ({exc.strerror or exc})")
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on some Pythons
        reason = getattr(exc, "strerror", None) or str(exc)
        return _fail(shown, "io.unreadable", reason)
    return parse_bytes(data, p, options, shown=shown)


#: How a document read from standard input is named when the caller names no file.
STDIN_NAME = "<stdin>"


def load_stream(
    stream: BinaryIO,
    options: LoadOptions = LoadOptions(),
    *,
    name: str | os.PathLike[str] | None = None,
) -> LoadResult:
    """Parse what ``stream`` holds (standard input) as the file ``name`` would be parsed.

    An editor piping an unsaved buffer names the file it edits: messages name it, and
    its relative references (``<?xml-model?>``, xi:include) and its configuration are
    found from its folder. Without a name, messages say ``<stdin>`` and references
    resolve from the working folder. At most ``max_bytes`` are read.
    """
    path = Path(name) if name is not None else Path.cwd() / STDIN_NAME
    shown = display_name(path) if name is not None else STDIN_NAME
    try:
        data = stream.read(options.max_bytes + 1)
    except OSError as exc:
        return _fail(shown, "io.unreadable", exc.strerror or str(exc))
    return parse_bytes(data, path, options, shown=shown)


# --- parsing ------------------------------------------------------------------------------

_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16_32_BOMS = (*_UTF32_BOMS, b"\xff\xfe", b"\xfe\xff")
#: ``ENTITY`` as it looks in the encodings libxml2 detects by itself.
_ENTITY_MARKS = tuple(
    "ENTITY".encode(codec)
    for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)
_DECLARED = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([^\"']{1,40})"
)
_ASCII_SUPERSET = re.compile(
    r"^(utf-?8|(us-)?ascii|iso[-_]?8859-\d{1,2}|latin-?\d|l\d|windows-125\d|cp125\d"
    r"|koi8-[rut]|iso-?646-us|tis-620|euc-(jp|kr|cn)|gb2312|gbk|gb18030|big5)$",
    re.IGNORECASE,
)
_SINGLE_BYTE = re.compile(
    r"^(iso[-_]?8859-\d{1,2}|latin-?\d|l\d|windows-125\d|cp125\d)$", re.IGNORECASE
)


def _declared_encoding(data: bytes) -> str | None:
    m = _DECLARED.match(data[:300])
    return m.group(1).decode("ascii", "replace").strip() if m else None


def _ascii_compatible(data: bytes) -> bool:
    """Whether ``<`` in the bytes is ``<`` in the text (so counting bytes bounds elements)."""
    if data.startswith(_UTF16_32_BOMS) or (len(data) > 1 and (data[0] == 0 or data[1] == 0)):
        return False
    declared = _declared_encoding(data)
    return declared is None or _ASCII_SUPERSET.match(declared) is not None


def _looks_utf16_without_bom(data: bytes) -> bool:
    head = data[:64]
    if head.startswith(_UTF16_32_BOMS) or len(head) < 4:
        return False
    even_zero = head[0::2].count(0) > len(head[0::2]) * 0.6
    odd_zero = head[1::2].count(0) > len(head[1::2]) * 0.6
    return even_zero != odd_zero


def parse_bytes(
    data: bytes,
    path: Path,
    options: LoadOptions = LoadOptions(),
    *,
    shown: str | None = None,
) -> LoadResult:
    """Parse bytes that came from ``path`` (used by :func:`load` and by tests)."""
    shown = shown if shown is not None else display_name(path)
    if not data.removeprefix(b"\xef\xbb\xbf").strip() or data in _UTF16_32_BOMS:
        return _fail(shown, "xml.empty", "file is empty")
    if len(data) > options.max_bytes:
        return _fail(
            shown,
            "io.too-large",
            f"document is {len(data):,} bytes, above the limit of {options.max_bytes:,}",
        )
    base_url = base_url_of(path)
    gate = _Gate()
    # Fast path: without entities, an element takes at least four characters and one '<'
    # that is not '</', so a short file, or one with fewer of those than the limit, has
    # fewer elements.
    bounded = len(data) // 4 <= options.max_elements or (
        _ascii_compatible(data) and data.count(b"<") - data.count(b"</") <= options.max_elements
    )
    counting = not bounded or any(mark in data for mark in _ENTITY_MARKS)
    parser = (
        pull_parser(
            ("start",),
            huge_tree=options.libxml_huge,
            base_url=base_url,
            encoding="UTF-32" if data.startswith(_UTF32_BOMS) else None,
            gate=gate,
        )
        if counting
        else _parser(options, gate)
    )
    try:
        if isinstance(parser, etree.XMLPullParser):
            # A feed parser logs to the thread's global log only: start it afresh.
            etree.clear_error_log()
            over = _feed_counting(parser, data, options.max_elements)
            if over is not None:
                return _fail(
                    shown,
                    "xml.too-large",
                    f"more than {options.max_elements:,} elements (raise the limit with "
                    "--max-elements)",
                    line=over,
                )
            root = parser.close()
        else:
            root = etree.fromstring(data, parser=parser, base_url=base_url)
    except etree.XMLSyntaxError as exc:
        return LoadResult(None, _syntax_diagnostics(data, exc, parser, shown, options))
    tree = root.getroottree()
    if counting and _count(tree) > options.max_elements:
        # libxml2 reports the elements of an entity's first expansion only: count again.
        return _fail(
            shown,
            "xml.too-large",
            f"more than {options.max_elements:,} elements once its entities are expanded "
            "(raise the limit with --max-elements)",
        )
    too_big = _limits_exceeded(tree, options, shown)
    if too_big:
        return LoadResult(None, too_big)
    findings = [*_encoding_findings(data, tree, shown), *_dtd_findings(tree, gate, parser, shown)]
    # xi:include is left as it is unless asked for (teikit info counts them).
    includes = _includes(tree) if options.xinclude else []
    if includes:
        refused = _process_xinclude(tree, gate, path, includes, options, shown)
        if refused:
            return LoadResult(None, tuple(refused))
        # What was included counts against the same limits.
        if _count(tree) > options.max_elements:
            return _fail(
                shown,
                "xml.too-large",
                f"more than {options.max_elements:,} elements with its inclusions",
            )
        too_big = _limits_exceeded(tree, options, shown)
        if too_big:
            return LoadResult(None, too_big)
    document = Document(path=path, display=shown, tree=tree, options=options)
    return LoadResult(document, tuple(findings))


def _feed_counting(parser: etree.XMLPullParser, data: bytes, limit: int) -> int | None:
    """Feed in chunks, counting elements; the line where ``limit`` was passed, if it was."""
    count = 0
    chunk = 1 << 20
    for at in range(0, len(data), chunk):
        parser.feed(data[at : at + chunk])
        for _event, el in parser.read_events():
            count += 1
            if count > limit:
                line = el.sourceline if isinstance(el, etree._Element) else 0
                return line or 0
    return None


def _count(tree: etree._ElementTree) -> int:
    """The number of elements (in C: an XPath count)."""
    found = tree.xpath("count(//*)")
    return int(found) if isinstance(found, float) else 0


def _limits_exceeded(
    tree: etree._ElementTree, options: LoadOptions, shown: str
) -> tuple[Diagnostic, ...]:
    """Depth and text limits below what libxml2 enforced itself are checked here (in C)."""
    libxml_depth = HARD_MAX_DEPTH if options.libxml_huge else _LIBXML_DEPTH
    libxml_text = HARD_MAX_TEXT if options.libxml_huge else _LIBXML_TEXT
    depth, text = options.depth_limit, options.text_limit
    if depth < libxml_depth:
        # An element at depth limit+1: one location step per level, linear in the tree.
        found = tree.xpath("(/" + "/".join(["*"] * (depth + 1)) + ")[1]")
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return (_too_deep(shown, found[0].sourceline or 0, depth),)
    if text < libxml_text:
        found = tree.xpath(
            f"(//text() | //comment() | //processing-instruction() | //@*)"
            f"[string-length(.) > {text}][1]"
        )
        if isinstance(found, list) and found:
            node = found[0]
            owner = node.getparent() if hasattr(node, "getparent") else node
            line = owner.sourceline if isinstance(owner, etree._Element) else 0
            return (_huge_text(shown, line or 0, text),)
    return ()


def _too_deep(shown: str, line: int, limit: int) -> Diagnostic:
    hint = (
        f"libxml2 never accepts more than {HARD_MAX_DEPTH}"
        if limit >= HARD_MAX_DEPTH
        else "raise the limit with --max-depth"
    )
    return Diagnostic(
        shown,
        line,
        0,
        Severity.ERROR,
        "xml.too-deep",
        f"elements nested more than {limit:,} deep ({hint})",
    )


def _huge_text(shown: str, line: int, limit: int) -> Diagnostic:
    return Diagnostic(
        shown,
        line,
        0,
        Severity.ERROR,
        "xml.huge-text",
        f"a text node or attribute value is longer than {limit:,} characters "
        "(raise the limit with --max-text)",
    )


_ENTITY_NAME = re.compile(r"Entity '([^']+)' not defined")


def _syntax_diagnostics(
    data: bytes,
    exc: etree.XMLSyntaxError,
    parser: etree.XMLParser,
    shown: str,
    options: LoadOptions,
) -> tuple[Diagnostic, ...]:
    """Name the construct that made the parse fail, with a stable code."""
    # The parser's own log: the exception's log can hold entries of earlier parses
    # (except for a feed parser, whose only log is the global one, cleared before).
    own = parser.error_log
    entries = list(exc.error_log if isinstance(parser, etree.XMLPullParser) else own)

    def diag(e: etree._LogEntry, code: str, message: str) -> Diagnostic:
        return Diagnostic(shown, e.line, e.column, Severity.ERROR, code, message)

    for e in entries:
        message = e.message.strip()
        lowered = message.lower()
        if e.type_name == "ERR_RESOURCE_LIMIT" or "limit" in lowered:
            if "amplification" in lowered or "entity" in lowered:
                return (
                    diag(
                        e,
                        "xml.entity-expansion",
                        "entity expansion refused: the entities declared in the document "
                        "would expand beyond libxml2's amplification limit (a 'billion "
                        f"laughs' or quadratic blowup): {message}",
                    ),
                )
            if "depth" in lowered:
                return (_too_deep(shown, e.line, options.depth_limit),)
            if "text" in lowered or "buffer" in lowered or "too long" in lowered:
                return (_huge_text(shown, e.line, options.text_limit),)
        if e.type_name in ("ERR_ENTITY_LOOP", "ERR_ENTITY_BOUNDARY") or "entity loop" in lowered:
            return (diag(e, "xml.entity-expansion", f"entity expansion refused: {message}"),)
    found = _entity_diagnostics(data, entries, shown)
    if found:
        return found
    errors = [e for e in entries if e.level_name in ("ERROR", "FATAL")]
    first = errors[0] if errors else None
    if first is None:
        return (
            Diagnostic(
                shown,
                exc.lineno or 0,
                exc.offset or 0,
                Severity.ERROR,
                "xml.syntax",
                f"not well-formed: {exc.msg}",
            ),
        )
    message = first.message.strip()
    if first.domain_name == "ENCODING" or first.type_name in (
        "ERR_INVALID_ENCODING",
        "ERR_UNSUPPORTED_ENCODING",
        "ERR_UNKNOWN_ENCODING",
    ):
        declared = _declared_encoding(data)
        said = f" (the file declares {declared})" if declared else ""
        return (diag(first, "xml.encoding", f"cannot decode the file{said}: {message}"),)
    declared = _declared_encoding(data)
    if (
        declared
        and declared.upper().replace("-", "").startswith(("UTF16", "UTF32", "UCS"))
        and data.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml")
    ):
        return (
            diag(
                first,
                "xml.encoding",
                f"the file declares {declared} but is written in a single-byte or UTF-8 "
                f"encoding (fix the encoding declaration): {message}",
            ),
        )
    if _looks_utf16_without_bom(data):
        return (
            diag(
                first,
                "xml.encoding",
                "the file looks like UTF-16 without a byte order mark or an encoding "
                "declaration, which XML requires: save it with a BOM or as UTF-8",
            ),
        )
    nul = data.find(b"\x00", 0, 4096)
    if nul >= 0 and not data.startswith(_UTF16_32_BOMS):
        return (
            diag(
                first,
                "xml.syntax",
                f"not XML text: binary data (a NUL byte at offset {nul:,}): {message}",
            ),
        )
    return (diag(first, "xml.syntax", f"not well-formed: {message}"),)


def _declarations(data: bytes) -> tuple[dict[str, str | None], str | None]:
    """Entity declarations of the internal subset (name -> system URL) and the DTD's URL.

    Read with a second parse: the loader's safe settings and refusing gate, with no
    entity expanded.
    """
    settings = {**_SAFE_SETTINGS, "resolve_entities": False}
    parser = etree.XMLParser(recover=True, huge_tree=False, **settings)
    parser.resolvers.add(_Gate())
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return {}, None
    if root is None:
        return {}, None
    info = root.getroottree().docinfo
    dtd = info.internalDTD
    declared: dict[str, str | None] = {}
    if dtd is not None:
        for ent in dtd.iterentities():
            if ent.name:
                declared[ent.name] = ent.system_url
    return declared, info.system_url or info.public_id


def _entity_diagnostics(
    data: bytes,
    entries: list[etree._LogEntry],
    shown: str,
    severity: Severity = Severity.ERROR,
) -> tuple[Diagnostic, ...]:
    """Undefined entities explained: external, parameter, or from an unread external DTD."""
    undefined = [
        (e, m.group(1))
        for e in entries
        if e.type_name in ("ERR_UNDECLARED_ENTITY", "WAR_UNDECLARED_ENTITY")
        and (m := _ENTITY_NAME.search(e.message))
    ]
    if not undefined:
        return ()
    declared, dtd_url = _declarations(data)
    out: list[Diagnostic] = []
    seen: set[str] = set()
    for e, name in undefined:
        if name in seen:
            continue
        seen.add(name)
        is_parameter = f"%{name};".encode() in data and f"&{name};".encode() not in data
        if declared.get(name):
            sort = "parameter entity" if is_parameter else "entity"
            ref = f"%{name};" if is_parameter else f"&{name};"
            code = "xml.external-entity"
            message = (
                f"{sort} {ref} refers to an external resource ({declared[name]}); "
                "teikit never loads external entities"
            )
        elif is_parameter:
            code = "xml.parameter-entity"
            message = (
                f"parameter entity %{name}; was not expanded (teikit does not process "
                "parameter entities)"
            )
        elif dtd_url:
            code = "xml.external-dtd"
            message = (
                f"entity &{name}; is not declared in the document; the external DTD "
                f"{dtd_url} may declare it, but teikit never loads DTDs (declare it in "
                "the internal subset or use the character itself)"
            )
        elif e.level_name in ("ERROR", "FATAL"):
            code = "xml.syntax"
            message = f"not well-formed: entity &{name}; is not declared"
        else:
            continue
        out.append(Diagnostic(shown, e.line, e.column, severity, code, message))
    return tuple(out[:10])


def _encoding_findings(data: bytes, tree: etree._ElementTree, shown: str) -> list[Diagnostic]:
    """A single-byte encoding declared on bytes that read as UTF-8: the text is garbled."""
    declared = _declared_encoding(data)
    if not declared or not _SINGLE_BYTE.match(declared) or data.isascii():
        return []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return [
        Diagnostic(
            shown,
            1,
            1,
            Severity.WARNING,
            "xml.encoding",
            f"the file declares {declared} but its bytes read as UTF-8; its text is "
            "probably garbled (fix the encoding declaration)",
        )
    ]


def _dtd_findings(
    tree: etree._ElementTree, gate: _Gate, parser: etree.XMLParser, shown: str
) -> list[Diagnostic]:
    """External DTDs and entities are never loaded; say so rather than drop text silently."""
    info = tree.docinfo
    found: list[Diagnostic] = []
    dtd_url = info.system_url or info.public_id
    if dtd_url:
        found.append(
            Diagnostic(
                shown,
                1,
                1,
                Severity.WARNING,
                "xml.external-dtd",
                f"external DTD {dtd_url!s} was not loaded (teikit never fetches or reads "
                "DTDs: default attributes and entities it declares are not applied)",
            )
        )
    dtd = info.internalDTD
    declared = list(dtd.iterentities()) if dtd is not None else []
    for ent in declared:
        if ent.system_url:
            found.append(
                Diagnostic(
                    shown,
                    1,
                    1,
                    Severity.WARNING,
                    "xml.external-entity",
                    f"entity {ent.name} is declared as external ({ent.system_url}) and was "
                    "not loaded (teikit never loads external entities)",
                )
            )
    # Warnings from a parse that succeeded (a parameter entity that was not expanded).
    warned = [e for e in parser.error_log if e.type_name == "WAR_UNDECLARED_ENTITY"]
    if warned:
        names = {e.name for e in declared if e.name}
        for e in warned:
            m = _ENTITY_NAME.search(e.message)
            if (
                m
                and m.group(1) in names
                and not any(
                    d.code == "xml.external-entity" and f" {m.group(1)} " in d.message
                    for d in found
                )
            ):
                found.append(
                    Diagnostic(
                        shown,
                        e.line,
                        e.column,
                        Severity.WARNING,
                        "xml.parameter-entity",
                        f"parameter entity %{m.group(1)}; was not expanded (teikit does "
                        "not process parameter entities)",
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
    known = {dtd_url} | {e.system_url for e in declared}
    for request in gate.refused:
        if request.url in known or any(request.url.endswith(str(k)) for k in known if k):
            continue
        found.append(
            Diagnostic(
                shown,
                1,
                1,
                Severity.WARNING,
                "xml.external-entity",
                f"a request for {request.url or request.public_id} was refused "
                "(teikit never loads external resources)",
            )
        )
    return found


# --- XInclude (on request only) -------------------------------------------------------------


def _process_xinclude(
    tree: etree._ElementTree,
    gate: _Gate,
    path: Path,
    includes: list[tuple[etree._Element, str]],
    options: LoadOptions,
    shown: str,
) -> list[Diagnostic]:
    """Include local files under the input's folder; refuse everything else, up front."""
    try:
        root_dir = path.resolve().parent
    except (OSError, RuntimeError):
        root_dir = path.parent
    refused: list[Diagnostic] = []
    for el, url in includes:
        reason = include_refusal(url, root_dir)
        if not reason and el.get("parse") == "text":
            # Text includes do not pass libxml2's resolvers: size-check them here.
            try:
                _read(_url_path(url), options.max_bytes)
            except _TooLarge as exc:
                reason = f"it is {exc.size:,} bytes, above the limit of {options.max_bytes:,}"
            except OSError as exc:
                reason = f"it cannot be read ({exc.strerror or exc})"
        if reason:
            refused.append(_xinclude_refused(shown, el, reason))
    if refused:
        return refused
    # lxml asks the resolvers of the parser that built the tree: the same gate, which
    # from now on serves permitted files (and checks their own includes first).
    gate.refused.clear()
    gate.include_root = root_dir
    gate.max_bytes = options.max_bytes
    try:
        tree.xinclude()
    except etree.XIncludeError as exc:
        reasons = [f"{r.url}: {r.reason}" for r in gate.refused if r.reason]
        message = f"XInclude failed: {reasons[0] if reasons else exc}"
        return [Diagnostic(shown, 0, 0, Severity.ERROR, "xml.xinclude", message)]
    finally:
        gate.include_root = None
    if gate.refused:
        first = gate.refused[0]
        return [
            Diagnostic(
                shown,
                0,
                0,
                Severity.ERROR,
                "xml.xinclude",
                f"XInclude of {first.url} refused: {first.reason or 'not permitted'}",
            )
        ]
    return []


def _xinclude_refused(shown: str, el: etree._Element, reason: str) -> Diagnostic:
    return Diagnostic(
        shown,
        el.sourceline or 0,
        0,
        Severity.ERROR,
        "xml.xinclude",
        f"xi:include of {el.get('href')!r} refused: {reason} (teikit includes only local "
        "files inside the document's folder)",
    )


def _fail(shown: str, code: str, message: str, *, line: int = 0) -> LoadResult:
    return LoadResult(None, (Diagnostic(shown, line, 0, Severity.ERROR, code, message),))


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_ELEMENTS",
    "DEFAULT_MAX_TEXT",
    "HARD_MAX_DEPTH",
    "HARD_MAX_TEXT",
    "STDIN_NAME",
    "Document",
    "LoadOptions",
    "LoadResult",
    "display_name",
    "load",
    "load_stream",
    "make_parser",
    "parse_bytes",
]
