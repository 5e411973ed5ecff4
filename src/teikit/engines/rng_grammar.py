"""Preparing a RELAX NG grammar (XML syntax) so that libxml2 validates TEI quickly.

libxml2 is fast at validating and slow at what TEI schemas provoke:

* **compiling**: ``tei_all`` takes it 6–9 s. Measured: the time goes into elements
  whose patterns list content and attribute references side by side (an implicit
  group); with each element's content wrapped in one ``group``, and ``notAllowed`` and
  ``empty`` folded away (RELAX NG §4.19), the same grammar compiles in about 0.05 s.
* **backtracking** on a repetition nested in a repetition, ``(A+, B*)+``, which TEI uses
  for ``listBibl``, ``listPerson`` and five more (13 s for a ``listBibl`` of 2,800
  entries). :func:`prepare` rewrites it into the equivalent ``A, (A | B)*`` when ``A``
  and ``B`` are made of elements only (no attributes, text or data, where the two
  spellings could differ).
* **interpreting** content models that hold attributes: libxml2 runs an element's
  content as an automaton only when no attribute pattern is in it, and every TEI
  element allows dozens. A document can only match element patterns whose names it
  contains, and attribute patterns for attributes it carries on that element, so
  :meth:`PreparedGrammar.specialize` replaces every other one by ``notAllowed`` and
  emits what is still reachable: a few hundred patterns that compile in a millisecond
  and give the document the verdict of the full grammar.

:func:`prepare` first resolves ``include`` (with overriding definitions), ``externalRef``,
``div``, nested ``grammar``/``parentRef`` and ``combine`` into one flat set of definitions,
normalising names and datatype libraries so that patterns can move between files. What
it does not handle raises :class:`GrammarUnsupported`, and the caller compiles the schema
as it is: slower, never wrong. :func:`prepare_cached` keeps the result on disk.
:class:`ContentModels` answers, for messages, which child elements may come where.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urljoin, urlparse

from lxml import etree

RNG_NS: Final = "http://relaxng.org/ns/structure/1.0"
_R: Final = f"{{{RNG_NS}}}"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

# Pattern element names (local) of the full syntax.
_CONTAINERS: Final = frozenset(
    {"choice", "group", "interleave", "oneOrMore", "zeroOrMore", "optional", "mixed", "list"}
)
_LEAVES: Final = frozenset({"empty", "notAllowed", "text"})
#: Patterns the ``(A+, B*)+`` rewrite accepts inside ``A`` and ``B`` (outside elements).
_ELEMENT_ONLY: Final = frozenset(
    {
        "element",
        "ref",
        "choice",
        "group",
        "optional",
        "zeroOrMore",
        "oneOrMore",
        "empty",
        "notAllowed",
    }
)


class GrammarUnsupported(Exception):
    """The schema uses something :func:`prepare` does not handle; compile it unchanged."""


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Results of specialising a pattern that need no element of their own.
NOT_ALLOWED: Final = _Sentinel("NOT_ALLOWED")
EMPTY: Final = _Sentinel("EMPTY")
_Pattern = etree._Element | _Sentinel


def rng(local: str) -> str:
    """Clark name of a RELAX NG element."""
    return _R + local


def local(elem: etree._Element) -> str:
    """Local name of a RELAX NG element ('' for anything else)."""
    tag = elem.tag
    found = _LOCAL.get(tag)  # type: ignore[arg-type]
    if found is None:
        found = tag[len(_R) :] if isinstance(tag, str) and tag.startswith(_R) else ""
        if isinstance(tag, str):
            _LOCAL[tag] = found
    return found


_LOCAL: dict[str, str] = {}


def clark(ns: str, name: str) -> str:
    """``{ns}name`` as lxml spells tags; no braces for the empty namespace."""
    return f"{{{ns}}}{name}" if ns else name


def children(elem: etree._Element) -> list[etree._Element]:
    """The RELAX NG children of ``elem`` (annotations were removed by :func:`prepare`)."""
    return [c for c in elem if isinstance(c.tag, str)]


def plain_name(elem: etree._Element) -> str | None:
    """Clark name of an ``element``/``attribute`` pattern with a single plain name."""
    name = elem.get("name")
    if name is not None:
        return clark(elem.get("ns", ""), name)
    first = children(elem)[0] if len(elem) else None
    if first is not None and local(first) == "name":
        return clark(first.get("ns", ""), (first.text or "").strip())
    return None


# --------------------------------------------------------------------------------------
# Loading and normalising one file
# --------------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities="internal",
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        huge_tree=True,
    )


def _file_of(href: str, base: str | None) -> Path:
    url = urljoin(base or "", href)
    parsed = urlparse(url)
    if parsed.scheme not in ("", "file"):
        raise GrammarUnsupported(f"{href}: only local files can be included")
    return Path(unquote(parsed.path))


def _load(
    path: Path, inherited_ns: str, stack: tuple[Path, ...], sources: list[Path]
) -> etree._Element:
    """Parse ``path``, drop annotations and make names and datatypes explicit (§4.2–4.10)."""
    resolved = path.resolve()
    if resolved in stack:
        raise GrammarUnsupported(f"{path}: included recursively")
    sources.append(resolved)
    try:
        root = etree.parse(str(path), _parser()).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise GrammarUnsupported(f"{path}: {exc}") from None
    if local(root) == "":
        raise GrammarUnsupported(f"{path}: not a RELAX NG schema")
    if root.get("ns") is None:
        root.set("ns", inherited_ns)
    _normalise(root, "", "")
    return root


def _normalise(elem: etree._Element, ns: str, library: str) -> None:
    """Strip annotations and whitespace; write inherited ``ns``/``datatypeLibrary`` out."""
    ns = elem.get("ns", ns)
    library = elem.get("datatypeLibrary", library)
    kind = local(elem)
    for attr in list(elem.attrib):
        if attr.startswith("{"):
            del elem.attrib[attr]  # foreign attributes are annotations
    if kind in ("element", "attribute") and elem.get("name") is not None:
        qname = elem.get("name", "").strip()
        if ":" in qname:
            name, uri = _resolve_qname(elem, qname)
            elem.set("name", name)
            elem.set("ns", uri)
        else:
            elem.set("name", qname)
            elem.set("ns", ns if kind == "element" else elem.get("ns", ""))
    elif kind == "name":
        qname = (elem.text or "").strip()
        if ":" in qname:
            elem.text, uri_ns = _resolve_qname(elem, qname)
        else:
            elem.text, uri_ns = qname, ns
        elem.set("ns", uri_ns)
    elif kind in ("nsName", "value"):
        elem.set("ns", ns)
    if kind == "value":
        if elem.get("type") is None:
            elem.set("type", "token")
            elem.set("datatypeLibrary", "")
        else:
            elem.set("datatypeLibrary", library)
            if elem.get("type", "").strip() == "QName":
                raise GrammarUnsupported("QName values depend on the namespace context")
    elif kind == "data":
        elem.set("datatypeLibrary", library)
    if kind not in ("value", "param", "name"):
        elem.text = None
    for child in list(elem):
        child.tail = None
        if not isinstance(child.tag, str) or local(child) == "":
            elem.remove(child)
        else:
            _normalise(child, ns, library)


def _resolve_qname(elem: etree._Element, qname: str) -> tuple[str, str]:
    prefix, name = qname.split(":", 1)
    uri = XML_NS if prefix == "xml" else elem.nsmap.get(prefix)
    if uri is None:
        raise GrammarUnsupported(f"undeclared prefix in name {qname!r}")
    return name, uri


# --------------------------------------------------------------------------------------
# Flattening: includes, externalRef, div, nested grammars, combine
# --------------------------------------------------------------------------------------


@dataclass
class _Component:
    kind: str  # "start" or "define"
    name: str  # "" for start
    combine: str | None
    body: list[etree._Element]  # the patterns inside


@dataclass
class _Flattener:
    defines: dict[str, etree._Element] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    #: Every file read, for caches to know when the grammar is out of date.
    sources: list[Path] = field(default_factory=list)

    def grammar(
        self,
        grammar: etree._Element,
        parent: Mapping[str, str] | None,
        stack: tuple[Path, ...],
    ) -> etree._Element:
        """Flatten ``grammar`` into ``self.defines``; return its start pattern."""
        comps = self._components(grammar, stack)
        names: dict[str, str] = {}
        for comp in comps:
            if comp.kind == "define" and comp.name not in names:
                unique = comp.name
                n = 1
                while unique in self.used_names:
                    n += 1
                    unique = f"{comp.name}__{n}"
                self.used_names.add(unique)
                names[comp.name] = unique
        starts = [c for c in comps if c.kind == "start"]
        if not starts:
            raise GrammarUnsupported("grammar without start")
        start = _combine(starts)
        resolve = _Resolver(self, names, parent, stack)
        by_name: dict[str, list[_Component]] = {}
        for comp in comps:
            if comp.kind == "define":
                by_name.setdefault(comp.name, []).append(comp)
        for name, group in by_name.items():
            holder = etree.Element(rng("define"), name=names[name])
            holder.append(resolve.pattern(_combine(group)))
            self.defines[names[name]] = holder
        return resolve.pattern(start)

    def _components(self, grammar: etree._Element, stack: tuple[Path, ...]) -> list[_Component]:
        comps: list[_Component] = []
        for child in children(grammar):
            kind = local(child)
            if kind in ("start", "define"):
                body = children(child)
                if not body:
                    raise GrammarUnsupported(f"empty {kind}")
                comps.append(
                    _Component(kind, child.get("name", "").strip(), child.get("combine"), body)
                )
            elif kind == "div":
                comps.extend(self._components(child, stack))
            elif kind == "include":
                comps.extend(self._include(child, stack))
            else:
                raise GrammarUnsupported(f"unexpected <{kind}> in grammar")
        return comps

    def _include(self, inc: etree._Element, stack: tuple[Path, ...]) -> list[_Component]:
        path = _file_of(inc.get("href", "").strip(), inc.base)
        root = _load(path, inc.get("ns", _inherited_ns(inc)), stack, self.sources)
        if local(root) != "grammar":
            raise GrammarUnsupported(f"{path}: included file is not a grammar")
        included = self._components(root, (*stack, path.resolve()))
        overrides = self._components(inc, stack)
        for comp in overrides:
            key = (comp.kind, comp.name)
            if not any((c.kind, c.name) == key for c in included):
                raise GrammarUnsupported(f"include overrides {comp.kind} {comp.name!r} it lacks")
        keys = {(c.kind, c.name) for c in overrides}
        return [c for c in included if (c.kind, c.name) not in keys] + overrides


def _inherited_ns(elem: etree._Element) -> str:
    node: etree._Element | None = elem
    while node is not None:
        value = node.get("ns")
        if value is not None:
            return value
        node = node.getparent()
    return ""


def _combine(comps: list[_Component]) -> etree._Element:
    """One pattern for the definitions of one name (or the starts), per ``combine``."""
    bodies = [_as_one(c.body) for c in comps]
    if len(bodies) == 1:
        return bodies[0]
    methods = {c.combine for c in comps if c.combine}
    if len(methods) != 1 or sum(1 for c in comps if not c.combine) > 1:
        raise GrammarUnsupported("inconsistent combine")
    combined = etree.Element(rng(methods.pop() or "choice"))
    combined.extend(bodies)
    return combined


def _as_one(patterns: list[etree._Element]) -> etree._Element:
    if len(patterns) == 1:
        return patterns[0]
    group = etree.Element(rng("group"))
    group.extend(patterns)
    return group


@dataclass
class _Resolver:
    """Rewrites the patterns of one grammar: refs to unique names, nested grammars inline."""

    flattener: _Flattener
    names: Mapping[str, str]
    parent: Mapping[str, str] | None
    stack: tuple[Path, ...]

    def pattern(self, elem: etree._Element) -> etree._Element:
        kind = local(elem)
        if kind == "ref":
            target = self.names.get(elem.get("name", "").strip())
            if target is None:
                raise GrammarUnsupported(f"reference to undefined {elem.get('name')!r}")
            elem.attrib.clear()
            elem.set("name", target)
            return elem
        if kind == "parentRef":
            name = elem.get("name", "").strip()
            if self.parent is None or name not in self.parent:
                raise GrammarUnsupported(f"parentRef to undefined {name!r}")
            ref = etree.Element(rng("ref"), name=self.parent[name])
            return ref
        if kind == "grammar":
            return self.flattener.grammar(elem, self.names, self.stack)
        if kind == "externalRef":
            path = _file_of(elem.get("href", "").strip(), elem.base)
            root = _load(
                path, elem.get("ns", _inherited_ns(elem)), self.stack, self.flattener.sources
            )
            inner = _Resolver(
                self.flattener, self.names, self.parent, (*self.stack, path.resolve())
            )
            return inner.pattern(root)
        if kind in ("element", "attribute"):
            kids = children(elem)
            if elem.get("name") is None:
                kids = kids[1:]  # the name class stays as it is
            self._children(elem, kids)
            return elem
        if kind in _CONTAINERS or kind in ("define", "start"):
            self._children(elem, children(elem))
            return elem
        if kind == "data":
            for child in children(elem):
                if local(child) == "except":
                    self._children(child, children(child))
            return elem
        if kind in _LEAVES or kind == "value":
            return elem
        raise GrammarUnsupported(f"unexpected <{kind}> in a pattern")

    def _children(self, parent: etree._Element, kids: list[etree._Element]) -> None:
        for kid in kids:
            new = self.pattern(kid)
            if new is not kid:
                parent.replace(kid, new)


# --------------------------------------------------------------------------------------
# The prepared grammar
# --------------------------------------------------------------------------------------


class PreparedGrammar:
    """One flat grammar: a start pattern and uniquely named definitions.

    ``start`` is a ``<start>`` and each value of ``defines`` a ``<define>``, each holding
    exactly one pattern; names and datatype libraries are explicit on every pattern. A
    grammar read back from :func:`prepare_cached` builds these trees on first use only
    (messages need them; specialising does not).
    """

    def __init__(
        self,
        start: etree._Element | None,
        defines: dict[str, etree._Element] | None,
        *,
        rewrites: int = 0,
        sources: tuple[Path, ...] = (),
        text: str | None = None,
    ) -> None:
        self._start = start
        self._defines = defines
        self._text = text
        #: How many ``(A+, B*)+`` patterns were rewritten.
        self.rewrites = rewrites
        #: The files the grammar was read from (the schema and what it includes).
        self.sources = sources
        self._plan: _Plan | None = None

    def __repr__(self) -> str:
        return f"<PreparedGrammar from {self.sources[0] if self.sources else '?'}>"

    @property
    def start(self) -> etree._Element:
        if self._start is None:
            self._trees()
        assert self._start is not None
        return self._start

    @property
    def defines(self) -> dict[str, etree._Element]:
        if self._defines is None:
            self._trees()
        assert self._defines is not None
        return self._defines

    def _trees(self) -> None:
        assert self._text is not None
        root = etree.fromstring(self._text)
        self._start = root[0]
        self._defines = {d.get("name", ""): d for d in root[1:]}

    def text(self) -> str:
        """The grammar as XML text (what :func:`prepare_cached` stores)."""
        if self._text is None:
            parts = [f'<grammar xmlns="{RNG_NS}">', _xml(self.start)]
            parts.extend(_xml(d) for d in self.defines.values())
            parts.append("</grammar>")
            self._text = "".join(parts)
        return self._text

    def plan(self) -> _Plan:
        """The precomputed specialiser (built on first use)."""
        if self._plan is None:
            self._plan = _Plan(self)
        return self._plan

    def specialize(self, names: Iterable[str] | None) -> etree._Element:
        """A grammar in which element patterns not named in ``names`` are ``notAllowed``.

        Any document whose element names all lie in ``names`` gets the same verdict from
        it as from the full grammar (``None`` keeps every element). Patterns are copied;
        the prepared grammar is never changed.
        """
        return etree.fromstring(self.specialize_text(names))

    def specialize_text(self, names: Iterable[str] | None) -> str:
        """:meth:`specialize` as XML text (what libxml2 parses; cheaper to build)."""
        return self.plan().emit(None if names is None else frozenset(names))

    def simplified(self) -> etree._Element:
        """The whole grammar simplified (``notAllowed`` and ``empty`` removed), as a tree."""
        return _Specializer(self, None).run()


def prepare(path: str | Path) -> PreparedGrammar:
    """Load ``path`` into one flat grammar and rewrite ``(A+, B*)+`` patterns."""
    path = Path(path)
    flattener = _Flattener()
    root = _load(path, "", (), flattener.sources)
    return _prepare_root(root, flattener, path.resolve())


def prepare_tree(root: etree._Element) -> PreparedGrammar:
    """:func:`prepare` for a schema in memory (``root`` itself is left unchanged).

    Relative ``include`` and ``externalRef`` are resolved against ``root.base``.
    """
    base = root.base or ""
    text = etree.tostring(root)
    try:
        copied = etree.fromstring(text, _parser(), base_url=base or None)
    except etree.XMLSyntaxError as exc:
        raise GrammarUnsupported(str(exc)) from None
    if local(copied) == "":
        raise GrammarUnsupported("not a RELAX NG schema")
    if copied.get("ns") is None:
        copied.set("ns", "")
    _normalise(copied, "", "")
    top = _file_of(base, None) if base else Path("<memory>")
    return _prepare_root(copied, _Flattener(), top)


def _prepare_root(root: etree._Element, flattener: _Flattener, top: Path) -> PreparedGrammar:
    if local(root) == "grammar":
        pattern = flattener.grammar(root, None, (top,))
    else:
        pattern = _Resolver(flattener, {}, None, (top,)).pattern(root)
    start = etree.Element(rng("start"))
    start.append(pattern)
    defines = _reachable(start, flattener.defines)
    grammar = PreparedGrammar(start, defines, sources=tuple(flattener.sources))
    grammar.rewrites = _rewrite_nested_repetitions(grammar)
    return grammar


#: Bump when what :func:`prepare_cached` stores changes shape or meaning.
CACHE_FORMAT: Final = 1


def prepare_cached(
    path: str | Path,
    cache_dir: Path | None,
    verify: Callable[[PreparedGrammar], object] | None = None,
) -> PreparedGrammar:
    """:func:`prepare`, kept under ``cache_dir`` between runs (None: no cache).

    ``verify`` runs on a grammar just prepared, before it is stored; what it raises
    propagates and nothing is stored (so a stored grammar has passed it once).

    An entry is keyed by the schema's path, size and modification time and by the
    versions of Python, lxml, libxml2 and this module, and is used only while every file
    the grammar was read from is unchanged. It holds the prepared grammar as text and the
    specialiser's plan (``marshal``: plain data, no code). Entries are written atomically
    and checked by a digest; a problem reading or writing one means preparing again.
    """
    path = Path(path)
    entry: Path | None = None
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            entry = cache_dir / f"{_cache_key(path)}.rngplan"
    if entry is not None:
        cached = _read_entry(entry)
        if cached is not None:
            return cached
    grammar = prepare(path)
    if verify is not None:
        verify(grammar)
    if entry is not None:
        _write_entry(entry, grammar)
    return grammar


def _cache_key(path: Path) -> str:
    st = path.stat()
    ident = (
        CACHE_FORMAT,
        sys.version,
        etree.LXML_VERSION,
        etree.LIBXML_VERSION,
        Path(__file__).stat().st_mtime_ns,
        str(path.resolve()),
        st.st_mtime_ns,
        st.st_size,
    )
    return hashlib.sha256(repr(ident).encode()).hexdigest()[:40]


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def _read_entry(entry: Path) -> PreparedGrammar | None:
    try:
        data = entry.read_bytes()
        digest, payload = data[:32], data[32:]
        if hashlib.sha256(payload).digest() != digest:
            return None
        sources, text, rewrites, plan = marshal.loads(payload)
        if any(_stamp(Path(name)) != (name, mtime, size) for name, mtime, size in sources):
            return None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    grammar = PreparedGrammar(
        None, None, rewrites=rewrites, sources=tuple(Path(s[0]) for s in sources), text=text
    )
    grammar._plan = _Plan.restore(plan)
    return grammar


def _write_entry(entry: Path, grammar: PreparedGrammar) -> None:
    temporary = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        sources = tuple(_stamp(p) for p in grammar.sources)
        payload = marshal.dumps((sources, grammar.text(), grammar.rewrites, grammar.plan().dump()))
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(hashlib.sha256(payload).digest() + payload)
        temporary.replace(entry)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            temporary.unlink()


def _refs(pattern: etree._Element) -> Iterator[str]:
    for ref in pattern.iter(rng("ref")):
        yield ref.get("name", "")


def _reachable(
    start: etree._Element, defines: dict[str, etree._Element]
) -> dict[str, etree._Element]:
    todo = list(_refs(start))
    seen: dict[str, etree._Element] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defines:
            raise GrammarUnsupported(f"reference to undefined {name!r}")
        seen[name] = defines[name]
        todo.extend(_refs(defines[name]))
    return {name: seen[name] for name in defines if name in seen}


# --------------------------------------------------------------------------------------
# (A+, B*)+  ->  A, (A | B)*
# --------------------------------------------------------------------------------------


def _rewrite_nested_repetitions(grammar: PreparedGrammar) -> int:
    """Rewrite every repetition of ``(A+, B*)`` (or ``(A, B*)``) into ``A, (A | B)*``.

    ``(A+, B*)+`` and ``A, (A | B)*`` denote the same sequences: both are the non-empty
    sequences of ``A`` and ``B`` that begin with an ``A``. The rewrite is applied only when
    ``A`` and ``B`` consist of elements (through references, not into them), where
    patterns denote plain sequences; ``*`` around the repetition gives ``optional``.
    """
    memo: dict[str, bool] = {}

    def element_only(pattern: etree._Element) -> bool:
        kind = local(pattern)
        if kind not in _ELEMENT_ONLY:
            return False
        if kind == "element":
            return True
        if kind == "ref":
            name = pattern.get("name", "")
            if name not in memo:
                memo[name] = False  # cycles without an element are not allowed anyway
                memo[name] = element_only(grammar.defines[name][0])
            return memo[name]
        return all(element_only(c) for c in children(pattern))

    count = 0
    for holder in (grammar.start, *grammar.defines.values()):
        # Innermost first, so that a rewritten pattern is copied with its inner rewrites.
        for outer in reversed(list(holder.iter(rng("oneOrMore"), rng("zeroOrMore")))):
            replacement = _rewritten(outer, element_only)
            parent = outer.getparent()
            if replacement is not None and parent is not None:
                parent.replace(outer, replacement)
                count += 1
    return count


def _rewritten(
    outer: etree._Element, element_only: Callable[[etree._Element], bool]
) -> etree._Element | None:
    items = children(outer)
    if len(items) == 1 and local(items[0]) == "group":
        items = children(items[0])
    if len(items) != 2 or local(items[1]) != "zeroOrMore":
        return None
    first, rest = items
    a_parts = children(first) if local(first) == "oneOrMore" else [first]
    b_parts = children(rest)
    if not a_parts or not b_parts:
        return None
    if not all(element_only(p) for p in (*a_parts, *b_parts)):
        return None
    seq = etree.Element(rng("group"))
    seq.extend(copy.deepcopy(p) for p in a_parts)
    star = etree.SubElement(seq, rng("zeroOrMore"))
    alt = etree.SubElement(star, rng("choice"))
    alt.append(_as_one([copy.deepcopy(p) for p in a_parts]))
    alt.append(_as_one([copy.deepcopy(p) for p in b_parts]))
    if local(outer) == "zeroOrMore":
        opt = etree.Element(rng("optional"))
        opt.append(seq)
        return opt
    return seq


# --------------------------------------------------------------------------------------
# Specialisation
# --------------------------------------------------------------------------------------


class _Specializer:
    """Copies what a name set keeps of a grammar, simplifying ``notAllowed`` away (§4.19).

    ``element`` patterns are never simplified away because of their content: an element
    whose content cannot match stays, with ``notAllowed`` content, so that libxml2
    reports the problem on that element rather than on an ancestor. Element content is
    copied after the element itself (a work list), so recursion, which RELAX NG allows
    only through elements, never recurses here.
    """

    def __init__(self, grammar: PreparedGrammar, names: frozenset[str] | None) -> None:
        self.grammar = grammar
        self.names = names
        self.status: dict[str, _Pattern] = {}
        self.active: set[str] = set()
        self.referenced: set[str] = set()
        self.work: list[tuple[etree._Element, list[etree._Element]]] = []

    def run(self) -> etree._Element:
        root = etree.Element(rng("grammar"), nsmap={None: RNG_NS})
        start = etree.SubElement(root, rng("start"))
        _put(start, self.tx(self.grammar.start[0]))
        while self.work:
            new, kids = self.work.pop()
            _put(new, self.seq(kids))
        for name in self.grammar.defines:
            if name in self.referenced:
                result = self.status[name]
                assert isinstance(result, etree._Element)
                define = etree.SubElement(root, rng("define"), name=name)
                define.append(result)
        return root

    def define(self, name: str) -> _Pattern:
        if name not in self.status:
            if name in self.active:
                raise GrammarUnsupported(f"{name!r} refers to itself outside an element")
            self.active.add(name)
            self.status[name] = self.tx(self.grammar.defines[name][0])
            self.active.discard(name)
        return self.status[name]

    def keeps(self, name_class: etree._Element | None, elem: etree._Element) -> bool:
        if self.names is None:
            return True
        if name_class is None:
            return clark(elem.get("ns", ""), elem.get("name", "")) in self.names
        if local(name_class) == "name":
            return clark(name_class.get("ns", ""), name_class.text or "") in self.names
        return True  # anyName, nsName, choice of names: kept

    def tx(self, p: etree._Element) -> _Pattern:
        kind = local(p)
        if kind == "ref":
            name = p.get("name", "")
            result = self.define(name)
            if isinstance(result, _Sentinel):
                return result
            self.referenced.add(name)
            return etree.Element(rng("ref"), name=name)
        if kind == "element":
            kids = children(p)
            if p.get("name") is not None:
                if not self.keeps(None, p):
                    return NOT_ALLOWED
                new = etree.Element(rng("element"), name=p.get("name", ""), ns=p.get("ns", ""))
            else:
                if not self.keeps(kids[0], p):
                    return NOT_ALLOWED
                new = etree.Element(rng("element"))
                new.append(copy.deepcopy(kids[0]))
                kids = kids[1:]
            self.work.append((new, kids))
            return new
        if kind == "choice":
            alive: list[etree._Element] = []
            has_empty = False
            for kid in children(p):
                r = self.tx(kid)
                if r is EMPTY:
                    has_empty = True
                elif isinstance(r, etree._Element):
                    alive.append(r)
            if not alive:
                return EMPTY if has_empty else NOT_ALLOWED
            one = alive[0] if len(alive) == 1 else _wrap("choice", alive)
            return _wrap("optional", [one]) if has_empty else one
        if kind in ("group", "interleave"):
            return self.seq(children(p), kind)
        if kind == "oneOrMore":
            r = self.seq(children(p))
            return _wrap("oneOrMore", [r]) if isinstance(r, etree._Element) else r
        if kind in ("zeroOrMore", "optional"):
            r = self.seq(children(p))
            return _wrap(kind, [r]) if isinstance(r, etree._Element) else EMPTY
        if kind == "mixed":
            r = self.seq(children(p))
            if isinstance(r, etree._Element):
                return _wrap("mixed", [r])
            return NOT_ALLOWED if r is NOT_ALLOWED else etree.Element(rng("text"))
        if kind == "list":
            r = self.seq(children(p))
            if isinstance(r, etree._Element):
                return _wrap("list", [r])
            return NOT_ALLOWED if r is NOT_ALLOWED else _wrap("list", [etree.Element(rng("empty"))])
        if kind == "attribute":
            kids = children(p)
            if (
                self.names is not None
                and p.get("name") is not None
                and attribute_key(clark(p.get("ns", ""), p.get("name", ""))) not in self.names
            ):
                return NOT_ALLOWED
            new = etree.Element(rng("attribute"), dict(p.attrib))
            if p.get("name") is None:
                new.append(copy.deepcopy(kids[0]))
                kids = kids[1:]
            if kids:
                r = self.seq(kids)
                if r is NOT_ALLOWED:
                    return NOT_ALLOWED
                _put(new, r)
            return new
        if kind == "data":
            new = etree.Element(rng("data"), dict(p.attrib))
            for kid in children(p):
                if local(kid) != "except":
                    new.append(copy.deepcopy(kid))
                    continue
                kept = [r for r in map(self.tx, children(kid)) if isinstance(r, etree._Element)]
                if kept:
                    etree.SubElement(new, rng("except")).extend(kept)
            return new
        if kind == "notAllowed":
            return NOT_ALLOWED
        if kind == "empty":
            return EMPTY
        return copy.deepcopy(p)  # text, value

    def seq(self, kids: list[etree._Element], kind: str = "group") -> _Pattern:
        kept: list[etree._Element] = []
        for kid in kids:
            r = self.tx(kid)
            if r is NOT_ALLOWED:
                return NOT_ALLOWED
            if isinstance(r, etree._Element):
                kept.append(r)
        if not kept:
            return EMPTY
        return kept[0] if len(kept) == 1 else _wrap(kind, kept)


def _wrap(kind: str, items: list[etree._Element]) -> etree._Element:
    new = etree.Element(rng(kind))
    new.extend(items)
    return new


def _put(parent: etree._Element, pattern: _Pattern) -> None:
    if pattern is NOT_ALLOWED:
        etree.SubElement(parent, rng("notAllowed"))
    elif pattern is EMPTY:
        etree.SubElement(parent, rng("empty"))
    else:
        assert isinstance(pattern, etree._Element)
        parent.append(pattern)


# --------------------------------------------------------------------------------------
# The same specialisation, fast: a plan evaluated into XML text
# --------------------------------------------------------------------------------------

# Plan nodes (tuples, for speed):
#   ("S", xml, deps, state)           a pattern no name set changes: xml is None for
#                                     notAllowed and "" for empty; deps are the
#                                     definitions it refers to; state as in _Run.state
#   ("ref", name, inline)             a reference to a definition some name set changes;
#                                     inline: the definition holds attributes and no
#                                     elements, and is copied into each element using it
#   ("element", key, open, content)   key: the Clark name, or None for a name class
#   ("attr", key, static)             an attribute with a plain name (its Clark name)
#   (container, [nodes])              choice, group, interleave, oneOrMore, zeroOrMore,
#                                     optional, mixed
_Node = tuple[Any, ...]
_DYNAMIC_CONTAINERS: Final = frozenset(
    {"choice", "group", "interleave", "oneOrMore", "zeroOrMore", "optional", "mixed"}
)


def attribute_key(attribute: str, element: str | None = None) -> str:
    """How an attribute is spelled in a name set: ``@`` + its Clark name, anywhere, or
    ``<element Clark name> @<attribute Clark name>`` on one element (elements are
    spelled as their Clark names)."""
    return f"{element} @{attribute}" if element is not None else "@" + attribute


class _Plan:
    """:class:`_Specializer` precomputed: what no name set can change is XML text already.

    Datatypes and every definition without an element or a named attribute in reach are
    simplified once; what remains (element and attribute patterns and the classes that
    choose between them) is a tree of tuples that :meth:`emit` walks per name set.
    """

    def __init__(self, grammar: PreparedGrammar) -> None:
        self.static = _Specializer(grammar, None)
        defines = grammar.defines
        self.dynamic: set[str] = set()
        referrers: dict[str, set[str]] = {}
        todo: list[str] = []
        for name, holder in defines.items():
            for e in holder.iter(rng("element"), rng("ref"), rng("attribute")):
                if local(e) == "ref":
                    referrers.setdefault(e.get("name", ""), set()).add(name)
                elif (local(e) == "element" or e.get("name") is not None) and (
                    name not in self.dynamic
                ):
                    self.dynamic.add(name)
                    todo.append(name)
        while todo:
            for user in referrers.get(todo.pop(), ()):
                if user not in self.dynamic:
                    self.dynamic.add(user)
                    todo.append(user)
        # Definitions with elements in reach are shared; the others (attribute classes)
        # are copied into each element, pruned to the attributes it carries.
        with_elements = {n for n, h in defines.items() if any(True for _ in h.iter(rng("element")))}
        todo = list(with_elements)
        while todo:
            for user in referrers.get(todo.pop(), ()):
                if user not in with_elements:
                    with_elements.add(user)
                    todo.append(user)
        self.inline = self.dynamic - with_elements
        self.static_xml: dict[str, str | None] = {}
        self.static_deps: dict[str, frozenset[str]] = {}
        self.nodes = {name: self.node(defines[name][0]) for name in self.dynamic}
        self.start = self.node(grammar.start[0])
        self.order = {name: i for i, name in enumerate(defines)}
        # Choices of elements (TEI's model classes): their state is a set intersection.
        self.choices: dict[str, tuple[frozenset[str], int]] = {}
        seen: set[str] = set()
        for name in self.nodes:
            self._pure_define(name, seen)
        # Attribute classes on an element that carries none of their attributes: the
        # same answer every time, worked out once.
        self._absent: dict[str, tuple[frozenset[str], int, str | None, frozenset[str]]] = {}

    def absent(self, name: str) -> tuple[frozenset[str], int, str | None, frozenset[str]]:
        """For an attribute class: its attribute names, and its state, text and static
        references on an element that carries none of them."""
        found = self._absent.get(name)
        if found is None:
            names: set[str] = set()
            self._attributes_of(self.nodes[name], names, set())
            run = _Run(self, frozenset())
            text = run.xml(self.nodes[name], "")
            state = run.state(self.nodes[name], "")
            found = (frozenset(names), state, text, frozenset(run.statics))
            self._absent[name] = found
        return found

    def _attributes_of(self, node: _Node, found: set[str], seen: set[str]) -> None:
        kind = node[0]
        if kind == "attr":
            found.add(node[1])
        elif kind == "ref":
            if node[1] not in seen:
                seen.add(node[1])
                self._attributes_of(self.nodes[node[1]], found, seen)
        elif kind == "element":
            self._attributes_of(node[3], found, seen)
        elif kind != "S":
            for child in node[1]:
                self._attributes_of(child, found, seen)

    def _pure_define(self, name: str, seen: set[str]) -> tuple[frozenset[str], int] | None:
        if name not in seen:
            seen.add(name)
            found = self._pure(self.nodes[name], seen)
            if found is not None:
                self.choices[name] = found
        return self.choices.get(name)

    def _pure(self, node: _Node, seen: set[str]) -> tuple[frozenset[str], int] | None:
        """For a node made of choices, references and elements only: the element names
        that make it a pattern, and the best state its other members give (0–2)."""
        kind = node[0]
        if kind == "S":
            return frozenset(), node[3]
        if kind == "element":
            return (frozenset(), 2) if node[1] is None else (frozenset({node[1]}), 0)
        if kind == "ref":
            return None if node[2] else self._pure_define(node[1], seen)
        if kind != "choice":
            return None
        parts = [self._pure(k, seen) for k in node[1]]
        if any(p is None for p in parts):
            return None
        names = frozenset().union(*(p[0] for p in parts if p is not None))
        return names, max(p[1] for p in parts if p is not None)

    def dump(self) -> tuple[Any, ...]:
        """What :meth:`restore` needs, as plain tuples, sets and strings (for ``marshal``)."""
        return (
            self.nodes,
            self.start,
            self.static_xml,
            self.static_deps,
            frozenset(self.inline),
            self.order,
            self.choices,
        )

    @classmethod
    def restore(cls, data: tuple[Any, ...]) -> _Plan:
        plan = cls.__new__(cls)
        (
            plan.nodes,
            plan.start,
            plan.static_xml,
            plan.static_deps,
            inline,
            plan.order,
            plan.choices,
        ) = data
        plan.inline = set(inline)
        plan.dynamic = set(plan.nodes)
        plan._absent = {}
        return plan

    # -- building --------------------------------------------------------------------

    def node(self, p: etree._Element) -> _Node:
        built = self.build(p)
        return self.fixed(p) if built is None else built

    def build(self, p: etree._Element) -> _Node | None:
        """A plan node, or None when no name set changes ``p``."""
        kind = local(p)
        if kind == "ref":
            name = p.get("name", "")
            return ("ref", name, name in self.inline) if name in self.dynamic else None
        if kind == "element":
            kids = children(p)
            if p.get("name") is not None:
                key: str | None = clark(p.get("ns", ""), p.get("name", ""))
                head = f'<element name="{_esc(p.get("name", ""))}" ns="{_esc(p.get("ns", ""))}">'
            else:
                nc, kids = kids[0], kids[1:]
                key = clark(nc.get("ns", ""), nc.text or "") if local(nc) == "name" else None
                head = "<element>" + _xml(nc)
            return ("element", key, head, self.seq(kids))
        if kind == "attribute":
            if p.get("name") is None:
                return None
            return ("attr", clark(p.get("ns", ""), p.get("name", "")), self.fixed(p))
        if kind not in _DYNAMIC_CONTAINERS:
            return None
        kids = children(p)
        built = [self.build(k) for k in kids]
        if all(b is None for b in built):
            return None
        parts = [self.fixed(k) if b is None else b for k, b in zip(kids, built, strict=True)]
        if kind in ("oneOrMore", "zeroOrMore", "optional", "mixed") and len(parts) > 1:
            return (kind, (("group", tuple(parts)),))
        return (kind, tuple(parts))

    def seq(self, kids: list[etree._Element]) -> _Node:
        built = [self.build(k) for k in kids]
        if all(b is None for b in built):
            group = etree.Element(rng("group"))
            group.extend(copy.deepcopy(k) for k in kids)
            return self.fixed(group)
        parts = [self.fixed(k) if b is None else b for k, b in zip(kids, built, strict=True)]
        return ("group", tuple(parts))

    def fixed(self, p: etree._Element) -> _Node:
        result = self.static.tx(p)
        deps: set[str] = set()
        if isinstance(result, etree._Element):
            for ref in result.iter(rng("ref")):
                deps.add(ref.get("name", ""))
        text = _text_of(result)
        state = 0 if text is None else (1 if text == "" else 2)
        return ("S", text, self.closure(deps), state)

    def closure(self, names: set[str]) -> frozenset[str]:
        todo, seen = list(names), set(names)
        while todo:
            name = todo.pop()
            if name not in self.static_xml:
                result = self.static.status[name]
                self.static_xml[name] = _text_of(result)
                found: set[str] = set()
                if isinstance(result, etree._Element):
                    found = {r.get("name", "") for r in result.iter(rng("ref"))}
                self.static_deps[name] = frozenset(found)
            for dep in self.static_deps[name]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return frozenset(seen)

    # -- evaluating --------------------------------------------------------------------

    def emit(self, names: frozenset[str] | None) -> str:
        run = _Run(self, names)
        start = run.xml(self.start, None)
        out = [f'<grammar xmlns="{RNG_NS}"><start>', _or_marker(start), "</start>"]
        done: set[str] = set()
        while run.pending:
            name = run.pending.pop()
            if name not in done:
                done.add(name)
                run.bodies[name] = _or_marker(run.xml(self.nodes[name], None))
        for name in sorted(run.bodies.keys() | run.statics, key=self.order.__getitem__):
            body = run.bodies.get(name)
            if body is None:
                body = self.static_xml[name] or "<empty/>"
            out.append(f'<define name="{_esc(name)}">{body}</define>')
        out.append("</grammar>")
        return "".join(out)


class _Run:
    """One evaluation of a plan for one name set.

    ``ctx`` is the Clark name of the element whose content is being copied (None in
    shared definitions): an attribute pattern there survives if the name set has the
    attribute on that element, elsewhere if the name set has it on any element.
    """

    def __init__(self, plan: _Plan, names: frozenset[str] | None) -> None:
        self.plan = plan
        self.names = names
        #: Attributes present on each element ("" for "on any element").
        self.present: dict[str, set[str]] = {"": set()}
        for name in names or ():
            if name.startswith("@"):
                self.present[""].add(name[1:])
            elif " @" in name:
                element, attribute = name.split(" @", 1)
                self.present.setdefault(element, set()).add(attribute)
        self.states: dict[tuple[int, str | None], int] = {}
        self.inlined: dict[tuple[str, str | None], str | None] = {}
        self.pending: list[str] = []
        self.bodies: dict[str, str] = {}
        self.statics: set[str] = set()

    def state(self, node: _Node, ctx: str | None) -> int:
        """0 notAllowed, 1 empty, 2 a pattern; never looks inside elements."""
        kind = node[0]
        if kind == "S":
            st: int = node[3]
            return st
        names = self.names
        if kind == "element":
            return 0 if node[1] is not None and names is not None and node[1] not in names else 2
        if kind == "attr":
            if names is not None and node[1] not in self.present.get(ctx or "", ()):
                return 0
            st = node[2][3]
            return st
        key = (id(node), ctx)
        known = self.states.get(key)
        if known is not None:
            return known
        pure = self.plan.choices.get(node[1]) if kind == "ref" and not node[2] else None
        if pure is not None:
            result = pure[1]
            if result < 2 and (names is None or not pure[0].isdisjoint(names)):
                result = 2
        elif kind == "ref" and node[2] and ctx is not None and self._absent(node[1], ctx):
            result = self.plan.absent(node[1])[1]
        elif kind == "ref":
            result = self.state(self.plan.nodes[node[1]], ctx if node[2] else None)
        else:
            states = [self.state(k, ctx) for k in node[1]]
            if kind == "choice":
                result = max(states)
            elif kind in ("group", "interleave", "oneOrMore"):
                result = 0 if 0 in states else (2 if 2 in states else 1)
            elif kind == "mixed":
                result = 0 if 0 in states else 2
            else:  # zeroOrMore, optional
                result = 2 if 2 in states else 1
        self.states[key] = result
        return result

    def _absent(self, name: str, ctx: str) -> bool:
        """Does the element ``ctx`` carry none of the attributes of class ``name``?"""
        if self.names is None:
            return False
        return self.plan.absent(name)[0].isdisjoint(self.present.get(ctx, ()))

    def xml(self, node: _Node, ctx: str | None) -> str | None:
        """The simplified pattern as text: None for notAllowed, "" for empty."""
        kind = node[0]
        if kind == "S":
            self.statics |= node[2]
            text: str | None = node[1]
            return text
        state = self.state(node, ctx)
        if state == 0:
            return None
        if state == 1:
            return ""
        if kind == "ref":
            name = node[1]
            if node[2] and ctx is not None and self.names is not None:
                if self._absent(name, ctx):
                    self.statics |= self.plan.absent(name)[3]
                    return self.plan.absent(name)[2]
                memo = (name, ctx)
                if memo not in self.inlined:
                    self.inlined[memo] = self.xml(self.plan.nodes[name], ctx)
                return self.inlined[memo]
            self.pending.append(name)
            return f'<ref name="{_esc(name)}"/>'
        if kind == "element":
            return f"{node[2]}{_or_marker(self.xml(node[3], node[1]))}</element>"
        if kind == "attr":
            return self.xml(node[2], ctx)
        parts = [x for x in (self.xml(k, ctx) for k in node[1]) if x]
        if kind == "choice":
            inner = parts[0] if len(parts) == 1 else f"<choice>{''.join(parts)}</choice>"
            if any(self.state(k, ctx) == 1 for k in node[1]):
                return f"<optional>{inner}</optional>"
            return inner
        if kind == "mixed" and not parts:
            return "<text/>"
        if kind in ("group", "interleave") and len(parts) == 1:
            return parts[0]
        return f"<{kind}>{''.join(parts)}</{kind}>"


def _or_marker(text: str | None) -> str:
    if text is None:
        return "<notAllowed/>"
    return text or "<empty/>"


def _text_of(result: _Pattern) -> str | None:
    if result is NOT_ALLOWED:
        return None
    if result is EMPTY:
        return ""
    assert isinstance(result, etree._Element)
    return _xml(result)


def _esc(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")
    )


def _xml(elem: etree._Element) -> str:
    """A RELAX NG element as text in the default namespace (no prefixes, no annotations)."""
    out: list[str] = []
    _write(elem, out)
    return "".join(out)


def _write(elem: etree._Element, out: list[str]) -> None:
    kind = local(elem)
    attrs = "".join(f' {k}="{_esc(v)}"' for k, v in elem.attrib.items())
    kids = children(elem)
    text = elem.text if kind in ("value", "param", "name") else None
    if not kids and not text:
        out.append(f"<{kind}{attrs}/>")
        return
    out.append(f"<{kind}{attrs}>")
    if text:
        out.append(_esc(text))
    for kid in kids:
        _write(kid, out)
    out.append(f"</{kind}>")


# --------------------------------------------------------------------------------------
# Content models: which child elements may come where (for messages)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """An element a content model may contain, and the definitions it is reached through."""

    #: Clark name; None for a name class (``anyName``, ``nsName``, a choice of names).
    key: str | None
    #: What to call it when the key is None ("any element", "any element in ...").
    label: str
    #: Names of the definitions between the content model and the element, outermost first.
    path: tuple[str, ...]
    matcher: Callable[[str], bool] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Expectation:
    """Where the children of one element stop matching its content model, if they do.

    ``index`` is the position (among element children) of the first child the content
    model does not allow, or None when every child is allowed but more are required
    (``incomplete``). ``allowed`` lists what the content model accepts at that point
    (when incomplete: what would complete it, if one element can).
    """

    index: int | None
    allowed: tuple[Leaf, ...]
    may_end: bool


_NA, _EMPTY = 0, 1


class ContentModels:
    """Element content models of a grammar as regular expressions over child names.

    Attributes, text and data are left out: this answers only "may an element named X
    come here?", which is what a reader needs when libxml2 says "did not expect". It
    follows references (not into elements), so a leaf remembers the model classes it
    was reached through, and derives (Brzozowski) along the actual children.
    """

    def __init__(self, grammar: PreparedGrammar) -> None:
        self.grammar = grammar
        self.table: list[tuple[Any, ...]] = [("na",), ("empty",)]
        self.index: dict[tuple[Any, ...], int] = {("na",): _NA, ("empty",): _EMPTY}
        self.nullable: list[bool] = [False, True]
        self.leaves: list[Leaf | None] = [None, None]
        self._deriv: dict[tuple[int, str], int] = {}
        self._first: dict[int, frozenset[int]] = {}
        self._first_names: dict[int, tuple[frozenset[str], tuple[Callable[[str], bool], ...]]] = {}
        self._models: dict[str | None, int | None] = {}
        self._expanded: dict[tuple[str, tuple[str, ...]], int] = {}
        self._expected: dict[tuple[str | None, tuple[str, ...]], Expectation | None] = {}
        self._elements: dict[str, list[etree._Element]] | None = None
        self._attributes: dict[str, tuple[frozenset[str], tuple[Callable[[str], bool], ...]]] = {}

    # -- public --------------------------------------------------------------------------

    def expect(self, parent: str | None, child_tags: Iterable[str]) -> Expectation | None:
        """Check ``child_tags`` against the content of ``parent`` (None: the start).

        None when the children are fine (or ``parent`` has no plain-named pattern).
        """
        tags = tuple(child_tags)
        memo = (parent, tags)
        if memo not in self._expected:
            self._expected[memo] = self._expect(parent, tags)
        return self._expected[memo]

    def _expect(self, parent: str | None, child_tags: tuple[str, ...]) -> Expectation | None:
        model = self.model(parent)
        if model is None:
            return None
        state = model
        for i, tag in enumerate(child_tags):
            nxt = self.derive(state, tag)
            if nxt == _NA:
                return Expectation(i, self.allowed(state), self.nullable[state])
            state = nxt
        if self.nullable[state]:
            return None
        allowed = self.allowed(state)
        # Prefer what completes the content at once (a <p> in an empty <body>) over
        # what is merely allowed on the way (<pb>, <note> ...).
        completing = tuple(
            leaf
            for leaf in allowed
            if leaf.key is not None and self.nullable[self.derive(state, leaf.key)]
        )
        return Expectation(None, completing or allowed, False)

    def attributes(self, parent: str) -> tuple[frozenset[str], tuple[Callable[[str], bool], ...]]:
        """The attribute names (Clark) an element ``parent`` may carry somewhere in its
        patterns, and matchers for the name classes it allows (``anyName`` ...)."""
        found = self._attributes.get(parent)
        if found is None:
            names: set[str] = set()
            classes: list[Callable[[str], bool]] = []
            for elem in self._patterns(parent):
                for p in self._attribute_patterns(elem):
                    key = plain_name(p)
                    if key is not None:
                        names.add(key)
                    else:
                        classes.append(_name_class(children(p)[0])[1])
            found = self._attributes[parent] = (frozenset(names), tuple(classes))
        return found

    def attribute_value(self, parent: str, attribute: str) -> str | None:
        """What an attribute ``attribute`` on ``parent`` may hold, in a few words.

        ``"bold" or "italic"`` for a choice of values, the datatype (``positiveInteger``)
        or the definition it is named by (TEI's ``teidata.enumerated``), None for any text
        or when the grammar has no such attribute there.
        """
        described: list[str] = []
        for elem in self._patterns(parent):
            for attr in self._attribute_patterns(elem):
                if plain_name(attr) == attribute:
                    content = children(attr)[0 if attr.get("name") is not None else 1 :]
                    text = self._describe_value(content[0]) if content else None
                    if text is None:
                        return None
                    if text not in described:
                        described.append(text)
        return " or ".join(described) if described else None

    def _attribute_patterns(self, elem: etree._Element) -> Iterator[etree._Element]:
        todo = children(elem)[0 if elem.get("name") is not None else 1 :]
        seen: set[str] = set()
        while todo:
            p = todo.pop()
            kind = local(p)
            if kind == "attribute":
                yield p
            elif kind == "ref":
                target = p.get("name", "")
                if target not in seen:
                    seen.add(target)
                    todo.append(self.grammar.defines[target][0])
            elif kind != "element":
                todo.extend(children(p))

    def _describe_value(self, p: etree._Element, depth: int = 0) -> str | None:
        kind = local(p)
        if kind == "value":
            return f'"{p.text or ""}"'
        if kind == "data":
            return p.get("type", "data")
        if kind == "list":
            inner = [self._describe_value(k, depth + 1) for k in children(p)]
            known = [i for i in inner if i]
            return f"a list of {', '.join(known)}" if known else "a list"
        if kind == "ref" and depth < 8:
            body = self.grammar.defines[p.get("name", "")][0]
            inner_text = self._describe_value(body, depth + 1)
            if inner_text is not None and inner_text.startswith('"'):
                return inner_text  # the values themselves say more than the class name
            return p.get("name", "")
        if kind == "choice":
            parts = [self._describe_value(k, depth + 1) for k in children(p)]
            if any(part is None for part in parts):
                return None
            values = [part for part in parts if part]
            if len(values) > 12:
                values = [*values[:11], f"… {len(values) - 11} more"]
            return (
                ", ".join(values)
                if all(v.startswith('"') for v in values)
                else (" or ".join(values))
            )
        return None  # text, empty, anything else: no short description

    def _patterns(self, key: str) -> list[etree._Element]:
        if self._elements is None:
            table: dict[str, list[etree._Element]] = {}
            for holder in (self.grammar.start, *self.grammar.defines.values()):
                for elem in holder.iter(rng("element")):
                    name = plain_name(elem)
                    if name is not None:
                        table.setdefault(name, []).append(elem)
            self._elements = table
        return self._elements.get(key, [])

    def allowed(self, state: int) -> tuple[Leaf, ...]:
        """The elements that may come next in ``state``, each once, in grammar order."""
        seen: dict[tuple[str | None, str], Leaf] = {}
        for leaf_id in sorted(self.first(state)):
            leaf = self.leaves[leaf_id]
            assert leaf is not None
            seen.setdefault((leaf.key, leaf.label), leaf)
        return tuple(seen.values())

    def model(self, parent: str | None) -> int | None:
        if parent not in self._models:
            self._models[parent] = self._build_model(parent)
        return self._models[parent]

    # -- building ------------------------------------------------------------------------

    def _build_model(self, parent: str | None) -> int | None:
        if parent is None:
            return self._pattern(self.grammar.start[0], ())
        patterns = self._patterns(parent)
        if not patterns:
            return None
        alternatives = []
        for elem in patterns:
            kids = children(elem)
            if elem.get("name") is None:
                kids = kids[1:]
            alternatives.append(self._seq(kids, ()))
        return self._choice(alternatives)

    def _pattern(self, p: etree._Element, path: tuple[str, ...]) -> int:
        kind = local(p)
        if kind == "ref":
            name = p.get("name", "")
            memo = (name, path)
            found = self._expanded.get(memo)
            if found is None:
                body = self.grammar.defines[name][0]
                if name in path:
                    found = _NA  # recursion outside elements: not a valid grammar anyway
                elif local(body) == "element":
                    found = self._leaf(body, path)  # its own definition adds nothing
                else:
                    found = self._pattern(body, (*path, name))
                self._expanded[memo] = found
            return found
        if kind == "element":
            return self._leaf(p, path)
        if kind == "choice":
            return self._choice([self._pattern(k, path) for k in children(p)])
        if kind in ("group", "mixed"):
            return self._seq(children(p), path)
        if kind == "interleave":
            result = _EMPTY
            for k in children(p):
                result = self._interleave(result, self._pattern(k, path))
            return result
        if kind == "oneOrMore":
            return self._one_or_more(self._seq(children(p), path))
        if kind == "zeroOrMore":
            return self._choice([self._one_or_more(self._seq(children(p), path)), _EMPTY])
        if kind == "optional":
            return self._choice([self._seq(children(p), path), _EMPTY])
        if kind == "notAllowed":
            return _NA
        return _EMPTY  # empty, text, data, value, list, attribute: no child elements

    def _seq(self, kids: list[etree._Element], path: tuple[str, ...]) -> int:
        result = _EMPTY
        for k in kids:
            result = self._group(result, self._pattern(k, path))
        return result

    def _leaf(self, elem: etree._Element, path: tuple[str, ...]) -> int:
        key = plain_name(elem)
        if key is not None:
            leaf = Leaf(key, key, path, key.__eq__)
        else:
            label, matcher = _name_class(children(elem)[0])
            leaf = Leaf(None, label, path, matcher)
        return self._intern(("leaf", leaf.key, leaf.label, path), False, leaf)

    # -- the algebra (interned, simplified on construction) -----------------------------

    def _intern(self, key: tuple[Any, ...], nullable: bool, leaf: Leaf | None = None) -> int:
        found = self.index.get(key)
        if found is None:
            found = len(self.table)
            self.table.append(key)
            self.index[key] = found
            self.nullable.append(nullable)
            self.leaves.append(leaf)
        return found

    def _choice(self, items: Iterable[int]) -> int:
        flat: set[int] = set()
        for item in items:
            if item == _NA:
                continue
            node = self.table[item]
            if node[0] == "choice":
                flat |= node[1]
            else:
                flat.add(item)
        if not flat:
            return _NA
        if len(flat) == 1:
            return next(iter(flat))
        members = frozenset(flat)
        return self._intern(("choice", members), any(self.nullable[m] for m in members))

    def _group(self, a: int, b: int) -> int:
        if a == _NA or b == _NA:
            return _NA
        if a == _EMPTY:
            return b
        if b == _EMPTY:
            return a
        return self._intern(("group", a, b), self.nullable[a] and self.nullable[b])

    def _interleave(self, a: int, b: int) -> int:
        if a == _NA or b == _NA:
            return _NA
        if a == _EMPTY:
            return b
        if b == _EMPTY:
            return a
        return self._intern(("interleave", a, b), self.nullable[a] and self.nullable[b])

    def _one_or_more(self, a: int) -> int:
        if a in (_NA, _EMPTY):
            return a
        return self._intern(("oneOrMore", a), self.nullable[a])

    def derive(self, p: int, tag: str) -> int:
        """The pattern that must match what follows once an element ``tag`` matched."""
        memo = (p, tag)
        found = self._deriv.get(memo)
        if found is not None:
            return found
        node = self.table[p]
        kind = node[0]
        if not self._starts(p, tag):
            result = _NA
        elif kind == "leaf":
            result = _EMPTY
        elif kind == "choice":
            result = self._choice(self.derive(m, tag) for m in node[1] if self._starts(m, tag))
        elif kind == "group":
            a, b = node[1], node[2]
            first = self._group(self.derive(a, tag), b)
            result = self._choice([first, self.derive(b, tag)]) if self.nullable[a] else first
        elif kind == "interleave":
            a, b = node[1], node[2]
            result = self._choice(
                [self._interleave(self.derive(a, tag), b), self._interleave(a, self.derive(b, tag))]
            )
        elif kind == "oneOrMore":
            a = node[1]
            result = self._group(self.derive(a, tag), self._choice([p, _EMPTY]))
        else:
            result = _NA
        self._deriv[memo] = result
        return result

    def _starts(self, p: int, tag: str) -> bool:
        """Can an element ``tag`` come first in ``p``?"""
        info = self._first_names.get(p)
        if info is None:
            keys: set[str] = set()
            wild: list[Callable[[str], bool]] = []
            for leaf_id in self.first(p):
                leaf = self.leaves[leaf_id]
                assert leaf is not None
                if leaf.key is not None:
                    keys.add(leaf.key)
                else:
                    wild.append(leaf.matcher)
            info = self._first_names[p] = (frozenset(keys), tuple(wild))
        return tag in info[0] or any(m(tag) for m in info[1])

    def first(self, p: int) -> frozenset[int]:
        """Leaves that can match the next element."""
        found = self._first.get(p)
        if found is not None:
            return found
        node = self.table[p]
        kind = node[0]
        result: frozenset[int] = frozenset()
        if kind == "leaf":
            result = frozenset({p})
        elif kind == "choice":
            result = frozenset().union(*(self.first(m) for m in node[1]))
        elif kind == "group":
            result = self.first(node[1])
            if self.nullable[node[1]]:
                result |= self.first(node[2])
        elif kind == "interleave":
            result = self.first(node[1]) | self.first(node[2])
        elif kind == "oneOrMore":
            result = self.first(node[1])
        self._first[p] = result
        return result


def _name_class(nc: etree._Element) -> tuple[str, Callable[[str], bool]]:
    """A label and a matcher for a name class; names in labels are written ``<{ns}name>``."""
    kind = local(nc)
    kids = children(nc)
    if kind == "name":
        key = clark(nc.get("ns", ""), (nc.text or "").strip())
        return f"<{key}>", key.__eq__
    if kind == "choice":
        parts = [_name_class(k) for k in kids]
        label = " or ".join(lbl for lbl, _ in parts)
        return label, lambda tag: any(m(tag) for _, m in parts)
    excepted: Callable[[str], bool] = lambda tag: False  # noqa: E731
    but = ""
    if kids and local(kids[0]) == "except":
        inner = [(local(k), k, *_name_class(k)) for k in children(kids[0])]
        excepted = lambda tag: any(m(tag) for *_, m in inner)  # noqa: E731
        spaces = [k.get("ns", "") for kind_, k, *_ in inner if kind_ == "nsName"]
        names = [lbl for kind_, _, lbl, _ in inner if kind_ != "nsName"]
        if spaces:
            but += " outside namespace " + ", ".join(u or "(none)" for u in spaces)
        if names:
            but += " except " + ", ".join(names)
    if kind == "nsName":
        uri = nc.get("ns", "")
        prefix = f"{{{uri}}}" if uri else ""

        def in_ns(tag: str) -> bool:
            ns_ok = tag.startswith(prefix) if uri else not tag.startswith("{")
            return ns_ok and not excepted(tag)

        return f"any element in namespace {uri or '(none)'}{but}", in_ns
    return f"any element{but}", lambda tag: not excepted(tag)


def describe(pattern: etree._Element) -> str:
    """A pattern as compact text without prefixes (for tests, debugging and messages)."""
    return _xml(pattern)
