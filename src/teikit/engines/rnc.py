"""RELAX NG compact syntax: converted in memory to the XML syntax and compiled by libxml2.

The conversion uses the ``rnc2rng`` library, which covers the patterns of the compact
syntax but not all of its lexical forms; this module's own tokenizer first rewrites the
source into the subset rnc2rng reads:

* annotations are removed: initial ``[...]``, grammar-level annotation elements
  (``sch:ns [...]``), follow annotations (``>> sch:pattern [...]``) and ``##``
  documentation. They never change what a document may contain (the Schematron that TEI
  ODDs embed there is ignored, as jing ignores it);
* ``\\x{..}`` escapes are decoded, and literals in any quoting style (``'..'``, triple
  quotes, ``~`` concatenation) become plain double-quoted ones;
* ``include "x.rnc" { ... }`` and ``external "x.rnc"`` become RELAX NG ``include`` and
  ``externalRef`` elements (rnc2rng would inline includes itself, fetching URLs, and would
  drop the overriding definitions).

:func:`compile_rnc` converts the schema and every file it references
(:func:`teikit.schemas.resolve.prepare_schema` writes the converted closure into the cache)
and compiles the result with the RELAX NG engine, so compact schemas get everything that
engine does.
"""

from __future__ import annotations

import bisect
import codecs
import importlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from teikit.diagnostics import Diagnostic
from teikit.errors import SchemaError
from teikit.loading import Document, make_parser

if TYPE_CHECKING:
    from teikit.engines.relaxng import RelaxNGCompileError

RNG_NS = "http://relaxng.org/ns/structure/1.0"
_MARK = "teikit.rnc."
#: Stand-ins for characters rnc2rng's literal syntax cannot hold.
_PUA = {'"': "\ue000", "\n": "\ue001", "\r": "\ue002", "'": "\ue003"}
_PUA_XML = {"\ue000": "&quot;", "\ue001": "&#10;", "\ue002": "&#13;", "\ue003": "&apos;"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<lit>\"\"\"(?:.|\n)*?\"\"\"|'''(?:.|\n)*?'''|"[^"\n]*"|'[^'\n]*')
  | (?P<op>\|=|&=|>>|[=|&,?*+\-~(){}\[\]])
  | (?P<name>\\?(?:[^\W\d]|_)[\w.\-]*(?::(?:(?:[^\W\d]|_)[\w.\-]*|\*))?)
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\x+\{([0-9A-Fa-f]{1,6})\}")
#: Tokens after which a prefixed name starts a pattern (a datatype) rather than an
#: annotation element.
_PATTERN_OPS = {"=", "|=", "&=", "|", "&", ",", "(", "-", "~", "element", "attribute"}
#: Words of the compact syntax that are never pattern names (unless escaped, ``\\text``).
_KEYWORDS = {
    "attribute", "datatypes", "default", "div", "element", "empty", "external", "grammar",
    "include", "inherit", "list", "mixed", "namespace", "notAllowed", "parent", "start",
    "string", "text", "token",
}  # fmt: skip
_CLOSERS = {"{": "}", "(": ")", "[": "]"}


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    line: int


def _decode_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _decode_name_escapes(text: str) -> str:
    """Decode escapes that stand for name characters (``\\x{62}ody`` is ``body``).

    The others are decoded inside literals only, so that an escaped quote or newline
    never ends a literal or a comment.
    """

    def name_char(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if re.fullmatch(r"[\w.\-]", char) else match.group()

    return _ESCAPE.sub(name_char, text)


def _tokenize(src: str, name: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    line = 1
    while pos < len(src):
        match = _TOKEN.match(src, pos)
        if match is None:
            snippet = src[pos : pos + 20].split("\n")[0]
            raise SchemaError(f"{name}:{line}: cannot read RELAX NG compact syntax at {snippet!r}")
        kind = match.lastgroup or "ws"
        text = match.group()
        tokens.append(_Tok(kind, text, line))
        line += text.count("\n")
        pos = match.end()
    return tokens


def _literal_value(text: str) -> str:
    quote = 3 if text[:3] in ('"""', "'''") else 1
    return _decode_escapes(text[quote:-quote])


def _plain_literal(value: str) -> str:
    if any(c in value for c in _PUA_XML):
        raise SchemaError("literal holds a private-use character teikit reserves (U+E000-E003)")
    return '"' + "".join(_PUA.get(c, c) for c in value) + '"'


def _next_significant(tokens: list[_Tok], index: int) -> int:
    while index < len(tokens) and tokens[index].kind in ("ws", "comment"):
        index += 1
    return index


@dataclass(slots=True)
class _Reference:
    kind: str  # "include" or "external"
    href: str
    inherit: str | None


class _Rewriter:
    """One pass over the tokens, writing the subset of the syntax rnc2rng reads."""

    def __init__(self, src: str, name: str) -> None:
        self.name = name
        self.tokens = _tokenize(_decode_name_escapes(src), name)
        self.out: list[_Tok] = []
        self.significant: list[int] = []  # indices into ``out`` of kept non-space tokens
        self.refs: dict[str, _Reference] = {}
        self.namespaces: dict[str, str] = {}
        self.starts: list[int] = []  # offset in the rewritten text of each token of ``out``

    def emit(self, tok: _Tok) -> None:
        if tok.kind not in ("ws", "comment"):
            self.significant.append(len(self.out))
        self.out.append(tok)

    def error(self, index: int, message: str) -> SchemaError:
        line = self.tokens[min(index, len(self.tokens) - 1)].line if self.tokens else 1
        return SchemaError(f"{self.name}:{line}: {message}")

    def literal(self, index: int) -> tuple[str, int]:
        """A literal (with ``~`` concatenation) at or after ``index``; value, next index."""
        parts: list[str] = []
        i = _next_significant(self.tokens, index)
        while True:
            if i >= len(self.tokens) or self.tokens[i].kind != "lit":
                raise self.error(i, "a literal was expected")
            parts.append(_literal_value(self.tokens[i].text))
            j = _next_significant(self.tokens, i + 1)
            if j < len(self.tokens) and self.tokens[j].text == "~":
                i = _next_significant(self.tokens, j + 1)
                continue
            return "".join(parts), j

    def run(self) -> str:
        tokens = self.tokens
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == "comment":
                i += 1
            elif tok.kind == "op" and tok.text == ">>":
                j = _next_significant(tokens, i + 1)
                k = _next_significant(tokens, j + 1)
                if k >= len(tokens) or tokens[k].text != "[":
                    raise self.error(i, "'>>' must be followed by an annotation element")
                i = self.skip_block(k)
            elif tok.kind == "op" and tok.text == "[":
                self.drop_annotation_name()
                i = self.skip_block(i)
            elif tok.kind == "lit":
                value, j = self.literal(i)
                self.emit(_Tok("lit", _plain_literal(value), tok.line))
                newlines = sum(t.text.count("\n") for t in tokens[i:j])
                self.out.append(_Tok("ws", "\n" * newlines or " ", tok.line))
                i = j
            elif tok.kind == "name":
                text = _decode_escapes(tok.text)
                if text in ("namespace", "default"):
                    self.declaration(i)
                if text in ("include", "external"):
                    i = self.reference(i, text)
                    continue
                self.emit(_Tok("name", text, tok.line))
                i += 1
            else:
                self.emit(tok)
                i += 1
        offset = 0
        for out in self.out:
            self.starts.append(offset)
            offset += len(out.text)
        return "".join(t.text for t in self.out)

    def empty(self) -> bool:
        """Nothing but spaces, comments and annotations."""
        return not self.significant

    def origin(self, offset: int) -> int:
        """The source line of ``offset`` in the rewritten text (rnc2rng's positions)."""
        index = bisect.bisect_right(self.starts, offset) - 1
        if index < 0:
            return 1
        tok = self.out[index]
        return tok.line + tok.text[: offset - self.starts[index]].count("\n")

    def last_line(self) -> int:
        """The line of the last token that is not a space or a comment."""
        for tok in reversed(self.tokens):
            if tok.kind not in ("ws", "comment"):
                return tok.line + tok.text.count("\n")
        return 1

    def unclosed(self, line: int) -> str:
        """`` (an unclosed '{'?)``: the innermost bracket left open, for an error at the end."""
        stack: list[_Tok] = []
        for tok in self.tokens:
            if tok.kind != "op":
                continue
            if tok.text in _CLOSERS:
                stack.append(tok)
            elif stack and tok.text == _CLOSERS[stack[-1].text]:
                stack.pop()
        if not stack:
            return ""
        opener = stack[-1]
        where = "" if opener.line == line else f" on line {opener.line}"
        return f" (an unclosed '{opener.text}'{where}?)"

    def skip_block(self, index: int) -> int:
        """Index after the ``]`` that closes the ``[`` at ``index``."""
        depth = 0
        for i in range(index, len(self.tokens)):
            tok = self.tokens[i]
            if tok.kind == "op" and tok.text == "[":
                depth += 1
            elif tok.kind == "op" and tok.text == "]":
                depth -= 1
                if depth == 0:
                    return i + 1
        raise self.error(index, "unclosed '[' annotation")

    def drop_annotation_name(self) -> None:
        """``prefix:name [...]`` outside a pattern is an annotation element: drop its name."""
        if not self.significant:
            return
        last = self.out[self.significant[-1]]
        before = self.out[self.significant[-2]].text if len(self.significant) > 1 else None
        if last.kind == "name" and ":" in last.text and before not in _PATTERN_OPS:
            del self.out[self.significant.pop() :]

    def declaration(self, index: int) -> None:
        """Record ``namespace p = "..."`` and ``default namespace [p] = "..."``."""
        tokens = self.tokens
        words: list[str] = []
        i = index
        while True:
            i = _next_significant(tokens, i)
            if i >= len(tokens) or tokens[i].kind != "name":
                break
            words.append(_decode_escapes(tokens[i].text))
            i += 1
            if words[-1] not in ("default", "namespace") or len(words) > 3:
                break
        j = _next_significant(tokens, i)
        if j >= len(tokens) or tokens[j].text != "=":
            return
        k = _next_significant(tokens, j + 1)
        if k >= len(tokens) or tokens[k].kind != "lit":
            return  # ``= inherit``
        value, _ = self.literal(k)
        if words[:2] == ["default", "namespace"]:
            self.namespaces[""] = value
            if len(words) > 2:
                self.namespaces[words[2]] = value
        elif words[:1] == ["namespace"] and len(words) > 1:
            self.namespaces[words[1]] = value

    def reference(self, index: int, keyword: str) -> int:
        """``include``/``external``: a marker rnc2rng passes through unchanged."""
        tokens = self.tokens
        line = tokens[index].line
        href, i = self.literal(index + 1)
        inherit: str | None = None
        if i < len(tokens) and tokens[i].text == "inherit":
            eq = _next_significant(tokens, i + 1)
            at = _next_significant(tokens, eq + 1)
            if eq >= len(tokens) or tokens[eq].text != "=" or at >= len(tokens):
                raise self.error(i, "'inherit' must be followed by '= prefix'")
            inherit = tokens[at].text
            i = _next_significant(tokens, at + 1)
        marker = f"{_MARK}{keyword}.{len(self.refs)}"
        self.refs[marker] = _Reference(keyword, href, inherit)
        if keyword == "external":
            self.emit(_Tok("name", marker, line))
            return i
        body = i < len(tokens) and tokens[i].text == "{"
        for text in ("div", " {", f" {marker}", " =", " notAllowed", " " if body else " }"):
            self.emit(_Tok("name", text, line))
        return i + 1 if body else i


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def rnc_to_rng(data: bytes | str, name: str = "<rnc>") -> etree._Element:
    """Convert RELAX NG compact syntax to the root ``grammar`` element of the XML syntax."""
    try:
        rnc2rng: Any = importlib.import_module("rnc2rng")
    except ImportError:  # pragma: no cover - a runtime dependency
        raise SchemaError(f"{name}: RELAX NG compact syntax needs the rnc2rng package") from None
    try:
        src = _decode(data) if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{name}: not UTF-8 or UTF-16: {exc}") from None
    src = src.replace("\r\n", "\n").replace("\r", "\n")
    rewriter = _Rewriter(src, name)
    rewritten = rewriter.run()
    if rewriter.empty():
        raise SchemaError(f"{name}: the schema is empty")
    refs, namespaces = rewriter.refs, rewriter.namespaces
    tree = _parse(rnc2rng, rewriter, rewritten)
    try:
        xml = rnc2rng.dumps(tree)
    except Exception as exc:  # rnc2rng's serializer asserts what it cannot write
        reason = str(exc) or type(exc).__name__
        raise SchemaError(f"{name}: cannot convert RELAX NG compact syntax: {reason}") from None
    for pua, entity in _PUA_XML.items():
        xml = xml.replace(pua, entity)
    try:
        root = etree.fromstring(xml.encode("utf-8"), make_parser())
    except etree.XMLSyntaxError as exc:
        raise SchemaError(f"{name}: RELAX NG compact conversion gave bad XML: {exc}") from None
    if len(root) == 0:
        raise SchemaError(f"{name}: the schema defines no patterns")
    _restore_references(root, refs, namespaces)
    if "" not in namespaces:
        _inherit_namespace(root)
    return root


def _inherit_namespace(root: etree._Element) -> None:
    """Without ``default namespace``, unprefixed element names inherit the namespace of
    the including file (``inherit``); rnc2rng writes ``ns=""``, which would not."""
    rng = f"{{{RNG_NS}}}"
    for name in root.iter(f"{rng}name"):
        if name.get("ns") != "":
            continue
        owner = next(
            (a for a in name.iterancestors() if a.tag in (f"{rng}element", f"{rng}attribute")),
            None,
        )
        if owner is not None and owner.tag == f"{rng}element":
            del name.attrib["ns"]


def _parse(rnc2rng: Any, rewriter: _Rewriter, src: str) -> Any:
    """rnc2rng's parse tree of the rewritten ``src``; a syntax error names the source line.

    rply hands rnc2rng's error handler an end-of-input token without a position, which
    the handler cannot report (an ``AttributeError``); the tokens therefore end with an
    explicit ``$end`` that has one, and an error there is "unexpected end of file".
    """
    parser = rnc2rng.parser
    rply_token: Any = importlib.import_module("rply.token")
    end = rply_token.Token("$end", "$end", rply_token.SourcePosition(len(src), 1, 1))

    def tokens() -> Iterator[Any]:
        yield from parser.lex(src)
        yield end

    try:
        return parser.parser.parse(tokens(), state=parser.State(None, src))
    except Exception as exc:  # rnc2rng's ParseError, rply's LexingError, assertions
        raise _syntax_error(exc, rewriter, src) from None


def _syntax_error(exc: Exception, rewriter: _Rewriter, src: str) -> SchemaError:
    """What rnc2rng failed on, at the user's line: its own messages name the rewritten
    text (lines shift where annotations were dropped) and show it."""
    name = rewriter.name
    token = getattr(exc, "token", None)
    position = getattr(token, "source_pos", None) or getattr(exc, "source_pos", None)
    offset = getattr(position, "idx", None)
    if token is not None and token.name == "$end":
        line = rewriter.last_line()
        what = "end of file" + rewriter.unclosed(line)
    elif isinstance(offset, int):
        line = rewriter.origin(offset)
        if token is None:
            what = f"character {src[offset : offset + 1]!r}"
        elif token.name == "LITERAL":
            what = f'literal "{_unmask(str(token.value))}"'
        else:
            what = repr(_unmask(str(token.value)))
    else:
        reason = str(exc) or type(exc).__name__
        return SchemaError(f"{name}: cannot convert RELAX NG compact syntax: {reason}")
    return SchemaError(f"{name}:{line}: RELAX NG compact syntax error: unexpected {what}")


def _unmask(text: str) -> str:
    """Undo :data:`_PUA` in a literal shown in a message."""
    for char, pua in _PUA.items():
        text = text.replace(pua, char)
    return text


def _restore_references(
    root: etree._Element, refs: dict[str, _Reference], namespaces: dict[str, str]
) -> None:
    rng = f"{{{RNG_NS}}}"
    for define in list(root.iter(f"{rng}define")):
        name = define.get("name", "")
        if not name.startswith(_MARK):
            continue
        div = define.getparent()
        assert div is not None
        div.remove(define)
        div.tag = f"{rng}include"
        _set_reference(div, refs[name], namespaces)
    for ref in list(root.iter(f"{rng}ref")):
        name = ref.get("name", "")
        if not name.startswith(_MARK):
            continue
        ref.tag = f"{rng}externalRef"
        del ref.attrib["name"]
        _set_reference(ref, refs[name], namespaces)


def _set_reference(elem: etree._Element, ref: _Reference, namespaces: dict[str, str]) -> None:
    elem.set("href", ref.href)
    ns = namespaces.get(ref.inherit if ref.inherit else "")
    if ns is not None:
        elem.set("ns", ns)


@dataclass(slots=True)
class CompiledRnc:
    """A compact schema compiled by the RELAX NG engine from its converted copy.

    Diagnostics name the ``.rnc`` file, not the converted copy in the cache.
    """

    schema: str
    inner: Any  # the RELAX NG engine's compiled schema
    converted: Path

    def check(self, doc: Document) -> Iterator[Diagnostic]:
        """Validate ``doc`` (the RELAX NG engine's findings, ``rng.*`` codes)."""
        for diag in self.inner.check(doc):
            yield diag if diag.schema == self.schema else replace(diag, schema=self.schema)

    def prepare(self, docs: Iterable[Document]) -> None:
        """Pass a batch on to the RELAX NG engine when it can use one."""
        prepare = getattr(self.inner, "prepare", None)
        if prepare is not None:
            prepare(docs)


def compile_rnc(path: Path) -> CompiledRnc:
    """Compile a ``.rnc`` schema: convert it (and the files it includes) to ``.rng`` in
    the cache, then compile that with the RELAX NG engine.

    References (``include``/``external``) resolve with the process's resolve options
    (:func:`teikit.schemas.resolve.default_options`): relative files next to it, URLs
    through catalogs and the cache.
    """
    from teikit.engines.relaxng import compile_relaxng
    from teikit.schemas.resolve import SchemaUnavailable, default_options, prepare_schema

    path = Path(path)
    try:
        converted = prepare_schema(str(path), default_options(), "rnc")
    except SchemaUnavailable as exc:
        raise SchemaError(f"{path}: {exc}") from None
    return CompiledRnc(str(path), compile_relaxng(converted), converted)


# --------------------------------------------------------------------------------------
# libxml2's errors on the converted copy, said of the user's files
# --------------------------------------------------------------------------------------

_NO_DEFINITION = re.compile(r"Reference (\S+) has no matching definition")
_NO_COMBINE = re.compile(r"Some defines for (\S+) needs the combine attribute")
_NO_START_COMBINE = re.compile(r"Some <start> element miss the combine attribute")
_NOT_OVERRIDDEN = re.compile(r"include (.+) has a define (\S+) but not the included grammar")


def closure_error(exc: RelaxNGCompileError, copy: Path) -> SchemaError:
    """libxml2's first complaint about a closure copied into the cache
    (:func:`teikit.schemas.resolve.prepare_schema`), told of the file it came from (the
    ``.rnc``, or a file it includes) with a line where one can be found: libxml2's lines
    are those of the generated copies, which the user never sees."""
    sources = _closure_sources(copy.parent)
    if not exc.entries or not sources:
        return exc
    filename, line, message = exc.entries[0]
    url = sources.get(Path(filename).name) if filename else sources.get(copy.name)
    if url is None:
        return exc
    shown, local = _source_of(url)
    for name, other in sources.items():  # libxml2 names included copies in its messages
        message = message.replace(str(copy.parent / name), _source_of(other)[0])
    found: int | None
    if shown.lower().endswith(".rnc"):
        wording, found = _explain_rnc(message, _rnc_text(local))
    else:
        wording = f"cannot compile RELAX NG schema: {message}"
        found = _original_line(Path(filename), line, local)
    where = f"{shown}:{found}" if found else shown
    return SchemaError(f"{where}: {wording}")


def _closure_sources(folder: Path) -> dict[str, str]:
    """Copy name -> source URL, from the ``.complete`` marker of a closure folder."""
    try:
        sources = json.loads((folder / ".complete").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(sources, dict):
        return {}
    return {str(k): v for k, v in sources.items() if isinstance(v, str)}


def _source_of(url: str) -> tuple[str, Path | None]:
    """The name to show for a closure's source, and where it is on disk."""
    if url.startswith("file:"):
        local = Path(unquote(urlsplit(url).path))
        return str(local), local
    return url, _cached(url)


def _cached(url: str) -> Path | None:
    """The local copy of a schema fetched from ``url`` (it was fetched to convert it)."""
    from teikit.schemas.resolve import SchemaUnavailable, default_options, resolve_schema

    try:
        return resolve_schema(url, default_options())
    except (SchemaUnavailable, SchemaError, OSError):
        return None


def _rnc_text(local: Path | None) -> str | None:
    """A compact source as :func:`rnc_to_rng` reads it (lines found in it are its lines)."""
    if local is None:
        return None
    try:
        return _decode(local.read_bytes()).replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def _explain_rnc(message: str, text: str | None) -> tuple[str, int | None]:
    """libxml2's message in the compact syntax's terms, with the line it is about."""
    defined, used = _pattern_names(text) if text is not None else ({}, {})
    if (m := _NO_DEFINITION.search(message)) is not None:
        name = m.group(1)
        return f"pattern '{name}' is used but not defined", _first(used.get(name))
    if (m := _NO_COMBINE.search(message)) or _NO_START_COMBINE.search(message):
        name = m.group(1) if m else "start"
        lines = defined.get(name, [])
        again = lines[1] if len(lines) > 1 else None
        return f"pattern '{name}' is defined more than once (combine with |= or &=)", again
    if (m := _NOT_OVERRIDDEN.search(message)) is not None:
        name = m.group(2)
        wording = f"include of {m.group(1)} overrides pattern '{name}', which it does not define"
        return wording, _first(defined.get(name))
    if "has no <start>" in message:
        return "the schema has no start pattern (start = ...)", None
    if "grammar has no children" in message:
        return "the schema defines no patterns", None
    return f"cannot compile RELAX NG schema: {message}", None


def _first(lines: list[int] | None) -> int | None:
    return lines[0] if lines else None


def _pattern_names(text: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Where each pattern name is defined (``name =``, ``|=``, ``&=``) and used, by line.

    Annotations, name classes (after ``element``, ``attribute`` and ``-``) and prefixes
    in declarations are not uses. A source that cannot be read gives nothing.
    """
    defined: dict[str, list[int]] = {}
    used: dict[str, list[int]] = {}
    try:
        tokens = [
            t for t in _tokenize(_decode_name_escapes(text), "") if t.kind not in ("ws", "comment")
        ]
    except SchemaError:
        return defined, used
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.text == "[" and tok.kind == "op":
            depth += 1
        elif tok.text == "]" and tok.kind == "op":
            depth = max(depth - 1, 0)
        if depth or tok.kind != "name" or ":" in tok.text:
            continue
        word = _decode_escapes(tok.text)
        before = tokens[i - 1].text if i else ""
        after = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if word in _KEYWORDS and not (word == "start" and after in ("=", "|=", "&=")):
            continue
        word = word.removeprefix("\\")
        if before in ("namespace", "datatypes", "element", "attribute", "-"):
            continue  # a prefix, or a name class
        if before == "=" and i > 1 and tokens[i - 2].text == "inherit":
            continue
        into = defined if after in ("=", "|=", "&=") else used
        into.setdefault(word, []).append(tok.line)
    return defined, used


def _original_line(copy: Path, line: int, local: Path | None) -> int | None:
    """The line in ``local`` (an XML schema) of the element at ``line`` in its ``copy``.

    The copy is the same tree written again, so the element is found by its position.
    """
    if local is None or line <= 0:
        return None
    try:
        copied = etree.parse(str(copy), make_parser()).getroot()
        original = etree.parse(str(local), make_parser()).getroot()
    except (OSError, etree.XMLSyntaxError):
        return None
    elem = next((e for e in copied.iter() if e.sourceline == line), None)
    if elem is None:
        return None
    steps: list[int] = []
    node: etree._Element | None = elem
    while node is not None and (parent := node.getparent()) is not None:
        steps.append(parent.index(node))
        node = parent
    target = original
    for step in reversed(steps):
        if step >= len(target):
            return None
        target = target[step]
    return target.sourceline
