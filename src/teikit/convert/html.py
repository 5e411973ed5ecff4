"""A standalone, accessible HTML5 page (or fragment) from a TEI document.

What an editor would publish, after the TEI Consortium Stylesheets, CETEIcean, TEI
Publisher and history.state.gov's FRUS pages:

* the ``text`` element's content as valid HTML5: a TEI element that HTML does not allow
  where it stands is adapted, never dropped (a list inside a paragraph splits the
  paragraph; a block inside a phrase becomes ``<span class="tk-block">``);
* headings in order: the page title is the one ``h1``; a ``head`` of a ``div`` gets
  ``h2``, of a ``div`` inside a headed ``div`` ``h3``, and so on (never a skipped level);
  heads of lists, tables and figures are captions, not headings;
* notes as endnotes (``role="doc-noteref"`` markers, ``role="doc-endnote"`` items with
  back links), page breaks as links in the margin, ``lang`` from ``xml:lang``;
* names linked to the entries they point at: an index of persons, organizations and
  places with authority links (``@ref`` to standOff entries), or, in the publisher's
  convention, ``persName/@corresp="#p_RD3"`` to the ``item`` of a persons list whose
  ``persName`` carries that ``xml:id`` (the item takes the id) — every entry links back
  to its mentions;
* ``gloss/@target="#t_SIG1"`` as a link to the terms-list item around it, holding an
  ``<abbr>`` whose ``title`` is the item's text without the term ("Senior
  Interdepartmental Group");
* ``@rend`` words as ``rend-*`` classes and ``@rendition`` pointers as ``tk-r-*`` classes
  whose CSS, taken from ``tagsDecl/rendition``, is sanitised (see :func:`sanitize_css`)
  into the page's ``<style>``.

It is inert by construction: every string from the input reaches the output through
lxml's element API, which escapes it; no input attribute is copied through (``style``,
``on*`` and foreign attributes never appear); links are made only from http(s) and mailto
URLs and in-page targets that exist; nothing is loaded from elsewhere (a ``graphic``
becomes a link to the image, not an ``<img>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources

from lxml import etree
from lxml.builder import ElementMaker

from teikit.convert.blocks import (
    CONTAINERS,
    LINE_BREAKS,
    PAGE_BREAKS,
    all_forms,
    between_blocks,
    in_place,
    is_block,
    parent_tag,
)
from teikit.convert.rules import RenderRules
from teikit.convert.text import (
    ALTERNATIVES,
    METADATA,
    NOTE,
    body_of,
    page_label,
    skip_unread,
)
from teikit.convert.walk import text_outside, walk
from teikit.document import NAME_KINDS, Entry, TeiDocument, cite_bibl, normalise_space
from teikit.errors import one_of
from teikit.xmlutil import TEI_NS, XML_ID, XML_LANG, tei

_SAFE_ID = re.compile(r"^[A-Za-z_][\w.:-]*$")
_CLASS_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")
_ID_UNSAFE = re.compile(r"[^\w.:-]+")
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s<>\"'`\\]+$", re.IGNORECASE)
_WEB_URL = re.compile(r"^https?://", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_DATE = re.compile(r"^(\d{4,})(?:-(\d\d)(?:-(\d\d))?)?$")
_DATETIME = re.compile(
    r"^(\d{4,}-\d\d-\d\d)[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?"
    r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$"
)
#: XML's whitespace only: a no-break space is content, not layout.
#: (Runs that are a single space already are left alone: cheaper to find.)
_FOLDABLE = re.compile(r"[ \t\r\n]{2,}|[\t\r\n]")
_XML_SPACE = " \t\r\n"
#: What Python's str.split takes for whitespace and XML does not.
_NOT_XML_SPACE = re.compile(
    r"[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
KIND_TITLES = {"person": "Persons", "org": "Organizations", "place": "Places"}
#: The glossaries after each document of a volume, in this order.
GLOSSARY_TITLES = {**KIND_TITLES, "term": "Abbreviations and terms"}
KIND_CLASS = {"person": "person", "org": "org", "place": "place"}

#: The ids of the page shell (landmarks, headings, the notes and index sections).
_PAGE_IDS = ("tk-main", "tk-text", "tk-title", "tk-notes", "tk-notes-h", "tk-index", "tk-index-h")

#: The page title is the h1; the text's top-level heads start here.
TOP_HEADING = 2

# TEI names used on every element: computed once.
_DIVS = frozenset(tei(n) for n in ("div", "div1", "div2", "div3", "div4", "div5", "div6", "div7"))
_HEADING_PARENTS = _DIVS | {
    tei(n) for n in ("body", "front", "back", "group", "text", "floatingText")
}
_HEAD, _LIST, _ITEM, _LABEL = tei("head"), tei("list"), tei("item"), tei("label")
_TABLE, _ROW, _CELL = tei("table"), tei("row"), tei("cell")
_FIGURE, _FIGDESC, _GRAPHIC, _DESC = tei("figure"), tei("figDesc"), tei("graphic"), tei("desc")
_QUOTE, _REF, _PTR = tei("quote"), tei("ref"), tei("ptr")
#: Breaks in TEI P4 and XHTML too (see :mod:`teikit.convert.blocks`): a <br> there is
#: a line break here as well, not an empty span that glues the words around it.
_PBS = PAGE_BREAKS
_CBS = all_forms(["cb"])
_LBS = LINE_BREAKS - _CBS
_GLOSS, _DATE_EL, _ABBR, _CHOICE = tei("gloss"), tei("date"), tei("abbr"), tei("choice")
_EXPAN, _GAP, _SUPPLIED, _TITLE = tei("expan"), tei("gap"), tei("supplied"), tei("title")
#: TEI element -> HTML element, where the mapping does not depend on context.
_SIMPLE = {
    **{
        tei(n): "p"
        for n in "p ab dateline salute signed byline trailer docDate docAuthor titlePart".split()
    },
    tei("l"): "div",
    tei("docImprint"): "div",
    tei("emph"): "em",
    tei("del"): "del",
    tei("add"): "ins",
}
#: Elements :meth:`_Renderer.open` renders in a way of their own (the others are plain
#: blocks or spans, decided without walking the whole list of cases).
_SPECIAL = frozenset(NAME_KINDS) | {
    _HEAD,
    _LIST,
    _ITEM,
    _LABEL,
    _TABLE,
    _ROW,
    _CELL,
    _FIGURE,
    _GRAPHIC,
    _QUOTE,
    *_PBS,
    *_LBS,
    *_CBS,
    _TITLE,
    _REF,
    _PTR,
    _GLOSS,
    _DATE_EL,
    _ABBR,
    _GAP,
}
#: Where a term or name carrying an id makes its list item the target (FRUS lists).
_HEADWORDS = frozenset(tei(n) for n in ("persName", "orgName", "placeName", "name", "term", "rs"))

# HTML content models, as far as this converter needs them.
_PHRASING = frozenset(
    "a abbr b br cite code del dfn em i ins q s small span strong sub sup time u".split()
)
#: Elements whose content must be phrasing (the transparent a/del/ins count as such here).
_PHRASING_ONLY = _PHRASING | {"p", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "caption"}
#: Elements a paragraph cannot hold that may stand after it instead.
_LISTS = frozenset({"ul", "ol"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: Parents whose children HTML constrains (items, terms, rows, cells).
_STRUCTURED = frozenset({"ul", "ol", "dl", "table", "tr"})
#: Elements that may stand only inside certain parents.
_CONTAINED = {
    "li": ("ul", "ol"),
    "dt": ("dl",),
    "dd": ("dl",),
    "tr": ("table", "tbody"),
    "td": ("tr",),
    "th": ("tr",),
    "caption": ("table",),
    "figcaption": ("figure",),
}


@dataclass(frozen=True, slots=True)
class HtmlOptions:
    """``fragment`` drops the page shell (for embedding in a site).

    A fragment is a ``<div class="teikit">``; its text heads start at ``h2`` as on the
    page, below the host page's own ``h1``. It carries no ``<style>`` (HTML allows none
    there): the host supplies ``teikit.css`` and :func:`rendition_css`.
    """

    fragment: bool = False
    #: Show <choice> alternatives as the source has them (abbr with the expansion as a title).
    choice: str = "source"
    #: The project's render rules: ``display = "omit"`` drops an element, ``html`` picks
    #: the HTML element (from a safe whitelist), ``class`` adds a CSS class, and
    #: ``before``/``after`` add text around the content.
    rules: RenderRules = field(default_factory=RenderRules)

    def __post_init__(self) -> None:
        one_of("choice", self.choice, ("source", "edited"))


def safe_url(value: str | None) -> str | None:
    """Only absolute web/mail URLs become links: never javascript:, data: or the like."""
    if not value:
        return None
    value = value.strip()
    return value if _SAFE_URL.match(value) else None


def class_tokens(*values: str | None) -> str:
    """Turn ``@rend``/``@type`` words into CSS class names that cannot break out."""
    out: list[str] = []
    for value in values:
        for word in (value or "").split():
            token = _CLASS_TOKEN.sub("-", word.lstrip("#")).strip("-")
            if token and token not in out:
                out.append(token)
    return " ".join(out)


# --- rendition: CSS from the header, sanitised -------------------------------------------

_CSS_PROPERTY = re.compile(
    r"^(text-align|font-style|font-weight|font-variant|text-decoration(-line|-style|-color)?"
    r"|vertical-align|(margin|padding)(-(top|right|bottom|left))?|display|float|white-space"
    r"|text-indent|border(-(top|right|bottom|left))?(-(width|style|color))?)$"
)
#: Values are words, numbers, lengths, percentages and #colours: no functions, quotes,
#: braces, slashes, colons or escapes, so nothing can load, run or break out of the rule.
_CSS_VALUE = re.compile(r"^[A-Za-z0-9#%.,+\s-]+$")
_CSS_FORBIDDEN = ("url(", "expression(", "@import", "javascript:", "\\", "<")
_DISPLAY_VALUES = frozenset({"block", "inline", "inline-block"})


def sanitize_css(css: str) -> str:
    """Keep only harmless declarations of a ``rendition``'s CSS.

    A declaration survives when its property is one of text-align, font-style,
    font-weight, font-variant, text-decoration, vertical-align, margin*, padding*,
    display (block, inline or inline-block only), float, white-space, text-indent and
    border*, and its value is plain words, numbers, lengths and ``#`` colours (an
    ``!important`` is kept). Anything containing ``url(``, ``expression(``, ``@import``,
    ``javascript:``, a backslash or ``<``, and every other property, is dropped.
    """
    kept: list[str] = []
    for declaration in css.split(";"):
        lowered = declaration.lower()
        if not declaration.strip() or any(bad in lowered for bad in _CSS_FORBIDDEN):
            continue
        prop, colon, value = declaration.partition(":")
        prop, value = prop.strip().lower(), value.strip()
        important = value.lower().endswith("!important")
        if important:
            value = value[: -len("!important")].strip()
        if not colon or not value or not _CSS_PROPERTY.match(prop):
            continue
        if not _CSS_VALUE.match(value):
            continue
        if prop == "display" and value.lower() not in _DISPLAY_VALUES:
            continue
        kept.append(f"{prop}: {' '.join(value.split())}{' !important' if important else ''}")
    return "; ".join(kept)


def renditions(doc: TeiDocument) -> dict[str, str]:
    """``tagsDecl/rendition`` id -> the CSS class that ``@rendition="#id"`` becomes."""
    classes: dict[str, str] = {}
    taken: set[str] = set()
    for el in _rendition_elements(doc):
        ident = el.get(XML_ID) or ""
        base = "tk-r-" + (_CLASS_TOKEN.sub("-", ident).strip("-") or "x")
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        classes[ident] = name
        taken.add(name)
    return classes


def rendition_css(doc: TeiDocument) -> str:
    """The CSS rules for the document's renditions, sanitised; empty when there are none."""
    classes = renditions(doc)
    rules = []
    for el in _rendition_elements(doc):
        css = sanitize_css("".join(el.itertext()))
        if css:
            rules.append(f".{classes[el.get(XML_ID) or '']} {{ {css} }}")
    return "\n".join(rules)


#: Compiled once: the path is asked three times per page.
_RENDITIONS = etree.XPath(
    "tei:teiHeader/tei:encodingDesc/tei:tagsDecl/tei:rendition[@xml:id]"
    "[not(@scheme) or @scheme='css']",
    namespaces={"tei": TEI_NS},
)


def _rendition_elements(doc: TeiDocument) -> list[etree._Element]:
    found = _RENDITIONS(doc.root)
    seen: set[str] = set()
    out: list[etree._Element] = []
    for el in found if isinstance(found, list) else []:
        if isinstance(el, etree._Element) and el.get(XML_ID) not in seen:
            seen.add(el.get(XML_ID) or "")
            out.append(el)
    return out


# --- rendering ---------------------------------------------------------------------------

#: The output is made of plain lxml elements (not ``lxml.html`` ones, which look up their
#: Python class through a Python call every time a node is touched: a third of the
#: conversion) in documents of an HTML parser. For those lxml skips checking each tag and
#: attribute name against XML's rules, a check that raised and caught a TypeError inside
#: lxml on every element and attribute: a tenth of the conversion. The names are teikit's
#: own (render rules pick from a whitelist), so nothing that check could refuse gets here.
_HTML_DOCUMENTS = etree.HTMLParser()
_element = _HTML_DOCUMENTS.makeelement
E = ElementMaker(makeelement=_element)


def _cls(value: str) -> dict[str, str]:
    return {"class": value}


@dataclass(slots=True)
class _State:
    doc: TeiDocument
    options: HtmlOptions
    used_ids: set[str] = field(default_factory=set)
    notes: list[etree._Element] = field(default_factory=list)
    mentions: dict[str, list[str]] = field(default_factory=dict)
    #: list items that took the id of their headword (FRUS persons and terms lists)
    items: dict[str, tuple[etree._Element, str]] = field(default_factory=dict)
    glosses: dict[str, str] = field(default_factory=dict)
    #: entries whose xml:id their index term carries (not one the page itself uses)
    entry_ids: set[str] = field(default_factory=set)
    rendition_classes: dict[str, str] = field(default_factory=dict)
    note_refs: list[str] = field(default_factory=list)
    #: the ids that in-page links made from the source point at (a name's entry, a
    #: gloss's item, a ref's target): the only links that can lead nowhere
    targets: list[str] = field(default_factory=list)
    counter: int = 0
    #: the last number ``fresh`` gave each base (so that a thousand page breaks numbered
    #: "1" do not each count up from 1 again)
    numbered: dict[str, int] = field(default_factory=dict)

    def claim(self, ident: str | None) -> str | None:
        """The TEI ``xml:id`` as an HTML id, if it is usable and not taken yet."""
        if ident and ident not in self.used_ids and _SAFE_ID.match(ident):
            self.used_ids.add(ident)
            return ident
        return None

    def fresh(self, base: str) -> str:
        """An id of our own that no TEI id (rendered or not) and no other id takes."""
        base = _ID_UNSAFE.sub("-", base)
        n = self.numbered.get(base, 1)
        candidate = base if n == 1 else f"{base}-{n}"
        while candidate in self.used_ids or candidate in self.doc.ids:
            n += 1
            candidate = f"{base}-{n}"
        self.numbered[base] = n
        self.used_ids.add(candidate)
        return candidate

    def new_id(self, preferred: str | None, fallback: str) -> str:
        """The TEI id when usable, else a fresh one from ``fallback``."""
        return self.claim(preferred) or self.fresh(fallback)


def to_html(doc: TeiDocument, options: HtmlOptions = HtmlOptions()) -> str:
    """Render ``doc`` as HTML5 text (a whole page unless ``options.fragment``)."""
    state = _State(doc, options, rendition_classes=renditions(doc))
    # The page's own ids are taken first: a TEI xml:id "tk-main" must not make a second.
    state.used_ids.update(_PAGE_IDS)
    # Entries get their own ids first so that names and @target links can point at them.
    state.entry_ids = {ident for ident in doc.entries if state.claim(ident)}
    lang = doc.language if doc.language and _LANG.match(doc.language) else None
    # The shell is built first and the text rendered in place: appending a finished
    # subtree to another tree makes lxml visit every node of it again, once per level
    # (a tenth of the conversion when the page was assembled around the text).
    page, container = (None, _fragment_shell(lang)) if options.fragment else _page(doc)
    text = etree.SubElement(container, "div", {"id": "tk-text", "class": "tei-text"})
    _Renderer(state, lang).render(body_of(doc), text)
    _add_item_mentions(state)
    if state.notes:
        section = etree.SubElement(
            container,
            "section",
            {"class": "notes", "id": "tk-notes", "role": "doc-endnotes"},
        )
        section.set("aria-labelledby", "tk-notes-h")
        etree.SubElement(section, "h2", id="tk-notes-h").text = "Notes"
        etree.SubElement(section, "ol").extend(state.notes)
    index = _index(state)
    if index is not None:
        container.append(index)

    if page is None:
        _drop_dangling_links(container, state)
        return etree.tostring(container, encoding="unicode", method="html") + "\n"

    toc = E.nav(
        _cls("toc"),
        {"aria-label": "Sections"},
        E.ul(
            E.li(E.a("Text", href="#tk-text")),
            *([E.li(E.a("Notes", href="#tk-notes"))] if state.notes else []),
            *([E.li(E.a("Index", href="#tk-index"))] if index is not None else []),
        ),
    )
    page_div = page.find("body/div")
    assert page_div is not None
    page_div.insert(0, toc)
    page.set("lang", lang or "und")
    _drop_dangling_links(page, state)
    return etree.tostring(page, doctype="<!DOCTYPE html>", encoding="unicode", method="html") + "\n"


def _fragment_shell(lang: str | None) -> etree._Element:
    wrapper = E.div(_cls("teikit"))
    if lang:
        wrapper.set("lang", lang)
    return wrapper


def _page(doc: TeiDocument) -> tuple[etree._Element, etree._Element]:
    """The page around the text (without its table of contents), and where the text goes."""
    title = doc.title or "TEI document"
    header = E.header(_cls("doc-header"), E.h1(_cls("doc-title"), title, id="tk-title"))
    source = _source_citation(doc)
    if source:
        header.append(E.p(_cls("source-citation"), source))
    css = _stylesheet()
    extra = rendition_css(doc)
    article = E.article(_cls("tei-document"), {"aria-labelledby": "tk-title"}, header)
    page = E.html(
        E.head(
            E.meta(charset="utf-8"),
            E.meta(name="viewport", content="width=device-width, initial-scale=1"),
            E.meta(name="generator", content="teikit"),
            E.title(title),
            E.style(
                css + ("\n/* renditions from the TEI header, sanitised */\n" + extra + "\n")
                if extra
                else css
            ),
        ),
        E.body(E.div(_cls("page"), E.main({"id": "tk-main"}, article))),
    )
    return page, article


@lru_cache(maxsize=1)
def _stylesheet() -> str:
    return resources.files("teikit.convert").joinpath("teikit.css").read_text("utf-8")


def _tag_of(node: etree._Element) -> str:
    tag = node.tag
    return tag if isinstance(tag, str) else ""


class _Renderer:
    """One walk over the text, building HTML that obeys HTML's content models."""

    def __init__(self, state: _State, lang: str | None) -> None:
        self.state = state
        self.page_lang = lang
        #: where content goes, one entry per open TEI element
        self.stack: list[etree._Element] = []
        #: for entries placed after a paragraph they split: (index of the paragraph, node)
        self.splits: list[tuple[int, etree._Element] | None] = []
        #: the element open() made in place under the current node (attach() has nothing
        #: left to do for it)
        self.placed: etree._Element | None = None
        #: per open div: whether its head became a heading
        self.headed: list[bool] = []
        self.continuations: set[etree._Element] = set()
        #: blocks that became ``<span class="tk-block">`` (a space follows each)
        self.downgraded: set[etree._Element] = set()
        #: whether each list is a glossary (asked once per list, not once per item)
        self.glossaries: dict[etree._Element, bool] = {}
        #: the render rules, None when there are none (as is usual): not asked twice per element
        self.rules = state.options.rules if state.options.rules.rules else None
        #: :func:`_shape` per (TEI tag, TEI parent tag): asked once, not once per element
        self.shapes: dict[tuple[object, object], tuple[str | None, str, str]] = {}
        #: the division each note follows, when notes are numbered anew in each (notes.py),
        #: and the notes waiting for the end of their division: both empty as a rule
        self.places: dict[etree._Element, etree._Element] = {}
        self.held: dict[etree._Element, list[etree._Element]] = {}
        #: those divisions (a volume's documents), the ones open, and what each names:
        #: each is followed by a glossary of the persons and terms it names, as
        #: history.state.gov shows beside each document
        self.units: set[etree._Element] = set()
        self.open_units: list[etree._Element] = []
        self.named: dict[etree._Element, dict[str, None]] = {}

    # -- the walk ------------------------------------------------------------------------

    def render(self, root: etree._Element, target: etree._Element) -> None:
        choice = self.state.options.choice

        def skip(el: etree._Element) -> bool:
            tag = el.tag
            if tag in (_DESC, _FIGDESC):
                parent = el.getparent()
                if parent is not None and _labels_a_graphic(el, tag, parent):
                    return True
            if rules is not None:
                rule = rules.match(el)
                if rule is not None and rule.display == "omit":
                    return True
            # skip_unread's answer, settled by name first as text's omission() does: the
            # walk asks for every element, and a call each cost 1-2% of the conversion.
            if tag in METADATA:
                return True
            return tag in ALTERNATIVES and skip_unread(el, choice)

        rules = self.rules
        self.stack, self.splits = [target], [None]
        self.places = self.state.doc.note_places or {}
        self.units = set(self.places.values())
        stack, add_text, start, end = self.stack, self.add_text, self.start, self.end
        # The open TEI elements and their names: the last is the parent of what starts
        # (getparent() and .tag build a new Python object at every call).
        parents: list[etree._Element] = [root]
        tags: list[object] = [root.tag]
        after_end = False  # whether a text is the tail of the element just rendered
        for kind, el, text in walk(root, skip):
            if kind == "text":
                node = stack[-1]
                if node.tag in _STRUCTURED:
                    add_text(node, text)
                else:
                    _append_text(node, text, after_end)  # add_text's work, one call fewer
                after_end = False
            elif el is root:
                continue
            elif kind == "start":
                tag = el.tag
                start(el, tag, parents[-1], tags[-1])
                parents.append(el)
                tags.append(tag)
                after_end = False
            else:
                parents.pop()
                end(el, tags.pop())
                after_end = True
        for left in self.held.values():  # a division that was not a block: after the text
            self.state.notes.extend(left)

    def gloss_list(self, el: etree._Element | None) -> bool:
        """:func:`_is_gloss_list`, remembered per list."""
        if el is None:
            return False
        found = self.glossaries.get(el)
        if found is None:
            found = self.glossaries[el] = _is_gloss_list(el)
        return found

    def start(self, el: etree._Element, tag: object, parent: etree._Element, ptag: object) -> None:
        if self.units and el in self.units:
            self.open_units.append(el)
            self.named[el] = {}
        if tag == NOTE and not in_place(el):
            self.push(self.open_note(el), None)
            return
        if tag in _DIVS:
            self.headed.append(False)
        outer, inner = self.open(el, tag, parent, ptag)
        rule = self.rules.match(el) if self.rules is not None else None
        if rule is not None:
            if rule.html and rule.html != outer.tag:
                outer = _retag(outer, rule.html)
            if rule.css_class:
                classes = f"{outer.get('class', '')} {class_tokens(rule.css_class)}"
                outer.set("class", classes.strip())
            if rule.before:
                _append_text(inner, rule.before)
        split = False if outer is self.placed else self.attach(self.stack[-1], outer)
        if ptag in _DIVS and outer.tag in _HEADINGS and self.headed:
            self.headed[-1] = True
        self.stack.append(inner)
        self.splits.append((len(self.stack) - 2, outer) if split else None)

    def push(self, node: etree._Element, split: tuple[int, etree._Element] | None) -> None:
        self.stack.append(node)
        self.splits.append(split)

    def end(self, el: etree._Element, tag: object) -> None:
        node = self.stack.pop()
        split = self.splits.pop()
        if tag == NOTE and not in_place(el):
            self.close_note(el, node)
            return
        rule = self.rules.match(el) if self.rules is not None else None
        if rule is not None and rule.after:
            _append_text(node, rule.after)
        if self.held and el in self.held:  # the division's own notes follow it
            self.attach(node, self.notes_section(self.held.pop(el)))
        if self.open_units and self.open_units[-1] is el:
            self.open_units.pop()
            for section in self.glossary_sections(self.named.pop(el)):
                self.attach(node, section)
        if tag in _DIVS:
            self.headed.pop()
        if split is not None:
            # Content after the block continues in a new paragraph after it.
            index, placed = split
            para = self.stack[index]
            cont = _element("p")
            for attr in ("class", "lang"):
                if para.get(attr):
                    cont.set(attr, para.get(attr, ""))
            # A block that was split itself (a table in a dateline in a paragraph) ends
            # in its own continuation, after what split it: the paragraph resumes after
            # that. Its first piece may be gone by then (it was empty when split).
            last_piece = node in self.continuations and node.getparent() is not None
            (node if last_piece else placed).addnext(cont)
            self.continuations.add(cont)
            self.stack[index] = cont
        elif tag == _SUPPLIED or (tag == NOTE and not between_blocks(parent_tag(el))):
            _append_text(node, "]")  # a note left in place in running text is set apart
        elif tag == _PTR and node.text:
            # The URL it shows stands apart from the next word, right after the link
            # (which HTML's content models may have moved out of a list or a table).
            node.tail = " " + (node.tail or "")
        if node.tag == "dl":
            last = _last(node)
            if last is not None and last.tag == "dt":
                etree.SubElement(node, "dd")  # a term needs its description, even an empty one
        elif node.tag == "tr" and _last(node) is None:
            etree.SubElement(node, "td")  # a row needs a cell
        if node in self.continuations:
            parent = node.getparent()
            if parent is not None and _last(node) is None and not (node.text or "").strip():
                parent.remove(node)
        elif node in self.downgraded:
            _append_text(self.stack[-1], " ")

    # -- placing nodes where HTML allows them --------------------------------------------

    def attach(self, parent: etree._Element, node: etree._Element) -> bool:
        """Put ``node`` under ``parent`` or where HTML lets it stand; True if it split a p."""
        ptag = parent.tag
        tag = node.tag
        if _appends(ptag, tag) and not len(node):  # what open() also makes in place
            parent.append(node)
            return False
        if ptag in _STRUCTURED:
            return self.attach_structured(parent, node)
        if ptag in _PHRASING_ONLY and tag not in _PHRASING:
            grand = parent.getparent()
            if ptag == "p" and grand is not None and _tag_of(grand) not in _PHRASING_ONLY:
                # A list, table, quotation... ends the paragraph; it resumes afterwards.
                _beside(parent, node, before=False)
                empty = _last(parent) is None and not (parent.text or "").strip()
                if empty and not parent.get("id"):
                    grand.remove(parent)
                return True
            _downgrade(node)
            self.downgraded.add(node)
            _append_text(parent, " ")
        elif tag in _CONTAINED:
            _fit_contained(node, ptag)
        elif (tag == "a" or len(node)) and _inside_link(parent) is not None:
            _unlink(node)
        parent.append(node)
        return False

    def attach_structured(self, parent: etree._Element, node: etree._Element) -> bool:
        """:meth:`attach` under a list, table or row: items, terms, rows and cells only."""
        ptag = parent.tag
        tag = node.tag
        # The last child, found from the end: len() and [-1] count every child in lxml,
        # which made long paragraphs and lists quadratic.
        last = _last(parent)
        if ptag in _LISTS:
            if tag == "li":
                parent.append(node)
            elif last is not None and last.tag == "li":
                self.attach(last, node)
            else:
                _beside(parent, node, before=True)
            return False
        if ptag == "dl":
            if tag in ("dt", "dd"):
                if tag == "dd" and last is None:
                    parent.append(_element("dt"))
                parent.append(node)
            elif last is not None:
                return self.attach(last, node)
            else:
                _beside(parent, node, before=True)
            return False
        if ptag == "table":
            if tag == "caption" and last is None:
                parent.append(node)
                return False
            if tag == "caption":
                node.tag = "p"
            body = last if last is not None and last.tag == "tbody" else None
            row = _last(body) if body is not None else None
            if tag == "tr":
                if body is None:
                    body = etree.SubElement(parent, "tbody")
                body.append(node)
            elif row is not None:
                self.attach(row, node)
            else:
                _beside(parent, node, before=True)
            return False
        # a row
        if tag in ("td", "th"):
            parent.append(node)
        else:
            cell = last if last is not None else etree.SubElement(parent, "td")
            self.attach(cell, node)
        return False

    def add_text(self, node: etree._Element, text: str) -> None:
        """Text goes where the content model allows it (never loose in a list or table)."""
        tag = node.tag
        if tag in _STRUCTURED:
            if not text.strip():
                return
            last = _last(node)
            if tag == "table":
                body = last if last is not None and last.tag == "tbody" else None
                last = _last(body) if body is not None else None
            if last is not None:
                self.add_text(last, text)
            elif tag == "tr":
                self.add_text(etree.SubElement(node, "td"), text)
            else:
                before = node.getprevious()
                if before is not None:
                    before.tail = (before.tail or "") + _fold(text)
                else:
                    parent = node.getparent()
                    if parent is not None:
                        parent.text = (parent.text or "") + _fold(text)
            return
        _append_text(node, text)

    # -- TEI elements --------------------------------------------------------------------

    def open(
        self, el: etree._Element, tag: object, parent: etree._Element, ptag: object
    ) -> tuple[etree._Element, etree._Element]:
        """The HTML element a TEI element ``tag`` under ``parent`` (named ``ptag``) becomes
        (outer, and inner for its content)."""
        state = self.state
        shape = self.shapes.get((tag, ptag))
        if shape is None:
            shape = self.shapes[(tag, ptag)] = _shape(tag, ptag)
        html, local, classes = shape
        node: etree._Element
        inner: etree._Element | None = None
        if html is not None:
            here = self.stack[-1]
            htag = here.tag
            if self.rules is None and _appends(htag, html):
                # Made in place: what attach() would do, without a document of its own
                # for the new element (lxml makes one, and frees it once it is moved).
                node = self.placed = etree.SubElement(here, html)
            else:
                node = _element(html)
        elif tag not in _SPECIAL:
            node = self.plain(tag, ptag, el)
        elif tag in NAME_KINDS:
            node = self.name(el)
        elif tag == _HEAD:
            node = self.head(el, ptag)
        elif tag == _LIST:
            if el.find(_LABEL) is not None:
                node = _element("dl")
            elif (
                el.get("type") in ("ordered", "numbered")
                or "numbered" in (el.get("rend") or "").split()
            ):
                node = _element("ol")
            else:
                node = _element("ul")
        elif tag == _ITEM:
            node = _element("dd" if self.gloss_list(parent) else "li")
            headword = _headword(el) if el.get(XML_ID) is None else None
            if headword is not None:
                ident = state.claim(headword.get(XML_ID))
                if ident:
                    node.set("id", ident)
                    name = normalise_space("".join(headword.itertext()))
                    state.items[ident] = (node, name or ident)
        elif tag == _LABEL and ptag == _LIST and self.gloss_list(parent):
            node = _element("dt")
        elif tag == _TABLE:
            node = _element("table")
        elif tag == _ROW:
            node = _element("tr")
        elif tag == _CELL:
            label = el.get("role") == "label" or (
                parent is not None and parent.get("role") == "label"
            )
            node = _element("th" if label else "td")
            for attr, html_attr in (("cols", "colspan"), ("rows", "rowspan")):
                value = el.get(attr, "")
                if value.isdigit() and 1 < int(value) <= 1000:
                    node.set(html_attr, str(int(value)))
        elif tag == _FIGURE and is_block(tag, ptag):
            node = _element("figure")
        elif tag == _GRAPHIC:
            node = _graphic(el)
        elif tag == _QUOTE and (is_block(tag, ptag) or _has_block_child(el)):
            node = _element("blockquote")
        elif tag in _PBS:
            return (node := self.page_break(el)), node
        elif tag in _LBS:
            node = _element("br") if el.get("break") != "no" else _element("span")
        elif tag in _CBS:
            # A column break separates words, as a line break does, unless break="no".
            node = _element("span")
            if el.get("break") != "no":
                node.text = " "
        elif tag == _TITLE:
            node = _element("cite")
        elif tag in (_REF, _PTR):
            node = self.link(el)
        elif tag == _GLOSS and el.get("target"):
            node, inner = self.gloss(el)
        elif tag == _DATE_EL and _valid_datetime(el.get("when")):
            node = _element("time", datetime=(el.get("when") or "").strip())
        elif tag == _ABBR and ptag == _CHOICE:
            node = _element("abbr")
            expan = parent.find(_EXPAN) if parent is not None else None
            if expan is not None:
                node.set("title", normalise_space("".join(expan.itertext())))
        elif tag == _ABBR:
            node = _element("abbr")
        elif tag == _GAP:
            node = _element("span")
            node.text = "[…]"
            reason = el.get("reason")
            node.set("title", "gap in the source" + (f": {reason}" if reason else ""))
        else:
            node = self.plain(tag, ptag, el)

        # The attributes read once, and only when there are any (half the elements have
        # none): five el.get() calls per element were a tenth of the conversion.
        items = el.items()
        attrs = dict(items) if items else None
        if attrs is not None:
            kind, rend = attrs.get("type"), attrs.get("rend")
            if kind is not None or rend is not None:
                classes = _element_classes(local, kind, rend)
            rendition = attrs.get("rendition")
            if rendition:
                extra = [
                    state.rendition_classes[r[1:]]
                    for r in rendition.split()
                    if r.startswith("#") and r[1:] in state.rendition_classes
                ]
                classes = " ".join([classes, *extra])
        # A node made from its shape alone has no class or id yet; special ones may.
        if html is None and node.get("class"):
            classes = f"{node.get('class')} {classes}"
        node.set("class", classes)
        if attrs is not None:
            lang = attrs.get(XML_LANG)
            if lang is not None and (lang == "" or _LANG.match(lang)):
                node.set("lang", lang)
            ident = attrs.get(XML_ID)
            if ident and (html is not None or node.get("id") is None):
                ident = state.claim(ident)
                if ident:
                    node.set("id", ident)
        if tag == _SUPPLIED:
            node.text = "["
        elif tag == NOTE and not between_blocks(ptag):  # only a note left in place gets here
            node.text = " ["
        return node, node if inner is None else inner

    @staticmethod
    def plain(tag: object, ptag: object, el: etree._Element) -> etree._Element:
        """An element without a rendering of its own: a division, a block or a span."""
        if is_block(tag, ptag):
            # A section has a heading; a div without a head is a plain division.
            headed = tag in _DIVS and el.find(_HEAD) is not None
            return _element("section" if headed else "div")
        return _element("span")

    def head(self, el: etree._Element, ptag: object) -> etree._Element:
        """A heading for divisions; a caption for tables and figures; else a plain block."""
        if ptag in _HEADING_PARENTS:
            enclosing = self.headed[:-1] if ptag in _DIVS else self.headed
            level = TOP_HEADING + sum(enclosing)
            return _element(f"h{min(level, 6)}")
        parent = el.getparent()
        if ptag == _TABLE and parent is not None and parent.find(_HEAD) is el:
            return _element("caption")
        if ptag == _FIGURE and parent is not None and parent.find(_HEAD) is el:
            has_graphic = parent.find(_GRAPHIC) is not None
            children = [
                c
                for c in parent
                if isinstance(c.tag, str) and not (c.tag == _FIGDESC and has_graphic)
            ]
            if children and (children[0] is el or children[-1] is el):
                return _element("figcaption")
        node = _element("p")
        node.set("class", "head-block")
        return node

    def name(self, el: etree._Element) -> etree._Element:
        """A link to the index entry, or to the list item, that the name points at."""
        state = self.state
        kind = NAME_KINDS[str(el.tag)]
        entry = state.doc.entry_for(el)
        target = entry.id if entry is not None else _local_target(el, state.doc, "ref", "corresp")
        if target is None:
            url = safe_url(el.get("ref"))
            if url and _WEB_URL.match(url):
                node = _element("a", href=url, rel="external")
                node.set("class", f"name {KIND_CLASS[kind]}")
                return node
            return _element("span")
        state.counter += 1
        mention = state.fresh(f"tk-m{state.counter}")
        state.mentions.setdefault(target, []).append(mention)
        state.targets.append(target)
        if self.open_units and entry is not None:  # a document's glossary lists entries
            self.named[self.open_units[-1]][target] = None
        node = _element("a", href=f"#{target}", id=mention)
        node.set("class", f"name {KIND_CLASS[kind]}")
        return node

    def gloss(self, el: etree._Element) -> tuple[etree._Element, etree._Element]:
        """``<a href="#item"><abbr title="the item's text">SIG</abbr></a>``."""
        state = self.state
        target = _local_target(el, state.doc, "target")
        if target is None:
            span = _element("span")
            return span, span
        if target not in state.glosses:
            state.glosses[target] = _gloss_text(state.doc.ids[target])
        state.counter += 1
        mention = state.fresh(f"tk-m{state.counter}")
        state.mentions.setdefault(target, []).append(mention)
        state.targets.append(target)
        if self.open_units:
            self.named[self.open_units[-1]][target] = None
        link = _element("a", href=f"#{target}", id=mention)
        link.set("class", "gloss-link")
        abbr = etree.SubElement(link, "abbr")
        abbr.set("class", "gloss")
        if state.glosses[target]:
            abbr.set("title", state.glosses[target])
        return link, abbr

    def link(self, el: etree._Element) -> etree._Element:
        """``ref``/``ptr``: a link for in-page targets and web/mail URLs, else a span."""
        target = (el.get("target") or "").split()
        href = None
        if target:
            first = target[0]
            if first.startswith("#"):
                href = first if first[1:] in self.state.doc.ids else None
                if href:
                    self.state.targets.append(href[1:])
            else:
                href = safe_url(first)
        node = _element("a" if href else "span")
        if href:
            node.set("href", href)
            if el.tag == _PTR:
                # A ptr shows where it points; words inside one (it should be empty)
                # follow, set apart from the URL.
                node.text = href + " " if el.text or len(el) else href
        return node

    def page_break(self, el: etree._Element) -> etree._Element:
        """A link to itself in the margin: ``[128]``, citable as ``#pg_128``."""
        state = self.state
        label = page_label(el)
        state.counter += 1
        ident = state.new_id(el.get(XML_ID), f"tk-page-{label or state.counter}")
        node = _element("span", id=ident)
        node.set("class", "pb")
        link = etree.SubElement(node, "a", href=f"#{ident}")
        link.set("aria-label", f"Page {label}" if label else "Page break")
        link.text = f"[{label}]" if label else "[page]"
        facs = safe_url(el.get("facs"))
        if facs and _WEB_URL.match(facs):
            node.set("data-facs", facs)
        return node

    def open_note(self, el: etree._Element) -> etree._Element:
        """Put the marker where the note stands; its content goes into the endnotes."""
        state = self.state
        number = len(state.note_refs) + 1
        label = el.get("n") or str(number)
        note_id = state.new_id(el.get(XML_ID), f"tk-note-{number}")
        ref_id = state.fresh(f"tk-noteref-{number}")
        state.note_refs.append(ref_id)
        # etree.Element and SubElement, not the ElementMaker: twice as fast.
        marker = _element("sup", _cls("noteref"))
        ref = etree.SubElement(marker, "a", href=f"#{note_id}", id=ref_id, role="doc-noteref")
        ref.text = label
        here = self.stack[-1]
        link = _inside_link(here)
        if link is not None:
            link.addnext(marker)  # never a link inside a link: right after it instead
        else:
            self.attach(here, marker)
        item = _element("li", {"id": note_id, "role": "doc-endnote", "value": str(number)})
        item.set("class", class_tokens("note", f"note-{el.get('type')}" if el.get("type") else ""))
        lang = _lang_of(el)
        if lang != self.page_lang and lang is not None and (lang == "" or _LANG.match(lang)):
            item.set("lang", lang)
        etree.SubElement(item, "span", _cls("note-label")).text = f"{label}. "
        division = self.places.get(el) if self.places else None
        if division is None:
            state.notes.append(item)
        else:
            self.held.setdefault(division, []).append(item)
        return item

    def glossary_sections(self, targets: dict[str, None]) -> list[etree._Element]:
        """What a document names, by kind (persons, organizations, places, terms), each
        linked to its entry and with its description, in the order of the entries' names."""
        if not targets:
            return []  # (and the file's entries are not gathered for nothing)
        entries = self.state.doc.all_entries
        by_kind: dict[str, list[Entry]] = {}
        for target in targets:
            entry = entries.get(target)
            if entry is not None and entry.kind in GLOSSARY_TITLES:
                by_kind.setdefault(entry.kind, []).append(entry)
        sections = []
        for kind, title in GLOSSARY_TITLES.items():
            if kind not in by_kind:
                continue
            attrs = {"class": f"glossary glossary-{kind}"}
            section = self.subsection(attrs, title, "tk-glossary-h")
            listing = etree.SubElement(section, "ul")
            for entry in sorted(by_kind[kind], key=lambda e: (e.sort_key or e.name).casefold()):
                item = etree.SubElement(listing, "li")
                etree.SubElement(item, "a", href=f"#{entry.id}").text = entry.name
                self.state.targets.append(entry.id)  # as the names' own links are
                if entry.description:
                    etree.SubElement(
                        item, "span", _cls("entry-description")
                    ).text = f", {entry.description}"
            sections.append(section)
        return sections

    def notes_section(self, items: list[etree._Element]) -> etree._Element:
        """A division's notes."""
        attrs = {"class": "notes", "role": "doc-endnotes"}
        section = self.subsection(attrs, "Notes", "tk-notes-h")
        etree.SubElement(section, "ol").extend(items)
        return section

    def subsection(self, attrs: dict[str, str], title: str, id_base: str) -> etree._Element:
        """A section ending the division being closed (its notes, its glossaries), headed
        one level below the division's own heading and labelled by that heading."""
        heading_id = self.state.fresh(id_base)
        section = _element("section", attrs)
        section.set("aria-labelledby", heading_id)
        level = min(TOP_HEADING + sum(self.headed), 6)
        etree.SubElement(section, f"h{level}", id=heading_id).text = title
        return section

    def close_note(self, el: etree._Element, item: etree._Element) -> None:
        """Label first and back link last, inside the note's first and last paragraphs."""
        label = el.get("n") or item.get("value", "")
        first = item[1] if len(item) > 1 else None
        mark = item[0]
        if first is not None and first.tag in ("p", "div") and not (mark.tail or "").strip():
            item.remove(mark)
            mark.tail = first.text
            first.text = None
            first.insert(0, mark)
        ref_id = self.state.note_refs[int(item.get("value", "1")) - 1]
        back = _element("a", href=f"#{ref_id}", role="doc-backlink")
        back.text = "↩"
        back.set("class", "backlink")
        back.set("aria-label", f"Back to note {label} in the text")
        last = item[-1]
        host = item
        if last.tag in ("p", "div") and last is not mark and not (last.tail or "").strip():
            host = last
        _append_text(host, " ")
        host.append(back)


def _appends(parent_tag: object, tag: object) -> bool:
    """Whether a new childless ``tag`` is simply appended to a ``parent_tag`` (no list,
    table or row around it, nothing to split or adapt, no link that could nest): the
    first case of :meth:`_Renderer.attach`, and what :meth:`_Renderer.open` makes in place."""
    return (
        parent_tag not in _STRUCTURED
        and tag not in _CONTAINED
        and tag != "a"
        and (tag in _PHRASING or parent_tag not in _PHRASING_ONLY)
    )


def _fold(text: str) -> str:
    """The source's line breaks and indentation as single spaces (fast when there are none)."""
    if "\n" in text or "  " in text or "\t" in text or "\r" in text:
        if not text.strip(" \t\r\n"):
            return " "  # the indentation between elements: most texts of a TEI file
        if "\t" not in text and "\r" not in text:
            # Most others are lines of words and the indentation around their breaks:
            # the lines joined, each without its spaces at either end, is the folded
            # text unless a line holds a run of spaces itself. (Splitting into words,
            # and searching for the spaces str.split would also split at, cost twice
            # as much; neither is needed here, and a no-break space stays as it is.)
            body = " ".join([s for line in text.split("\n") if (s := line.strip(" "))])
            if "  " not in body:
                head = " " if text[0] in _XML_SPACE else ""
                return head + body + " " if text[-1] in _XML_SPACE else head + body
        # ASCII text needs no search: the other whitespace str.split knows (\x0b, \x0c,
        # \x1c-\x1f) cannot stand in XML 1.0 at all.
        if not text.isascii() and _NOT_XML_SPACE.search(text) is not None:
            return _FOLDABLE.sub(" ", text)
        # Only XML's whitespace here, so str.split finds exactly its runs (twice as fast).
        words = " ".join(text.split())
        if not words:
            return " "
        head = " " if text[0] in _XML_SPACE else ""
        return head + words + " " if text[-1] in _XML_SPACE else head + words
    return text


def _last(node: etree._Element | None) -> etree._Element | None:
    """The last child of ``node`` (found from the end, unlike ``len`` and ``[-1]``)."""
    if node is None:
        return None
    return next(node.iterchildren(reversed=True), None)


def _append_text(node: etree._Element, text: str, after_child: bool = False) -> None:
    """Append text, folding the source's line breaks and indentation into single spaces.

    ``after_child`` says ``node`` most likely ends with a child (the text is the tail of an
    element just rendered into it): ``node[-1]`` is then the cheaper way to that child.
    """
    # _fold's and _last's work inline: this runs for every text and tail of the input.
    if "\n" in text or "  " in text or "\t" in text or "\r" in text:
        text = _fold(text)
    last: etree._Element | None
    if after_child:
        # Found from the end, as _last does; five times faster than its iterator when
        # there is a child, and slower only when there is none (an IndexError).
        try:
            last = node[-1]
        except IndexError:
            last = None
    else:
        last = next(node.iterchildren(reversed=True), None)
    if last is not None:
        last.tail = (last.tail or "") + text
    else:
        node.text = (node.text or "") + text


def _shape(tag: object, ptag: object) -> tuple[str | None, str, str]:
    """What rendering ``tag`` under ``ptag`` needs no more than the two names for.

    The HTML element when its name alone decides it (``None`` for the elements
    :meth:`_Renderer.open` renders in a way of their own and for divisions, which are
    sections only when headed), the local name, and the classes without ``@type``/``@rend``.
    """
    local = _localname(tag) if isinstance(tag, str) else "node"
    html = _SIMPLE.get(tag) if isinstance(tag, str) else None
    if html is None and tag not in _SPECIAL:
        # A note that is opened (one left in place) is a block of its own between blocks.
        block = between_blocks(ptag) if tag == NOTE else is_block(tag, ptag)
        if not (block and tag in _DIVS):
            html = "div" if block else "span"
    return html, local, _element_classes(local, None, None)


@lru_cache(maxsize=1024)
def _localname(tag: str) -> str:
    return etree.QName(tag).localname


@lru_cache(maxsize=4096)
def _element_classes(local: str, kind: str | None, rend: str | None) -> str:
    """Class names for an element's name, ``@type`` and ``@rend`` (as ``rend-*``)."""
    return class_tokens(local, kind, *(f"rend-{r}" for r in (rend or "").split()))


#: Attributes that mean something on the element teikit chose and nowhere else (a link's
#: target, a time's value, a cell's span): a rule's element wraps such a node instead.
_TAG_BOUND = ("href", "datetime", "colspan", "rowspan", "value")


def _retag(node: etree._Element, html: str) -> etree._Element:
    """A render rule's ``html``: the node renamed, or, when renaming would strand one of
    its attributes (``<div href>`` is not HTML, and the link would be lost), the node
    inside a new element (lists get an item between)."""
    if not any(node.get(attr) is not None for attr in _TAG_BOUND):
        node.tag = html
        return node
    wrapper = _element(html)
    (etree.SubElement(wrapper, "li") if html in _LISTS else wrapper).append(node)
    return wrapper


def _unlink(node: etree._Element) -> None:
    """HTML forbids a link inside a link: keep the anchor ids, drop the hrefs."""
    for link in node.iter("a"):
        link.tag = "span"
        for attr in ("href", "rel", "aria-label"):
            link.attrib.pop(attr, None)


def _beside(anchor: etree._Element, node: etree._Element, before: bool) -> None:
    """Place ``node`` next to ``anchor`` (whose parent takes flow content)."""
    if before:
        anchor.addprevious(node)
    else:
        anchor.addnext(node)
    parent = anchor.getparent()
    if node.tag in _CONTAINED and parent is not None:
        _fit_contained(node, parent.tag)


def _fit_contained(node: etree._Element, parent_tag: object) -> None:
    """An item outside a list, a cell outside a row...: a plain block instead."""
    if parent_tag not in _CONTAINED[str(node.tag)]:
        node.tag = "div"
        for attr in ("colspan", "rowspan", "value"):
            node.attrib.pop(attr, None)


def _downgrade(node: etree._Element) -> None:
    """A block where HTML allows only phrasing: the same content in a block-styled span."""
    node.tag = "span"
    node.set("class", f"{node.get('class') or ''} tk-block".strip())
    for attr in ("colspan", "rowspan", "value"):
        node.attrib.pop(attr, None)


def _inside_link(node: etree._Element) -> etree._Element | None:
    """The outermost ``a`` among ``node`` and its ancestors, if any."""
    found = None
    current: etree._Element | None = node
    while current is not None:
        if current.tag == "a":
            found = current
        current = current.getparent()
    return found


def _is_gloss_list(el: etree._Element | None) -> bool:
    """A list with labels (a glossary) becomes a ``dl``: label -> dt, item -> dd."""
    return el is not None and el.tag == _LIST and el.find(_LABEL) is not None


def _headword(item: etree._Element) -> etree._Element | None:
    """The name or term with an ``xml:id`` that opens a list item (``<hi><term xml:id>``)."""
    current = item
    for _ in range(3):
        child = next((c for c in current if isinstance(c.tag, str)), None)
        if child is None:
            return None
        if child.tag in _HEADWORDS:
            return child if child.get(XML_ID) else None
        current = child
    return None


def _has_block_child(el: etree._Element) -> bool:
    return any(is_block(c.tag, el.tag) or c.tag in CONTAINERS for c in el if isinstance(c.tag, str))


def _labels_a_graphic(el: etree._Element, tag: object, parent: etree._Element) -> bool:
    """Whether :func:`_graphic` takes this ``desc`` or ``figDesc`` as the label of a
    graphic's link (it is then not rendered a second time): a graphic's first ``desc``,
    or a figure's first ``figDesc`` when one of its graphics has no ``desc``. Any other
    description is rendered where it stands, so that no word of it is lost."""
    if tag == _DESC:
        return parent.tag == _GRAPHIC and parent.find(_DESC) is el
    return (
        parent.tag == _FIGURE
        and parent.find(_FIGDESC) is el
        and any(g.find(_DESC) is None for g in parent.iterchildren(_GRAPHIC))
    )


def _graphic(el: etree._Element) -> etree._Element:
    """A link to the image (http/https only), labelled by its description; never an img."""
    desc = el.find(_DESC)
    parent = el.getparent()
    if desc is None and parent is not None and parent.tag == _FIGURE:
        desc = parent.find(_FIGDESC)
    label = normalise_space("".join(desc.itertext())) if desc is not None else ""
    url = safe_url(el.get("url"))
    if url is not None and not _WEB_URL.match(url):
        url = None
    raw = (el.get("url") or "").strip()
    if not label and (url is not None or not _SCHEME.match(raw)):
        # a web URL's or a relative path's file name; never text from another scheme
        label = raw.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    node = _element("a", href=url, rel="external") if url else _element("span")
    node.text = f"[Image: {label}]" if label else "[Image]"
    return node


def _valid_datetime(value: str | None) -> bool:
    """Whether ``value`` is a date or date-time HTML's ``<time datetime>`` accepts."""
    if not value:
        return False
    value = value.strip()
    m = _DATE.match(value)
    if m:
        year, month, day = m.groups()
        if int(year) == 0:
            return False
        if day:
            try:
                date(int(year), int(month), int(day))
            except ValueError:
                return False
            return len(year) == 4
        return month is None or 1 <= int(month) <= 12
    m = _DATETIME.match(value)
    if m:
        return _valid_datetime(m.group(1))
    return False


def _local_target(el: etree._Element, doc: TeiDocument, *attrs: str) -> str | None:
    """The first ``#id`` in ``attrs`` that names an element of the document."""
    for attr in attrs:
        for token in (el.get(attr) or "").split():
            if token.startswith("#") and token[1:] in doc.ids:
                return token[1:]
    return None


def _gloss_text(target: etree._Element) -> str:
    """What a glossed term stands for: its list item's text without the term itself."""
    item = next(target.iterancestors(_ITEM), None)
    if item is None:
        return ""
    text = text_outside(item, lambda el: el is target or el.tag in _NOT_GLOSS)
    return normalise_space(text).lstrip(",;:.—–- ").strip()


_NOT_GLOSS = frozenset({NOTE, _LIST})


def _lang_of(el: etree._Element) -> str | None:
    """The ``xml:lang`` in force at ``el``."""
    current: etree._Element | None = el
    while current is not None:
        lang = current.get(XML_LANG)
        if lang is not None:
            return lang
        current = current.getparent()
    return None


def _add_item_mentions(state: _State) -> None:
    """List items of persons and terms link back to where the text names them."""
    for ident, (item, name) in state.items.items():
        mentions = state.mentions.get(ident)
        if mentions:
            item.append(_mention_links(mentions, name))


def _mention_links(mentions: list[str], name: str) -> etree._Element:
    # SubElement, not the ElementMaker: twice as fast, for a link per mention.
    meta = _element("span", _cls("entry-meta"))
    meta.text = " Mentions: "
    for i, ident in enumerate(mentions, 1):
        if i > 1:
            etree.SubElement(meta, "span").text = " "
        link = etree.SubElement(meta, "a", href=f"#{ident}")
        link.text = str(i)
        link.set("aria-label", f"mention {i} of {name}")
    return meta


#: Every id on the page, and every in-page link's target, as plain strings (libxml2
#: finds them faster than a Python loop, and makes no element objects for them).
_IDS = etree.XPath("descendant-or-self::*/@id", smart_strings=False)
_IN_PAGE = etree.XPath("descendant-or-self::a/@href[starts-with(., '#')]", smart_strings=False)


def _drop_dangling_links(root: etree._Element, state: _State) -> None:
    """Every in-page link resolves: one whose target was not rendered becomes a span.

    Only links made from the source's pointers can lead nowhere (``state.targets``); the
    page's own (notes, page breaks, mentions, contents) point at what was made with them.
    When each of those targets is an id given on the page (``used_ids``: every id given
    is on an element that stays, except the page's own reserved ones), the page is not
    searched: two searches of the whole tree were a twentieth of the conversion.
    """
    given = state.used_ids
    if all(target in given and target not in _PAGE_IDS for target in state.targets):
        return
    ids = set(_IDS(root))
    targets = _IN_PAGE(root)
    assert isinstance(targets, list)
    if all(str(href)[1:] in ids for href in targets):
        return  # as in most pages: no link to look at one by one
    for node in root.iter("a"):
        href = node.get("href") or ""
        if href.startswith("#") and href[1:] not in ids:
            node.tag = "span"
            for attr in ("href", "rel", "role", "aria-label"):
                node.attrib.pop(attr, None)


def _index(state: _State) -> etree._Element | None:
    entries = list(state.doc.entries.values())
    if not entries:
        return None
    section = E.section(
        _cls("index"),
        {"id": "tk-index", "aria-labelledby": "tk-index-h"},
        E.h2("Index", id="tk-index-h"),
    )
    for kind, title in KIND_TITLES.items():
        group = [e for e in entries if e.kind == kind]
        if not group:
            continue
        section.append(E.h3(title))
        dl = E.dl()
        for entry in sorted(group, key=lambda e: (e.sort_key or e.name).casefold()):
            dl.append(_index_entry(entry, state))
            dl.append(_index_details(entry, state))
        section.append(dl)
    return section


def _index_entry(entry: Entry, state: _State) -> etree._Element:
    dt = E.dt(entry.name)
    if entry.id in state.entry_ids:
        dt.set("id", entry.id)
    return dt


def _index_details(entry: Entry, state: _State) -> etree._Element:
    dd = E.dd()
    if entry.description:
        dd.append(E.span(_cls("entry-description"), entry.description))
    links = [u for u in (safe_url(a) for a in entry.authority) if u]
    if links:
        meta = E.span(_cls("entry-meta"), " Authority: ")
        for i, url in enumerate(links):
            if i:
                meta.append(E.span(", "))
            meta.append(E.a(_authority_label(url), href=url, rel="external"))
        dd.append(meta)
    mentions = state.mentions.get(entry.id, [])
    if mentions:
        dd.append(_mention_links(mentions, entry.name))
    return dd


def _authority_label(url: str) -> str:
    for host, label in (
        ("wikidata.org", "Wikidata"),
        ("viaf.org", "VIAF"),
        ("d-nb.info", "GND"),
        ("id.loc.gov", "LoC"),
        ("geonames.org", "GeoNames"),
        ("history.state.gov", "Office of the Historian"),
    ):
        if host in url:
            return label
    return url


def _source_citation(doc: TeiDocument) -> str:
    """The first ``sourceDesc`` bibl as one citation line (see :func:`cite_bibl`)."""
    found = doc.root.xpath(
        "tei:teiHeader/tei:fileDesc/tei:sourceDesc//tei:bibl[1]", namespaces={"tei": TEI_NS}
    )
    if not (isinstance(found, list) and found and isinstance(found[0], etree._Element)):
        return ""
    return cite_bibl(found[0])
