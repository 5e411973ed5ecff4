"""teikit-json: the plain text with offsets of its blocks, notes, pages and named entities.

A documented, versioned structure for NLP tools (see ``docs/json-format.md`` and the JSON
Schema :data:`SCHEMA_FILE`). ``text`` is exactly the text converter's output with width
0, and every offset is a Python ``str`` index (a Unicode code point) into it, so that
``text[start:end]`` is the span.

The text converter reports spans of the inline elements it is asked to track. Blocks and
notes are not inline, and a page break between two paragraphs has no text of its own, so
the text is rendered from a copy of ``<text>`` in which every run of inline content sits
in an empty-rendering wrapper (:data:`RUN`): a block's span is that of the runs inside it,
a note's that of the runs in its flow, and a page begins where the next run does.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from lxml import etree

from teikit.convert.blocks import NOTES, PAGE_BREAKS, in_place, is_block_in_place
from teikit.convert.rules import RenderRules
from teikit.convert.text import TextOptions, body_of, render_text
from teikit.document import NAME_KINDS, TeiDocument, cite_bibl, normalise_space
from teikit.errors import UsageError, one_of
from teikit.loading import Document
from teikit.xmlutil import TEI_NS, XML_ID, tei

FORMAT = "teikit-json"
VERSION = 1
#: The JSON Schema of this format, shipped in the package beside this module.
SCHEMA_FILE = "teikit-json.schema.json"

#: The wrapper around runs of inline content in the copy that is rendered.
RUN = "{urn:x-teikit:json}run"
#: Elements whose mentions are reported when they point at an entry.
MENTION_TAGS = frozenset({*NAME_KINDS, tei("name"), tei("rs")})
_NS = {"t": TEI_NS}


@dataclass(frozen=True, slots=True)
class JsonOptions:
    """What the ``text`` shows; the offsets always match it."""

    #: Notes after the text (``end``), in brackets where they stand (``inline``), or left out.
    notes: Literal["end", "inline", "omit"] = "end"
    #: The source as written (abbr/orig/sic, deletions as ⟦…⟧) instead of the edited reading.
    diplomatic: bool = False
    #: Spaces per level of indentation; None writes one line.
    indent: int | None = 2
    #: The project's render rules, as the text converter applies them.
    rules: RenderRules = field(default_factory=RenderRules)

    def __post_init__(self) -> None:
        one_of("notes", self.notes, ("end", "inline", "omit"))
        if self.indent is not None and self.indent < 0:
            raise UsageError(f"indent must be 0 or more (or None), not {self.indent}")


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that teikit-json output validates against."""
    text = resources.files("teikit.convert").joinpath(SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def to_json(doc: TeiDocument, options: JsonOptions = JsonOptions()) -> str:
    """Render ``doc`` as teikit-json text."""
    data = to_json_data(doc, options)
    return json.dumps(data, ensure_ascii=False, indent=options.indent) + "\n"


def to_json_data(doc: TeiDocument, options: JsonOptions = JsonOptions()) -> dict[str, Any]:
    """The teikit-json structure as Python values (what :func:`to_json` serialises)."""
    original = body_of(doc)
    # Inline notes are rendered in the running text, and may hold paragraphs: a run that
    # held one would be cut by them, so notes end runs there.
    shadow, origin = _wrapped_copy(
        original, doc, options.rules, split_at_notes=options.notes == "inline"
    )
    tracked = MENTION_TAGS | PAGE_BREAKS | {RUN}
    render = render_text(
        shadow,
        TextOptions(
            width=0, notes=options.notes, diplomatic=options.diplomatic, rules=options.rules
        ),
        track=lambda el: el.tag in tracked,
    )
    text = render.text
    # Keyed by the elements themselves: lxml keeps a proxy (and so its identity) only
    # while something refers to it.
    spans: dict[etree._Element, tuple[int, int]] = {
        s.element: (s.start, s.end) for s in render.spans
    }
    shadow_body = body_of(shadow)

    # Blocks and notes take the extent of the runs in their own flow: one pass from the
    # leaves up (descendants come before their ancestors in reverse document order), each
    # element passing its extent to its parent, except a note, whose flow ends there.
    extent: dict[etree._Element, tuple[int, int]] = {}
    for el in reversed([e for e in shadow_body.iter() if isinstance(e.tag, str)]):
        own = extent.get(el)
        span = spans.get(el) if el.tag == RUN else None
        if span is not None and span[0] < span[1]:
            own = span if own is None else (min(own[0], span[0]), max(own[1], span[1]))
        if own is None or el is shadow_body or _collected(el):
            continue
        up = el.getparent()
        if up is not None:
            old = extent.get(up)
            extent[up] = own if old is None else (min(old[0], own[0]), max(old[1], own[1]))

    blocks: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    mentions: dict[str, list[dict[str, Any]]] = {}
    waiting: list[tuple[etree._Element, etree._Element | None]] = []  # pb, its note
    # One walk keeps, for the open elements, the note each is in and how many of its
    # ancestors (below the body) have an extent: linear however deep the nesting.
    context: list[tuple[etree._Element | None, int]] = []
    for action, el in etree.iterwalk(shadow_body, events=("start", "end")):
        if action == "end":
            context.pop()
            continue
        if not context:
            context.append((None, 0))
            continue
        parent = el.getparent()
        outer_note, outer_depth = context[-1]
        note_here = parent if parent is not None and _collected(parent) else outer_note
        depth_here = outer_depth + (
            1 if parent is not None and parent is not shadow_body and parent in extent else 0
        )
        context.append((note_here, depth_here))
        source = origin.get(el)
        if el.tag == RUN:
            span = spans.get(el)
            if span is not None and span[0] < span[1]:
                flow = note_here
                for pb, pb_flow in [w for w in waiting if w[1] is flow]:
                    pages.append(_page(origin[pb], span[0]))
                    waiting.remove((pb, pb_flow))
            continue
        if source is None:
            continue
        if el in extent and _collected(el):
            start, end = extent[el]
            notes.append(
                {
                    "n": source.get("n"),
                    "type": source.get("type"),
                    "xml_id": source.get(XML_ID),
                    "start": start,
                    "end": end,
                }
            )
        elif el.tag in PAGE_BREAKS:
            span = spans.get(el)
            if span is not None:
                pages.append(_page(source, span[0]))
            else:
                waiting.append((el, note_here))
        elif el.tag in MENTION_TAGS and el in spans:
            entry = doc.entry_for(source)
            if entry is not None:
                start, end = spans[el]
                mention: dict[str, Any] = {
                    "start": start,
                    "end": end,
                    "text": text[start:end],
                    "element": etree.QName(el).localname,
                }
                if source.get(XML_ID):
                    mention["xml_id"] = source.get(XML_ID)
                mentions.setdefault(entry.id, []).append(mention)
        elif el in extent and note_here is None and _is_block(el, options.rules):
            start, end = extent[el]
            depth = depth_here
            blocks.append(
                {
                    "type": etree.QName(el).localname,
                    "start": start,
                    "end": end,
                    "depth": depth,
                    "xml_id": source.get(XML_ID),
                }
            )
    # Page breaks with no text after them in their flow begin at its end.
    main_end = max((b["end"] for b in blocks), default=0)
    for pb, flow in waiting:
        at = extent[flow][1] if flow is not None and flow in extent else main_end
        pages.append(_page(origin[pb], at))
    pages.sort(key=lambda p: int(p["offset"]))

    for found in mentions.values():
        found.sort(key=lambda m: int(m["start"]))
    entities: list[dict[str, Any]] = [
        {
            "id": entry.id,
            "kind": entry.kind,
            "name": entry.name,
            "description": entry.description,
            "authority": list(entry.authority),
            "mentions": mentions.get(entry.id, []),
        }
        for entry in doc.all_entries.values()
        if entry.kind != "term"
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "source": doc.display,
        "options": {"notes": options.notes, "diplomatic": options.diplomatic},
        "metadata": metadata(doc),
        "text": text,
        "blocks": blocks,
        "notes": notes,
        "entities": entities,
        "pages": pages,
    }


# -- the wrapped copy ------------------------------------------------------------------


def _wrapped_copy(
    original: etree._Element, doc: TeiDocument, rules: RenderRules, split_at_notes: bool
) -> tuple[TeiDocument, dict[etree._Element, etree._Element]]:
    """A document holding a copy of ``original`` with every inline run wrapped in RUN.

    Returns it with the map from each copied element to its original.
    """
    body = copy.deepcopy(original)
    body.tail = None
    origin = dict(zip(body.iter(), original.iter(), strict=True))
    holders = [
        el
        for el in body.iter()
        if isinstance(el.tag, str) and (el is body or _collected(el) or _is_block(el, rules))
    ]
    for holder in holders:
        _wrap_runs(holder, rules, split_at_notes)
    if original is doc.root:
        root = body
    else:
        root = etree.Element(doc.root.tag, nsmap=doc.root.nsmap)
        root.append(body)
    shadow = TeiDocument(Document(doc.source.path, doc.display, etree.ElementTree(root)))
    return shadow, origin


def _is_block(el: etree._Element, rules: RenderRules, parent: etree._Element | None = None) -> bool:
    """Block or inline as the text converter decides it: a rule's display, else blocks.py."""
    rule = rules.match(el)
    if rule is not None and rule.display in ("block", "inline"):
        return rule.display == "block"
    if _collected(el):
        return False  # a flow of its own, after the text
    parent = el.getparent() if parent is None else parent
    return is_block_in_place(el.tag, parent.tag if parent is not None else None)


def _collected(el: etree._Element) -> bool:
    """A note with a flow of its own after the text (every note not left in place)."""
    return el.tag in NOTES and not in_place(el)


def _wrap_runs(holder: etree._Element, rules: RenderRules, split_at_notes: bool) -> None:
    """Put each maximal run of text and inline children of ``holder`` into a RUN.

    Block children stay where they are (moving them would move their whole subtree,
    once per level of nesting); inline children move into the runs, tails with them.
    """
    lead, holder.text = holder.text, None
    run: etree._Element | None = None
    if lead:
        run = etree.Element(RUN)
        run.text = lead
        holder.insert(0, run)
    for child in list(holder):
        if child is run:
            continue
        block = isinstance(child.tag, str) and (
            _is_block(child, rules, holder) or (split_at_notes and _collected(child))
        )
        if not block:
            if run is None:
                run = etree.Element(RUN)
                child.addprevious(run)
            run.append(child)  # its tail goes with it
            continue
        tail, child.tail = child.tail, None
        run = None
        if tail:
            run = etree.Element(RUN)
            run.text = tail
            child.addnext(run)


def _page(pb: etree._Element, offset: int) -> dict[str, Any]:
    return {"n": pb.get("n"), "offset": offset, "xml_id": pb.get(XML_ID), "facs": pb.get("facs")}


# -- metadata --------------------------------------------------------------------------


def _first(doc: TeiDocument, path: str) -> etree._Element | None:
    found = doc.root.xpath(path, namespaces=_NS)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _all(doc: TeiDocument, path: str) -> list[etree._Element]:
    found = doc.root.xpath(path, namespaces=_NS)
    return [el for el in found if isinstance(el, etree._Element)] if isinstance(found, list) else []


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    return normalise_space("".join(el.itertext())) or None


def metadata(doc: TeiDocument) -> dict[str, Any]:
    """Title, language, authors, date, identifiers, licence, source and correspondence."""
    header = "t:teiHeader/t:fileDesc"
    date = _first(doc, f"{header}/t:publicationStmt/t:date")
    licence = _first(doc, f"{header}/t:publicationStmt/t:availability/t:licence")
    source = _first(doc, f"{header}/t:sourceDesc/t:bibl | {header}/t:sourceDesc/t:biblStruct")
    return {
        "title": doc.title,
        "language": doc.language,
        "authors": [
            a for a in (_text(el) for el in _all(doc, f"{header}/t:titleStmt/t:author")) if a
        ],
        "date": (date.get("when") or _text(date)) if date is not None else None,
        "idno": [
            {"type": el.get("type"), "value": _text(el)}
            for el in _all(doc, f"{header}/t:publicationStmt/t:idno")
            if _text(el)
        ],
        "licence": (
            {"target": licence.get("target"), "text": _text(licence)}
            if licence is not None
            else None
        ),
        "source": cite_bibl(source) if source is not None else None,
        "correspondence": correspondence(doc),
    }


_DATE_ATTRS = ("when", "notBefore", "notAfter", "from", "to")


def correspondence(doc: TeiDocument) -> dict[str, Any] | None:
    """``{action type: {agents, places, date}}`` from the header's correspDesc, or None."""
    desc = _first(doc, "t:teiHeader/t:profileDesc/t:correspDesc")
    if desc is None:
        return None
    out: dict[str, Any] = {}
    for action in desc.iterchildren(tei("correspAction")):
        kind = action.get("type") or "unspecified"
        entry = out.setdefault(kind, {"agents": [], "places": [], "date": None})
        for child in action:
            if child.tag in (tei("persName"), tei("orgName"), tei("name")):
                entry["agents"].append(_party(doc, child))
            elif child.tag == tei("placeName"):
                entry["places"].append(_party(doc, child))
            elif child.tag == tei("date") and entry["date"] is None:
                date: dict[str, Any] = {a: child.get(a) for a in _DATE_ATTRS if child.get(a)}
                date["text"] = _text(child)
                entry["date"] = date
    return out


def _party(doc: TeiDocument, name: etree._Element) -> dict[str, Any]:
    """A sender, addressee or place: its name, its entry and authority URIs."""
    found = doc.entry_for(name)
    direct = [t for t in (name.get("ref") or "").split() if t.startswith(("http://", "https://"))]
    kind = {tei("persName"): "person", tei("orgName"): "org", tei("placeName"): "place"}.get(
        str(name.tag), found.kind if found is not None else None
    )
    return {
        "name": _text(name) or (found.name if found is not None else None),
        "kind": kind,
        "entity": found.id if found is not None else None,
        "authority": list(dict.fromkeys([*direct, *(found.authority if found else ())])),
    }
