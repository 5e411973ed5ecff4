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

import codecs
import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lxml import etree

from teikit.diagnostics import Diagnostic
from teikit.errors import SchemaError
from teikit.loading import Document, make_parser

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
        return "".join(t.text for t in self.out)

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
    refs, namespaces = rewriter.refs, rewriter.namespaces
    try:
        xml = rnc2rng.dumps(rnc2rng.loads(rewritten))
    except Exception as exc:  # rnc2rng raises its parser's errors and assertions
        raise SchemaError(f"{name}: cannot convert RELAX NG compact syntax: {_why(exc)}") from None
    for pua, entity in _PUA_XML.items():
        xml = xml.replace(pua, entity)
    try:
        root = etree.fromstring(xml.encode("utf-8"), make_parser())
    except etree.XMLSyntaxError as exc:
        raise SchemaError(f"{name}: RELAX NG compact conversion gave bad XML: {exc}") from None
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


def _why(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    position = getattr(exc, "source_pos", None) or (exc.args[1] if len(exc.args) > 1 else None)
    lineno = getattr(position, "lineno", None)
    return f"line {lineno}: {text}" if lineno else text


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
