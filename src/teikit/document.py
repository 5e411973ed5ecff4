"""TeiDocument: what converters and checks need to know about a parsed TEI file.

Built once per file: the id index, pointer resolution and the entries (persons,
organizations, places) that names point at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from teikit.loading import Document, LoadOptions, load
from teikit.xmlutil import TEI_NS, XML_ID, XML_LANG, tei

#: Entry element -> the kind of entity it describes.
ENTRY_KINDS = {
    tei("person"): "person",
    tei("personGrp"): "person",
    tei("org"): "org",
    tei("place"): "place",
}
#: Named element inside a list item -> the kind of entry it makes (publisher lists).
LIST_ENTRY_KINDS = {
    tei("persName"): "person",
    tei("orgName"): "org",
    tei("placeName"): "place",
    tei("term"): "term",
}
#: Name element -> the kind of entry it should point at.
NAME_KINDS = {tei("persName"): "person", tei("orgName"): "org", tei("placeName"): "place"}


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace as XML's ``normalize-space()`` does."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Entry:
    """A person, organization or place as the document describes it."""

    id: str
    kind: str
    name: str
    description: str
    authority: tuple[str, ...]
    element: etree._Element = field(repr=False, compare=False)
    #: ``entry`` for person/org/place elements; ``list`` for a name or term with an
    #: ``xml:id`` inside a list item (the publisher's persons and terms lists).
    source: str = "entry"
    #: How registers sort it: surname first where the name is structured.
    sort_key: str = ""


@dataclass
class TeiDocument:
    """A parsed TEI document with its ids indexed."""

    source: Document

    @property
    def root(self) -> etree._Element:
        return self.source.root

    @property
    def display(self) -> str:
        return self.source.display

    @cached_property
    def ids(self) -> dict[str, etree._Element]:
        """``xml:id`` -> element; the first wins when ids repeat (Schematron reports those)."""
        index: dict[str, etree._Element] = {}
        for el in self.root.iter():
            value = el.get(XML_ID) if isinstance(el.tag, str) else None
            if value is not None:
                index.setdefault(value, el)
        return index

    @cached_property
    def note_places(self) -> dict[etree._Element, etree._Element] | None:
        """Where notes numbered anew in each division go: see :mod:`teikit.convert.notes`.
        Kept, since the text and the HTML of one document both ask."""
        # Imported here: teikit.convert imports this module.
        from teikit.convert.notes import note_places
        from teikit.convert.text import body_of

        return note_places(body_of(self))

    def resolve(self, pointer: str) -> etree._Element | None:
        """The element a same-document pointer (``#id``) names, else None."""
        pointer = pointer.strip()
        if pointer.startswith("#"):
            return self.ids.get(pointer[1:])
        return None

    @cached_property
    def prefixes(self) -> dict[str, list[tuple[str, str]]]:
        """``prefixDef`` ident -> [(matchPattern, replacementPattern)] in document order."""
        found: dict[str, list[tuple[str, str]]] = {}
        for definition in self.root.iter(tei("prefixDef")):
            ident = definition.get("ident")
            match = definition.get("matchPattern")
            replacement = definition.get("replacementPattern")
            if ident and match and replacement is not None:
                found.setdefault(ident, []).append((match, replacement))
        return found

    def expand(self, pointer: str) -> str:
        """``prefix:rest`` expanded through the document's ``prefixDef``s; else unchanged."""
        pointer = pointer.strip()
        prefix, sep, rest = pointer.partition(":")
        if not sep or rest.startswith("//"):
            return pointer
        if len(rest) > MAX_PREFIXED_POINTER:
            return pointer
        for match, replacement in self.prefixes.get(prefix, []):
            groups = _prefix_match(match, rest)
            if groups is not None:
                return _substitute(replacement, groups)
        return pointer

    def locate(self, pointer: str) -> Target:
        """Where a pointer leads: this file, another local file, the web, or nowhere.

        Handles ``#id``, ``prefix:value`` (prefixDef), relative files with or without a
        fragment (``../register/persons.xml#p1``) and absolute URIs. Other files are read
        through the same hardened loader, only from the document's folder tree or the
        working directory, and each file once (see :class:`Registry`).
        """
        uri = self.expand(pointer)
        if uri.startswith("#"):
            found = self.ids.get(uri[1:])
            return Target("local" if found is not None else "unresolved", uri, found, self)
        scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
        if scheme and len(scheme) > 1:  # a URI (one letter would be a Windows drive)
            return Target("external", uri)
        path_part, _, fragment = uri.partition("#")
        if not path_part:
            return Target("unresolved", uri)
        other = self.registry.open(self.source.path.parent / unquote(path_part))
        if other is None:
            return Target("unresolved", uri)
        if not fragment:
            return Target("file", uri, other.root, other)
        found = other.ids.get(fragment)
        return Target("file" if found is not None else "unresolved", uri, found, other)

    @cached_property
    def registry(self) -> Registry:
        """Other files this document points into (shared with documents opened from it)."""
        here = self.source.path.resolve()
        return Registry({here: self}, here.parent, self.source.options)

    @property
    def language(self) -> str | None:
        lang = self.root.get(XML_LANG)
        if lang is None:
            text = self.root.find(tei("text"))
            lang = text.get(XML_LANG) if text is not None else None
        return lang

    @property
    def title(self) -> str:
        """The main title from the header, or the root's name when there is none."""
        for path in ("tei:teiHeader/tei:fileDesc/tei:titleStmt/tei:title", ".//tei:head"):
            found = self.root.xpath(path, namespaces={"tei": TEI_NS})
            if isinstance(found, list) and found and isinstance(found[0], etree._Element):
                return normalise_space(_text_without_notes(found[0]))
        return self.display

    @cached_property
    def entries(self) -> dict[str, Entry]:
        """Persons, organizations and places with an ``xml:id``, wherever they are listed."""
        found: dict[str, Entry] = {}
        for el in self.root.iter(*ENTRY_KINDS):
            ident = el.get(XML_ID)
            if ident is None or ident in found:
                continue
            found[ident] = _entry(el, ident, ENTRY_KINDS[str(el.tag)])
        return found

    @cached_property
    def list_entries(self) -> dict[str, Entry]:
        """Names and terms with an ``xml:id`` inside list items (FRUS persons/terms lists)."""
        found: dict[str, Entry] = {}
        for item in self.root.iter(tei("item")):
            for el in item.iter(*LIST_ENTRY_KINDS):
                ident = el.get(XML_ID)
                if ident is None or ident in found or ident in self.entries:
                    continue
                found[ident] = _list_entry(item, el, ident, LIST_ENTRY_KINDS[str(el.tag)])
        return found

    @cached_property
    def all_entries(self) -> dict[str, Entry]:
        """Every entry of this file: dedicated ones first, then list-based ones.

        Kept, as its parts are: every name looks it up, and a fresh merge per name made
        resolving names quadratic in a volume with thousands of entries.
        """
        return {**self.entries, **self.list_entries}

    def entry_for(self, name: etree._Element) -> Entry | None:
        """The entry a name points at through ``@ref``, ``@corresp``, ``@key`` or ``@sameAs``.

        Same-file ids, prefixed pointers, entries in other local files and authority URIs
        (an entry whose ``idno`` is that URI) all count.
        """
        for attr in ("ref", "corresp", "sameAs", "key"):
            value = name.get(attr)
            if not value:
                continue
            for token in value.split():
                entry = self._entry_at(token, attr == "key")
                if entry is not None:
                    return entry
        return None

    def _entry_at(self, token: str, is_key: bool) -> Entry | None:
        if is_key and not token.startswith("#"):
            return self.all_entries.get(token)
        target = self.locate(token)
        if target.element is not None and target.document is not None:
            ident = target.element.get(XML_ID)
            return target.document.all_entries.get(ident) if ident else None
        if target.kind == "external":
            key = _uri_key(target.uri)
            # this file's entries first, then those of register files already opened
            for doc in (self, *self.registry.documents()):
                if key in doc.by_authority:
                    return doc.by_authority[key]
        return None

    @cached_property
    def by_authority(self) -> dict[str, Entry]:
        """Entries by their authority URIs (http and https, trailing slash, alike)."""
        found: dict[str, Entry] = {}
        for entry in self.all_entries.values():
            for uri in entry.authority:
                found.setdefault(_uri_key(uri), entry)
        return found


@dataclass(frozen=True, slots=True)
class Target:
    """Where a pointer leads (see :meth:`TeiDocument.locate`)."""

    kind: str  # "local", "file", "external", "unresolved"
    uri: str
    element: etree._Element | None = None
    document: TeiDocument | None = None


class Registry:
    """The files a set of documents point into, each parsed once and only when needed.

    Only files under an allowed root (the first document's folder, or the working
    directory) are read, so a pointer cannot make teikit read arbitrary files.
    """

    def __init__(
        self, opened: dict[Path, TeiDocument], root: Path, options: LoadOptions | None = None
    ) -> None:
        self._opened: dict[Path, TeiDocument | None] = dict(opened)
        self._roots = (root, Path.cwd().resolve())
        #: the limits the first document was read under apply to every file it points into
        self._options = options or LoadOptions()

    def documents(self) -> list[TeiDocument]:
        """The documents opened so far (in the order they were opened)."""
        return [d for d in self._opened.values() if d is not None]

    def open(self, path: Path) -> TeiDocument | None:
        """The TEI document at ``path``, or None when it is not allowed, missing or broken."""
        # A pointer is text from the document: a NUL byte (ValueError) or a name longer
        # than the system allows (OSError) makes a path that cannot even be looked at.
        try:
            real = path.resolve()
            is_file = real.is_file()
        except (OSError, ValueError):
            return None
        if real in self._opened:
            return self._opened[real]
        allowed = any(real.is_relative_to(r) for r in self._roots)
        doc: TeiDocument | None = None
        if allowed and is_file:
            loaded = load(real, self._options)
            if loaded.document is not None:
                doc = TeiDocument(loaded.document)
                doc.__dict__["registry"] = self  # share: each file parsed once
        self._opened[real] = doc
        return doc


#: Longest pointer (after its prefix) matched against a document's ``matchPattern``.
MAX_PREFIXED_POINTER = 100
#: Most repetitions (``*``, ``+``, ``{n,m}``) a ``matchPattern`` may have.
MAX_PATTERN_REPEATS = 4
_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


@lru_cache(maxsize=512)
def prefix_pattern(match: str) -> re.Pattern[str] | None:
    """A ``prefixDef/@matchPattern`` compiled, or None when it is unusable or unsafe.

    The pattern comes from the document, so it must not be able to hang teikit: patterns
    whose matching can take exponential time (a repeated group that itself repeats or
    alternates, as in ``(a+)+`` or ``(a|a)*``; backreferences) or high polynomial time
    (more than four repetitions) are refused, and subjects are at most
    :data:`MAX_PREFIXED_POINTER` characters. Real patterns (``([a-z]+)``,
    ``(\\S+) ([^.]+)\\.(.*)``) pass.
    """
    if len(match) > 500 or not _bounded_pattern(match):
        return None
    try:
        return re.compile(match)
    except (re.error, RecursionError, OverflowError):
        return None


@lru_cache(maxsize=4096)
def _prefix_match(match: str, rest: str) -> tuple[str | None, ...] | None:
    """The groups of ``rest`` matched by a (safe) matchPattern, remembered."""
    pattern = prefix_pattern(match)
    m = pattern.fullmatch(rest) if pattern is not None else None
    return m.groups() if m else None


def _bounded_pattern(pattern: str) -> bool:
    """Whether a regular expression avoids the shapes that backtrack catastrophically."""
    groups: list[bool] = []  # per open group: it holds a repetition or an alternative
    repeats = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        closed_risky = False
        if c == "\\":
            if i + 1 < n and (pattern[i + 1] in "123456789gk"):
                return False  # backreference
            i += 2
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
        elif c == "(":
            i += 1
            if pattern.startswith("?P=", i) or pattern.startswith("?(", i):
                return False  # backreference, conditional
            if pattern.startswith("?#", i):
                end = pattern.find(")", i)
                i = n if end < 0 else end + 1
                continue
            if pattern.startswith("?", i):
                j = i + 1
                while j < n and pattern[j].isalpha() and pattern[j] != "P":
                    j += 1
                if j < n and pattern[j] == ")":  # inline flags: (?i)
                    i = j + 1
                    continue
                if pattern.startswith("P<", j):
                    end = pattern.find(">", j)
                    i = n if end < 0 else end + 1
                elif pattern.startswith(("<=", "<!"), j):
                    i = j + 2
                else:
                    i = j + 1  # ?: ?= ?! ?>, or flags then ':'
            groups.append(False)
            continue
        elif c == ")":
            closed_risky = groups.pop() if groups else False
            if groups and closed_risky:
                groups[-1] = True
            i += 1
        elif c == "|":
            if groups:
                groups[-1] = True
            i += 1
            continue
        else:
            i += 1
        # A quantifier after the atom just read?
        if i >= n:
            break
        q = pattern[i]
        many = False
        if q in "*+":
            many, i = True, i + 1
        elif q == "?":
            i += 1
        elif q == "{":
            m = _BRACES.match(pattern, i)
            if m:
                low, comma, high = m.groups()
                many = bool(comma and (not high or int(high) > 1)) or (
                    not comma and bool(low) and int(low) > 1
                )
                i = m.end()
        if i < n and pattern[i] in "?+" and q in "*+?{":
            i += 1  # lazy or possessive
        if many:
            repeats += 1
            if closed_risky or repeats > MAX_PATTERN_REPEATS:
                return False
            if groups:
                groups[-1] = True
    return True


def _uri_key(uri: str) -> str:
    uri = uri.strip()
    for scheme in ("https://", "http://"):
        if uri.lower().startswith(scheme):
            uri = uri[len(scheme) :]
            break
    return uri.rstrip("/")


def _substitute(replacement: str, groups: tuple[str | None, ...]) -> str:
    """``$1``..``$9`` in a replacementPattern filled from the match (missing: empty)."""

    def group(ref: re.Match[str]) -> str:
        n = int(ref.group(1))
        return (groups[n - 1] or "") if 0 < n <= len(groups) else ""

    return re.sub(r"\$(\d)", group, replacement)


_NOTE = tei("note")


def _text_without_notes(el: etree._Element) -> str:
    # Imported here: teikit.convert imports this module.
    from teikit.convert.walk import text_outside

    return text_outside(el, lambda child: child.tag == _NOTE)


def _entry(el: etree._Element, ident: str, kind: str) -> Entry:
    ns = {"tei": TEI_NS}
    name_el = el.xpath(
        "(tei:persName[@type='full'] | tei:orgName[@type='full'] | tei:placeName[@type='full']"
        " | tei:persName | tei:orgName | tei:placeName)[1]",
        namespaces=ns,
    )
    name = sort_key = ""
    if isinstance(name_el, list) and name_el and isinstance(name_el[0], etree._Element):
        name = _display_name(name_el[0])
        sort_key = _sort_key(name_el[0]) or name
    bits: list[str] = []
    for child in el:
        local = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if local in {"occupation", "roleName", "state", "note", "desc", "affiliation"}:
            bits.append(normalise_space("".join(child.itertext())))
    authority = tuple(
        normalise_space(i.text or "")
        for i in el.iterchildren(tei("idno"))
        if (i.text or "").strip().startswith(("http://", "https://"))
    )
    description = "; ".join(b for b in bits if b)
    return Entry(ident, kind, name or ident, description, authority, el, sort_key=sort_key)


def _sort_key(name: etree._Element) -> str:
    """``surname forename`` for structured personal names, casefolded."""
    sur = [normalise_space("".join(s.itertext())) for s in name.iterchildren(tei("surname"))]
    fore = [normalise_space("".join(f.itertext())) for f in name.iterchildren(tei("forename"))]
    return " ".join((*sur, *fore)).casefold() if sur else ""


def _display_name(name: etree._Element) -> str:
    """``forename surname`` when the name is structured, its text otherwise."""
    fore = [normalise_space("".join(f.itertext())) for f in name.iterchildren(tei("forename"))]
    sur = [normalise_space("".join(s.itertext())) for s in name.iterchildren(tei("surname"))]
    if fore or sur:
        return " ".join(x for x in (*fore, *sur) if x)
    return normalise_space("".join(name.itertext()))


def cite_bibl(bibl: etree._Element) -> str:
    """A readable one-line citation of a ``bibl``.

    Hand-written bibls carry their own punctuation and are read as they are; structured
    ones (only elements, no text between them) are assembled as title; editors;
    place: publisher, date; scope.
    """
    own_text = (bibl.text or "").strip() or any((c.tail or "").strip() for c in bibl)
    if own_text:
        return normalise_space("".join(bibl.itertext()))

    def texts(*names: str) -> list[str]:
        return [
            normalise_space("".join(c.itertext()))
            for c in bibl
            if isinstance(c.tag, str) and etree.QName(c).localname in names
        ]

    titles = texts("title")
    parts = [titles[0]] if titles else []
    people = texts("author") + [f"{e} (ed.)" for e in texts("editor")]
    if people:
        parts.append(", ".join(people))
    imprint = ": ".join(
        x for x in (", ".join(texts("pubPlace")), ", ".join(texts("publisher"))) if x
    )
    dates = texts("date")
    if imprint or dates:
        parts.append(", ".join(x for x in (imprint, *dates) if x))
    scope = texts("biblScope", "citedRange")
    if scope:
        parts.append(", ".join(scope))
    return "; ".join(p for p in parts if p)


def _list_entry(item: etree._Element, el: etree._Element, ident: str, kind: str) -> Entry:
    """``<item><hi><persName xml:id="p_RD3">Rusk, Dean</persName>,</hi> Secretary…</item>``."""
    name = normalise_space("".join(el.itertext()))
    whole = normalise_space("".join(item.itertext()))
    at = whole.find(name)
    rest = whole[at + len(name) :] if at >= 0 else whole
    description = rest.lstrip(" ,;:—–-").strip()
    authority = tuple(
        normalise_space(i.text or "")
        for i in item.iter(tei("idno"))
        if (i.text or "").strip().startswith(("http://", "https://"))
    )
    return Entry(ident, kind, name, description, authority, el, source="list")
