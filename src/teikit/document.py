"""TeiDocument: what converters and checks need to know about a parsed TEI file.

Built once per file: the id index, pointer resolution and the entries (persons,
organizations, places) that names point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from teikit.loading import Document
from teikit.xmlutil import TEI_NS, XML_ID, XML_LANG, tei

#: Entry element -> the kind of entity it describes.
ENTRY_KINDS = {
    tei("person"): "person",
    tei("personGrp"): "person",
    tei("org"): "org",
    tei("place"): "place",
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

    def resolve(self, pointer: str) -> etree._Element | None:
        """The element a same-document pointer (``#id``) names, else None."""
        pointer = pointer.strip()
        if pointer.startswith("#"):
            return self.ids.get(pointer[1:])
        return None

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
                return normalise_space("".join(_text_without_notes(found[0])))
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

    def entry_for(self, name: etree._Element) -> Entry | None:
        """The entry a name's ``@ref`` (or ``@corresp``/``@key``) points at."""
        for attr in ("ref", "corresp", "key"):
            value = name.get(attr)
            if not value:
                continue
            for token in value.split():
                ident = token[1:] if token.startswith("#") else token
                if ident in self.entries:
                    return self.entries[ident]
        return None


def _text_without_notes(el: etree._Element) -> list[str]:
    parts = [el.text or ""]
    for child in el:
        if child.tag != tei("note"):
            parts.extend(_text_without_notes(child))
        parts.append(child.tail or "")
    return parts


def _entry(el: etree._Element, ident: str, kind: str) -> Entry:
    ns = {"tei": TEI_NS}
    name_el = el.xpath(
        "(tei:persName[@type='full'] | tei:orgName[@type='full'] | tei:placeName[@type='full']"
        " | tei:persName | tei:orgName | tei:placeName)[1]",
        namespaces=ns,
    )
    name = ""
    if isinstance(name_el, list) and name_el and isinstance(name_el[0], etree._Element):
        name = _display_name(name_el[0])
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
    return Entry(ident, kind, name or ident, "; ".join(b for b in bits if b), authority, el)


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
