"""A standalone, accessible HTML5 page (or fragment) from a TEI document.

Every string that comes from the input reaches the output only through lxml's element
API, which escapes it; links are made only from http(s), mailto and in-page targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

from lxml import etree, html
from lxml.html import builder as E

from teikit.convert.blocks import CONTAINERS, is_block
from teikit.convert.text import NOTE, body_of, skip_for_choice
from teikit.convert.walk import walk
from teikit.document import NAME_KINDS, Entry, TeiDocument, normalise_space
from teikit.xmlutil import TEI_NS, XML_ID, XML_LANG, tei

_SAFE_ID = re.compile(r"^[A-Za-z_][\w.:-]*$")
_CLASS_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s<>\"'`\\]+$", re.IGNORECASE)
KIND_TITLES = {"person": "Persons", "org": "Organizations", "place": "Places"}
KIND_CLASS = {"person": "person", "org": "org", "place": "place"}


@dataclass(frozen=True, slots=True)
class HtmlOptions:
    """``fragment`` drops the page shell (for embedding in a site)."""

    fragment: bool = False
    #: Show <choice> alternatives as the source has them (abbr with the expansion as a title).
    choice: str = "source"


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


@dataclass(slots=True)
class _State:
    doc: TeiDocument
    options: HtmlOptions
    used_ids: set[str] = field(default_factory=set)
    notes: list[etree._Element] = field(default_factory=list)
    mentions: dict[str, list[str]] = field(default_factory=dict)
    counter: int = 0

    def new_id(self, preferred: str | None, fallback: str) -> str | None:
        """A unique, valid id: the TEI ``xml:id`` when it is usable, ours otherwise."""
        for candidate in (preferred, fallback):
            if candidate and _SAFE_ID.match(candidate) and candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate
        return None


def to_html(doc: TeiDocument, options: HtmlOptions = HtmlOptions()) -> str:
    """Render ``doc`` as HTML5 text (a whole page unless ``options.fragment``)."""
    state = _State(doc, options)
    # Entries get their own ids first so that names and @target links can point at them.
    for ident in doc.entries:
        state.new_id(ident, "")
    article = E.ARTICLE(E.CLASS("tei-text"))
    lang = doc.language
    _render_flow(body_of(doc), article, state)

    parts: list[etree._Element] = [article]
    if state.notes:
        parts.append(
            E.SECTION(
                E.CLASS("notes"),
                {"id": "tk-notes", "role": "doc-endnotes", "aria-labelledby": "tk-notes-h"},
                E.H2("Notes", id="tk-notes-h"),
                E.OL(*state.notes),
            )
        )
    index = _index(state)
    if index is not None:
        parts.append(index)

    if options.fragment:
        wrapper = E.DIV(E.CLASS("teikit"), *parts)
        if lang:
            wrapper.set("lang", lang)
        return html.tostring(wrapper, encoding="unicode", method="html") + "\n"

    title = doc.title
    header = E.HEADER(E.CLASS("doc-header"), E.P(E.CLASS("kicker"), title))
    source = _source_citation(doc)
    if source:
        header.append(E.P(E.CLASS("source-citation"), source))
    toc = E.NAV(
        E.CLASS("toc"),
        {"aria-label": "Sections"},
        E.UL(
            E.LI(E.A("Text", href="#tk-main")),
            *([E.LI(E.A("Notes", href="#tk-notes"))] if state.notes else []),
            *([E.LI(E.A("Index", href="#tk-index"))] if index is not None else []),
        ),
    )
    css = resources.files("teikit.convert").joinpath("teikit.css").read_text("utf-8")
    page = E.HTML(
        E.HEAD(
            E.META(charset="utf-8"),
            E.META(name="viewport", content="width=device-width, initial-scale=1"),
            E.META(name="generator", content="teikit"),
            E.TITLE(title),
            E.STYLE(css),
        ),
        E.BODY(E.DIV(E.CLASS("page"), header, toc, E.MAIN({"id": "tk-main"}, *parts))),
    )
    page.set("lang", lang or "und")
    return html.tostring(page, doctype="<!DOCTYPE html>", encoding="unicode", method="html") + "\n"


def _render_flow(root: etree._Element, target: etree._Element, state: _State) -> None:
    """Walk ``root`` once, building HTML under ``target``; notes go to ``state.notes``."""
    stack: list[etree._Element] = [target]
    div_depth = 0

    def skip(el: etree._Element) -> bool:
        return skip_for_choice(el, state.options.choice)

    for ev in walk(root, skip):
        el = ev.node
        if ev.kind == "text":
            _append_text(stack[-1], ev.text)
            continue
        tag = el.tag
        if tag == NOTE:
            if ev.kind == "start":
                stack.append(_open_note(el, stack[-1], state))
            else:
                stack.pop()
            continue
        if tag in (tei("div"), tei(f"div{div_depth + 1}")) and ev.kind == "start":
            div_depth += 1
        elif tag in (tei("div"), tei(f"div{div_depth}")) and ev.kind == "end":
            div_depth -= 1
        if ev.kind == "start":
            if el is root:
                continue
            parent = el.getparent()
            block = is_block(tag, parent.tag if parent is not None else None)
            node = _open(el, block, div_depth, state)
            if node.tag == "a" and any(n.tag == "a" for n in stack):
                # HTML forbids a link inside a link: keep the anchor id, drop the href.
                node.tag = "span"
                node.attrib.pop("href", None)
            stack[-1].append(node)
            stack.append(node)
        elif el is not root:
            stack.pop()


_WHITESPACE = re.compile(r"\s+")


def _append_text(node: etree._Element, text: str) -> None:
    """Append text, folding the source's line breaks and indentation into single spaces."""
    text = _WHITESPACE.sub(" ", text)
    if len(node):
        last = node[-1]
        last.tail = (last.tail or "") + text
    else:
        node.text = (node.text or "") + text


def _open(el: etree._Element, block: bool, depth: int, state: _State) -> etree._Element:
    """The HTML element a TEI element becomes (its content follows through the walk)."""
    tag = el.tag
    local = etree.QName(tag).localname if isinstance(tag, str) else "node"
    node: etree._Element
    if tag in NAME_KINDS:
        node = _name(el, state)
    elif tag == tei("head"):
        node = etree.Element(f"h{min(max(depth, 1), 6)}")
    elif tag in (
        tei("p"),
        tei("ab"),
        tei("dateline"),
        tei("salute"),
        tei("signed"),
        tei("byline"),
        tei("trailer"),
        tei("l"),
        tei("docDate"),
        tei("docAuthor"),
    ):
        node = etree.Element("p" if tag != tei("l") else "div")
    elif tag == tei("list"):
        node = etree.Element("ol" if el.get("type") in ("ordered", "numbered") else "ul")
    elif tag == tei("item"):
        node = etree.Element("li")
    elif tag == tei("quote") and block:
        node = etree.Element("blockquote")
    elif tag == tei("pb"):
        return _page_break(el, state)
    elif tag == tei("lb"):
        return etree.Element("br") if el.get("break") != "no" else etree.Element("span")
    elif tag == tei("title") and el.getparent() is not None:
        node = etree.Element("cite")
    elif tag == tei("ref") or tag == tei("ptr"):
        node = _link(el, state)
    elif tag == tei("date") and el.get("when"):
        node = etree.Element("time", datetime=el.get("when", ""))
    elif (
        tag == tei("abbr")
        and (choice := el.getparent()) is not None
        and choice.tag == tei("choice")
    ):
        node = etree.Element("abbr")
        expan = choice.find(tei("expan"))
        if expan is not None:
            node.set("title", normalise_space("".join(expan.itertext())))
    elif tag in (tei("emph"),):
        node = etree.Element("em")
    elif tag == tei("del"):
        node = etree.Element("del")
    elif tag == tei("add"):
        node = etree.Element("ins")
    elif tag == tei("gap"):
        node = etree.Element("span")
        node.text = "[…]"
        node.set(
            "title", "gap in the source" + (f": {el.get('reason')}" if el.get("reason") else "")
        )
    elif block:
        node = etree.Element("section" if tag in CONTAINERS and local.startswith("div") else "div")
    else:
        node = etree.Element("span")
    classes = class_tokens(
        local, el.get("type"), *(f"rend-{r}" for r in (el.get("rend") or "").split())
    )
    if node.get("class"):
        classes = f"{node.get('class')} {classes}"
    node.set("class", classes)
    lang = el.get(XML_LANG)
    if lang:
        node.set("lang", lang)
    ident = el.get(XML_ID)
    if ident and node.get("id") is None:
        new = state.new_id(ident, "")
        if new:
            node.set("id", new)
    if tag == tei("supplied"):
        node.text = "["
    return node


def _name(el: etree._Element, state: _State) -> etree._Element:
    entry = state.doc.entry_for(el)
    if entry is None:
        return etree.Element("span")
    state.counter += 1
    mention = state.new_id(None, f"tk-m{state.counter}") or ""
    state.mentions.setdefault(entry.id, []).append(mention)
    node = etree.Element("a", href=f"#{entry.id}", id=mention)
    node.set("class", f"name {KIND_CLASS[entry.kind]}")
    return node


def _link(el: etree._Element, state: _State) -> etree._Element:
    target = (el.get("target") or "").split()
    href = None
    if target:
        first = target[0]
        if first.startswith("#") and first[1:] in state.used_ids | set(state.doc.ids):
            href = first
        else:
            href = safe_url(first)
    node = etree.Element("a" if href else "span")
    if href:
        node.set("href", href)
    if el.tag == tei("ptr") and href:
        node.text = href
    return node


def _page_break(el: etree._Element, state: _State) -> etree._Element:
    label = el.get("n") or ""
    state.counter += 1
    ident = state.new_id(el.get(XML_ID), f"tk-page-{label or state.counter}") or ""
    node = etree.Element("span", id=ident)
    node.set("class", "pb")
    node.set("role", "note")
    node.set("aria-label", f"Page {label}" if label else "Page break")
    link = etree.SubElement(node, "a", href=f"#{ident}")
    link.text = f"[{label}]" if label else "[page]"
    facs = safe_url(el.get("facs"))
    if facs:
        node.set("data-facs", facs)
    return node


def _open_note(el: etree._Element, here: etree._Element, state: _State) -> etree._Element:
    """Put the marker where the note stands; its text goes into the endnotes list."""
    number = len(state.notes) + 1
    label = el.get("n") or str(number)
    note_id = state.new_id(el.get(XML_ID), f"tk-note-{number}") or f"tk-note-{number}"
    ref_id = state.new_id(None, f"tk-noteref-{number}") or f"tk-noteref-{number}"
    marker = E.SUP(
        E.CLASS("noteref"), E.A(label, href=f"#{note_id}", id=ref_id, role="doc-noteref")
    )
    here.append(marker)
    kind = el.get("type")
    item = E.LI({"id": note_id, "role": "doc-endnote", "value": str(number)})
    if kind:
        item.set("class", class_tokens(f"note-{kind}"))
    body = E.P(E.SPAN(E.CLASS("note-label"), f"{label}. "))
    item.append(body)
    back = E.A("↩", href=f"#{ref_id}", role="doc-backlink")
    back.set("class", "backlink")
    back.set("aria-label", f"Back to note {label} in the text")
    state.notes.append(item)
    # The back link is appended when the note ends: keep it as the paragraph's last child.
    body.append(back)
    holder = E.SPAN(E.CLASS("note-text"))
    back.addprevious(holder)
    return holder


def _index(state: _State) -> etree._Element | None:
    entries = list(state.doc.entries.values())
    if not entries:
        return None
    section = E.SECTION(
        E.CLASS("index"),
        {"id": "tk-index", "aria-labelledby": "tk-index-h"},
        E.H2("Index", id="tk-index-h"),
    )
    for kind, title in KIND_TITLES.items():
        group = [e for e in entries if e.kind == kind]
        if not group:
            continue
        section.append(E.H3(title))
        dl = E.DL()
        for entry in sorted(group, key=lambda e: e.name.casefold()):
            dl.append(_index_entry(entry, state))
            dl.append(_index_details(entry, state))
        section.append(dl)
    return section


def _index_entry(entry: Entry, state: _State) -> html.HtmlElement:
    dt = E.DT(entry.name)
    if entry.id in state.used_ids:
        dt.set("id", entry.id)
    return dt


def _index_details(entry: Entry, state: _State) -> html.HtmlElement:
    dd = E.DD()
    if entry.description:
        dd.append(E.SPAN(E.CLASS("entry-description"), entry.description))
    links = [u for u in (safe_url(a) for a in entry.authority) if u]
    if links:
        meta = E.SPAN(E.CLASS("entry-meta"), " Authority: ")
        for i, url in enumerate(links):
            if i:
                meta.append(E.SPAN(", "))
            meta.append(E.A(_authority_label(url), href=url, rel="external"))
        dd.append(meta)
    mentions = state.mentions.get(entry.id, [])
    if mentions:
        meta = E.SPAN(E.CLASS("entry-meta"), " Mentions: ")
        for i, ident in enumerate(mentions, 1):
            if i > 1:
                meta.append(E.SPAN(" "))
            link = E.A(str(i), href=f"#{ident}")
            link.set("aria-label", f"mention {i} of {entry.name}")
            meta.append(link)
        dd.append(meta)
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
    found = doc.root.xpath(
        "tei:teiHeader/tei:fileDesc/tei:sourceDesc//tei:bibl[1]", namespaces={"tei": TEI_NS}
    )
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return normalise_space("".join(found[0].itertext()))
    return ""
