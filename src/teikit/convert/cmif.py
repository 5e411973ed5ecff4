"""CMIF: the Correspondence Metadata Interchange Format (v1) that correspSearch harvests.

One CMIF file lists letters, each as a ``correspDesc`` with who sent it, from where and
when, and who received it, identified by authority URIs. It is made from the
``correspDesc`` in each letter's ``profileDesc`` and from the entries its names point
at (their ``idno`` URIs), and is valid against the CMIF schema (``cmi-customization.rng``).

The schema only asks that ``@ref`` holds URIs. The CMIF documentation names the authority
files that correspSearch reads: GND, VIAF, Library of Congress, BnF and NDL for persons,
and GeoNames for places. It also uses Wikidata. :func:`authority_uri` brings an
identifier into the form of the documentation's examples (``http://d-nb.info/gnd/…``,
``http://viaf.org/viaf/…``, ``http://www.geonames.org/…``, and
``http://www.wikidata.org/entity/Q…`` for Wikidata). Other URIs are not used as @ref.
"""

from __future__ import annotations

import copy
import datetime
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from lxml import etree

from teikit.document import TeiDocument, cite_bibl, normalise_space
from teikit.errors import InputError, UsageError, one_of
from teikit.xmlutil import TEI_NS, XML_ID, tei

#: Where the CMIF schema is published; written into the file's ``<?xml-model?>``.
CMIF_SCHEMA_URL = (
    "https://raw.githubusercontent.com/TEI-Correspondence-SIG/CMIF/master/schema/"
    "cmi-customization.rng"
)
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
#: The licence statement the CMIF documentation prescribes.
LICENCE_TEXT = "This file is licensed under the terms of the Creative Commons License CC-BY 4.0"
_NS = {"t": TEI_NS}

EditionType = Literal["online", "print", "hybrid"]


@dataclass(frozen=True, slots=True)
class CmifOptions:
    """What a CMIF file says about itself; everything left None is taken from the letters."""

    #: Title of the list of letters (default: the letter's title, or one naming the publisher).
    title: str | None = None
    #: Contact person (default: titleStmt/editor, else respStmt/name, else the publisher).
    editor: str | None = None
    #: The contact person's e-mail address, written as ``editor/email``.
    email: str | None = None
    #: Who publishes the letter metadata (default: the first letter's publicationStmt/publisher).
    publisher: str | None = None
    #: URL of the CMIF file itself (default: a file: URL of cmif.xml beside the letters).
    url: str | None = None
    #: Where each letter is online: a template with ``{id}`` (the TEI's xml:id, else the
    #: file name without suffix) or ``{stem}`` (the file name), or a base URL the id is
    #: appended to. Default: the letter's publicationStmt/idno of type URL, else the
    #: http(s) link in its sourceDesc/bibl.
    letter_url: str | None = None
    #: Citation of the edition the letters come from (default: each letter's first
    #: sourceDesc/bibl, so letters from several editions get one bibl each).
    edition: str | None = None
    #: ``online``, ``print`` or ``hybrid``; default: ``hybrid`` for a printed source with a
    #: link, ``print`` for one without, ``online`` otherwise.
    edition_type: EditionType | None = None
    #: ``publicationStmt/date/@when``: when the file was made (default: today, UTC).
    date: str | None = None

    def __post_init__(self) -> None:
        """Checked when made: a value CMIF cannot carry is an error, not an invalid file."""
        if self.letter_url:
            _check_template(self.letter_url)
        if self.edition_type is not None:
            one_of("edition type", self.edition_type, ("online", "print", "hybrid"))
        if self.date is not None and not _is_iso_date(self.date):
            raise UsageError(f"date must be an ISO date (YYYY-MM-DD), not {self.date!r}")
        if self.url is not None and not _ABSOLUTE_URL.match(self.url):
            raise UsageError(f"url must be an absolute URL (https://...), not {self.url!r}")
        for name in ("title", "editor", "email", "publisher", "edition", "letter_url"):
            value = getattr(self, name)
            if value is not None and _NOT_XML.search(value):
                raise UsageError(f"{name} holds a character XML cannot carry: {value!r}")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A letter that is not in the CMIF file, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class CmifResult:
    """The CMIF file's text, how many letters it lists, and the files left out."""

    xml: str
    letters: int
    skipped: tuple[Skipped, ...]


def to_cmif(doc: TeiDocument, options: CmifOptions = CmifOptions()) -> str:
    """A CMIF file for one letter; a file without a usable correspDesc raises InputError."""
    result = to_cmif_many([doc], options)
    if result.skipped:
        skipped = result.skipped[0]
        raise InputError(f"{skipped.source}: {skipped.reason}")
    return result.xml


# -- authority URIs --------------------------------------------------------------------

#: (authority, pattern, canonical form), in order of preference for persons and orgs.
_AUTHORITIES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("gnd", re.compile(r"^https?://d-nb\.info/gnd/([0-9X-]+)/?$", re.I), "http://d-nb.info/gnd/{}"),
    (
        "viaf",
        re.compile(r"^https?://(?:www\.)?viaf\.org/viaf/(\d+)/?$", re.I),
        "http://viaf.org/viaf/{}",
    ),
    (
        "lc",
        re.compile(r"^https?://id\.loc\.gov/authorities/names/([a-z]+\d+)(?:\.html)?/?$", re.I),
        "http://id.loc.gov/authorities/names/{}",
    ),
    (
        "bnf",
        re.compile(r"^https?://(?:catalogue|data)\.bnf\.fr/ark:/12148/(cb\w+)/?$", re.I),
        "http://catalogue.bnf.fr/ark:/12148/{}",
    ),
    (
        "ndl",
        re.compile(r"^https?://id\.ndl\.go\.jp/auth/ndlna/(\w+)/?$", re.I),
        "http://id.ndl.go.jp/auth/ndlna/{}",
    ),
    (
        "geonames",
        re.compile(r"^https?://(?:www\.|sws\.)?geonames\.org/(\d+)(?:/[^\s]*)?$", re.I),
        "http://www.geonames.org/{}",
    ),
    (
        "wikidata",
        re.compile(r"^https?://(?:www\.|m\.)?wikidata\.org/(?:wiki|entity)/(Q\d+)/?$", re.I),
        "http://www.wikidata.org/entity/{}",
    ),
)
_AGENT_ORDER: tuple[str, ...] = ("gnd", "viaf", "lc", "bnf", "ndl", "wikidata")
_PLACE_ORDER: tuple[str, ...] = ("geonames", "wikidata", "gnd")


def authority_uri(uri: str) -> tuple[str, str] | None:
    """``(authority, canonical URI)`` for an identifier CMIF knows, else None."""
    uri = uri.strip()
    for name, pattern, canonical in _AUTHORITIES:
        m = pattern.match(uri)
        if m:
            return name, canonical.format(m.group(1))
    return None


def _best(uris: Sequence[str], order: Sequence[str]) -> str | None:
    known = dict(reversed([a for a in (authority_uri(u) for u in uris) if a is not None]))
    return next((known[name] for name in order if name in known), None)


# -- reading the letters ---------------------------------------------------------------


def _xpath(el: etree._Element, path: str) -> list[etree._Element]:
    found = el.xpath(path, namespaces=_NS)
    return [x for x in found if isinstance(x, etree._Element)] if isinstance(found, list) else []


def _text(el: etree._Element | None) -> str:
    return normalise_space("".join(el.itertext())) if el is not None else ""


def expand_pointer(doc: TeiDocument, pointer: str) -> str:
    """``prefix:rest`` expanded by the document's ``prefixDef``; other values unchanged."""
    return doc.expand(pointer)


def _web_url(value: str | None) -> str | None:
    if value and re.fullmatch(r"https?://\S+", value.strip()):
        return value.strip()
    return None


def _letter_id(doc: TeiDocument) -> str:
    return doc.root.get(XML_ID) or Path(doc.source.path).stem


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"]+$")
#: What XML 1.0 cannot hold even escaped (C0 controls but tab, LF and CR; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _is_iso_date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _check_template(template: str) -> None:
    """A ``--letter-url`` template may hold ``{id}`` and ``{stem}`` and nothing else in
    braces: it is filled by plain replacement, never by ``str.format`` (which would read
    attributes and indexes out of whatever the user typed)."""
    for name in _PLACEHOLDER.findall(template):
        if name not in ("id", "stem"):
            raise UsageError(
                f"letter URL template {template!r}: unknown placeholder {{{name}}}; "
                "use {id} or {stem}"
            )
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise UsageError(f"letter URL template {template!r}: a brace is not closed")


def _letter_url(doc: TeiDocument, options: CmifOptions) -> str | None:
    if options.letter_url:
        ident, stem = quote(_letter_id(doc)), quote(Path(doc.source.path).stem)
        if "{" in options.letter_url:
            return options.letter_url.replace("{id}", ident).replace("{stem}", stem)
        return options.letter_url + ident
    header = "t:teiHeader/t:fileDesc"
    for idno in _xpath(doc.root, f"{header}/t:publicationStmt/t:idno"):
        if (idno.get("type") or "").lower() in ("url", "uri") and _web_url(_text(idno)):
            return _text(idno)
    for bibl in _source_bibls(doc)[:1]:
        for link in _xpath(bibl, ".//t:ref[@target] | .//t:ptr[@target]"):
            url = _web_url(expand_pointer(doc, (link.get("target") or "").split()[0]))
            if url:
                return url
    return None


def _source_bibls(doc: TeiDocument) -> list[etree._Element]:
    source = "t:teiHeader/t:fileDesc/t:sourceDesc"
    return _xpath(doc.root, f"{source}/t:bibl | {source}/t:biblStruct")


def _edition(doc: TeiDocument, options: CmifOptions) -> tuple[str, EditionType]:
    bibls = _source_bibls(doc)
    citation = options.edition or (_cite_edition(bibls[0]) if bibls else "") or doc.title
    if options.edition_type is not None:
        return citation, options.edition_type
    if options.edition or not bibls:
        return citation, "online"
    printed = (bibls[0].get("type") or "").lower() in ("print", "printed")
    linked = any(
        _web_url(expand_pointer(doc, (link.get("target") or " ").split()[0]))
        for link in _xpath(bibls[0], ".//t:ref[@target] | .//t:ptr[@target]")
    )
    if printed:
        return citation, "hybrid" if linked else "print"
    return citation, "online"


def _cite_edition(bibl: etree._Element) -> str:
    """The bibl's citation without the letter's own place in it (citedRange)."""
    edition = copy.deepcopy(bibl)
    for cited in _xpath(edition, ".//t:citedRange"):
        parent = cited.getparent()
        if parent is None:
            continue
        # lxml removes the tail with the element: keep the text that follows it.
        previous = cited.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + (cited.tail or "")
        else:
            parent.text = (parent.text or "") + (cited.tail or "")
        parent.remove(cited)
    return cite_bibl(edition).rstrip(" ,;:")


def _first_text(docs: Sequence[TeiDocument], *paths: str) -> str:
    """The first non-empty text at any of ``paths``, letter by letter."""
    for doc in docs:
        for path in paths:
            for el in _xpath(doc.root, path):
                if _text(el):
                    return _text(el)
    return ""


# -- writing ---------------------------------------------------------------------------

_W3C_DATE = re.compile(r"^(\d{4})(-\d{2}(-\d{2})?)?")
_DATE_ATTRS = ("when", "notBefore", "notAfter", "from", "to")


def _cmif_date(value: str) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD (the formats CMIF supports); a time is dropped."""
    m = _W3C_DATE.match(value.strip())
    if m is None:
        return None
    rest = value.strip()[m.end() :]
    if rest and not rest.startswith("T"):
        return None
    return m.group(0)


def _e(tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.Element(tei(tag), attrib)
    if text:
        el.text = text
    return el


def _uncertainty(source: etree._Element, target: etree._Element) -> None:
    """CMIF 1.1 marks doubt only as cert="low" and evidence="conjecture"."""
    if source.get("cert") in ("low", "unknown"):
        target.set("cert", "low")
    if source.get("evidence") == "conjecture":
        target.set("evidence", "conjecture")


def _action(doc: TeiDocument, action: etree._Element, kind: str) -> etree._Element:
    out = _e("correspAction", type=kind)
    for child in action:
        if child.tag in (tei("persName"), tei("orgName"), tei("name"), tei("placeName")):
            entry = doc.entry_for(child)
            uris = [t for t in (child.get("ref") or "").split() if _web_url(t)]
            uris += list(entry.authority) if entry is not None else []
            if child.tag == tei("placeName"):
                tag, order = "placeName", _PLACE_ORDER
            elif child.tag == tei("orgName") or (
                child.tag == tei("name") and entry is not None and entry.kind == "org"
            ):
                tag, order = "orgName", _AGENT_ORDER
            else:
                tag, order = "persName", _AGENT_ORDER
            name = _text(child) or (entry.name if entry is not None else "") or "Unknown"
            el = _e(tag, name)
            ref = _best(uris, order)
            if ref:
                el.set("ref", ref)
            _uncertainty(child, el)
            out.append(el)
        elif child.tag == tei("date") and out.find(tei("date")) is None:
            values = {a: _cmif_date(child.get(a) or "") for a in _DATE_ATTRS if child.get(a)}
            dated = {a: v for a, v in values.items() if v}
            if dated:
                el = _e("date", _text(child) or None, **dated)
                _uncertainty(child, el)
                out.append(el)
    return out


def _bibl_id(citation: str) -> str:
    """A stable id (a UUID, as CMIF recommends) that stays the same when the file is made again."""
    return f"bibl-{uuid.uuid5(uuid.NAMESPACE_URL, 'teikit-cmif:' + citation)}"


def to_cmif_many(docs: Sequence[TeiDocument], options: CmifOptions = CmifOptions()) -> CmifResult:
    """One CMIF file for a folder of letters; letters without a correspDesc are skipped."""
    skipped: list[Skipped] = []
    bibls: dict[str, etree._Element] = {}
    descs: list[etree._Element] = []
    used: list[TeiDocument] = []
    for doc in docs:
        found = _xpath(doc.root, "t:teiHeader/t:profileDesc/t:correspDesc")
        if not found:
            skipped.append(Skipped(doc.display, "no correspDesc in teiHeader/profileDesc"))
            continue
        made: list[etree._Element] = []
        for desc in found:
            actions = {
                kind: next(
                    (a for a in desc.iterchildren(tei("correspAction")) if a.get("type") == kind),
                    None,
                )
                for kind in ("sent", "received")
            }
            missing = [k for k, a in actions.items() if a is None]
            if missing:
                skipped.append(
                    Skipped(doc.display, f"correspDesc has no correspAction type={missing[0]!r}")
                )
                made = []
                break
            citation, kind = _edition(doc, options)
            if citation not in bibls:
                bibls[citation] = _e("bibl", citation, type=kind)
                bibls[citation].set(XML_ID, _bibl_id(citation))
            out = _e("correspDesc", source="#" + _bibl_id(citation))
            url = _letter_url(doc, options)
            if url:
                out.set("ref", url)
            nobody = ""
            for action_kind, action in actions.items():
                assert action is not None
                made_action = _action(doc, action, action_kind)
                if (
                    made_action.find(tei("persName")) is None
                    and made_action.find(tei("orgName")) is None
                ):
                    nobody = action_kind  # CMIF needs a person or an organization in each
                    break
                out.append(made_action)
            if nobody:
                skipped.append(
                    Skipped(
                        doc.display,
                        f"correspAction type={nobody!r} names no person or organization",
                    )
                )
                made = []
                break
            made.append(out)
        if made:
            descs.extend(made)
            used.append(doc)

    header_docs = used or list(docs)
    publisher = options.publisher or _first_text(
        header_docs, "t:teiHeader/t:fileDesc/t:publicationStmt/t:publisher"
    )
    publisher = publisher or "Unknown"
    editor = options.editor or _first_text(
        header_docs,
        "t:teiHeader/t:fileDesc/t:titleStmt/t:editor",
        "t:teiHeader/t:fileDesc/t:titleStmt/t:respStmt/t:name",
        "t:teiHeader/t:fileDesc/t:titleStmt/t:respStmt/t:persName",
    )
    editor = editor or publisher
    if options.title:
        title = options.title
    elif len(used) == 1:
        title = used[0].title
    else:
        title = f"Letters published by {publisher}"
    url = options.url or _default_url(header_docs)
    date = options.date or datetime.datetime.now(datetime.UTC).date().isoformat()

    root = etree.Element(tei("TEI"), nsmap={None: TEI_NS})
    header = etree.SubElement(root, tei("teiHeader"))
    file_desc = etree.SubElement(header, tei("fileDesc"))
    title_stmt = etree.SubElement(file_desc, tei("titleStmt"))
    title_stmt.append(_e("title", title))
    editor_el = etree.SubElement(title_stmt, tei("editor"))
    editor_el.text = editor
    if options.email:
        editor_el.text = editor + " "
        editor_el.append(_e("email", options.email))
    publication = etree.SubElement(file_desc, tei("publicationStmt"))
    publication.append(_e("publisher", publisher))
    publication.append(_e("idno", url, type="url"))
    publication.append(_e("date", when=date))
    availability = etree.SubElement(publication, tei("availability"))
    availability.append(_e("licence", LICENCE_TEXT, target=LICENCE_URL))
    source_desc = etree.SubElement(file_desc, tei("sourceDesc"))
    if not bibls:
        # The schema needs one bibl even in a file that lists no letter.
        citation, kind = options.edition or title, options.edition_type or "online"
        bibls[citation] = _e("bibl", citation, type=kind)
        bibls[citation].set(XML_ID, _bibl_id(citation))
    source_desc.extend(bibls.values())
    profile = etree.SubElement(header, tei("profileDesc"))
    profile.extend(descs)
    text = etree.SubElement(root, tei("text"))
    etree.SubElement(etree.SubElement(text, tei("body")), tei("p"))

    tree = etree.ElementTree(root)
    root.addprevious(
        etree.ProcessingInstruction(
            "xml-model",
            f'href="{CMIF_SCHEMA_URL}" type="application/xml" '
            'schematypens="http://relaxng.org/ns/structure/1.0"',
        )
    )
    xml = etree.tostring(tree, encoding="unicode", pretty_print=True)
    return CmifResult('<?xml version="1.0" encoding="UTF-8"?>\n' + xml, len(descs), tuple(skipped))


def _default_url(docs: Sequence[TeiDocument]) -> str:
    """A file: URL of ``cmif.xml`` in the folder the letters share."""
    folders = [Path(doc.source.path).resolve().parent for doc in docs]
    if not folders:
        return Path("cmif.xml").resolve().as_uri()
    common = folders[0]
    while any(common not in (f, *f.parents) for f in folders):
        common = common.parent
    return (common / "cmif.xml").as_uri()
