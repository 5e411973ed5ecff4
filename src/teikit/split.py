"""Splitting a multi-document volume into standalone TEI files, one per division.

The publisher's volumes hold a hundred or more ``div[@type='document']`` each. A
standalone file for each keeps what the document needs to stand alone: the volume's
header (with the document's title added and a dated change noting the split), the page
break it starts on and the facsimile surfaces of its pages, and the entries of the
volume's persons and terms lists it points to (in a ``back`` division shaped like the
original lists). Pointers to other documents of the volume become pointers to their
split files; other pointers that leave the document point into the volume file.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.document import TeiDocument, normalise_space
from teikit.errors import InputError, UsageError
from teikit.loading import LoadOptions, load
from teikit.output import write_atomic
from teikit.xmlutil import TEI_NS, XML_ID, tei

#: Attributes whose ``#id`` tokens are pointers that may need rewriting.
POINTER_ATTRS = (
    "ref",
    "corresp",
    "target",
    "sameAs",
    "who",
    "source",
    "start",
    "facs",
    "next",
    "prev",
    "resp",
)


@dataclass(frozen=True, slots=True)
class SplitResult:
    """The files written, in document order, and what could not be kept as it was."""

    written: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...]


def units_of(doc: TeiDocument, by: str) -> list[etree._Element]:
    """The divisions to split out: ``div[@type=by]`` not nested in another such div."""
    found = doc.root.xpath(
        "//tei:text//tei:div[@type=$by][not(ancestor::tei:div[@type=$by])]",
        namespaces={"tei": TEI_NS},
        by=by,
    )
    return [el for el in found if isinstance(el, etree._Element)] if isinstance(found, list) else []


def split(
    volume: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    by: str = "document",
    load_options: LoadOptions | None = None,
    today: dt.date | None = None,
) -> SplitResult:
    """Write one standalone TEI file per ``div[@type=by]`` of ``volume`` into ``out_dir``."""
    source = Path(volume)
    loaded = load(source, load_options or LoadOptions())
    if loaded.document is None:
        first = loaded.diagnostics[0]
        raise InputError(f"{first.location()}: {first.message}")
    doc = TeiDocument(loaded.document)
    if doc.root.tag != tei("TEI"):
        raise InputError(f"{doc.display}: the root is not <TEI>; nothing to split")
    units = units_of(doc, by)
    if not units:
        raise UsageError(f'{doc.display}: no <div type="{by}"> to split by')
    stem = source.name.removesuffix(".xml")
    names: dict[int, str] = {}
    taken: set[str] = set()
    for i, u in enumerate(units, 1):
        # @n and xml:id come from the file: only safe characters reach a file name, so a
        # division named "../../x" cannot write outside the output folder.
        base = f"{stem}-{_FILE_UNSAFE.sub('-', _unit_id(u, i)).strip('.-') or i}"
        name, n = f"{base}.xml", 1
        while name.casefold() in taken:  # two divisions with one name: both are kept
            n += 1
            name = f"{base}-{n}.xml"
        taken.add(name.casefold())
        names[id(u)] = name
    unit_of_id: dict[str, etree._Element] = {}
    for unit in units:
        for el in unit.iter():
            ident = el.get(XML_ID) if isinstance(el.tag, str) else None
            if ident:
                unit_of_id[ident] = unit
    out = Path(out_dir)
    written: list[Path] = []
    diags: list[Diagnostic] = []
    when = (today or dt.date.today()).isoformat()
    for i, unit in enumerate(units, 1):
        tree, notes = _standalone(doc, unit, i, names, unit_of_id, source.name, when)
        target = out / names[id(unit)]
        text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8").decode("utf-8")
        write_atomic(target, text + "\n", protect=(source,))
        written.append(target)
        diags.extend(
            Diagnostic(str(target), 0, 0, Severity.INFO, "split.pointer", n) for n in notes
        )
    return SplitResult(tuple(written), tuple(diags))


_FILE_UNSAFE = re.compile(r"[^\w.-]+")


def _unit_id(unit: etree._Element, index: int) -> str:
    ident = unit.get(XML_ID)
    return ident if ident else f"{unit.get('type', 'div')}{unit.get('n') or index}"


def _standalone(
    doc: TeiDocument,
    unit: etree._Element,
    index: int,
    names: dict[int, str],
    unit_of_id: dict[str, etree._Element],
    volume_name: str,
    when: str,
) -> tuple[etree._ElementTree, list[str]]:
    root = doc.root
    new = etree.Element(tei("TEI"), nsmap=root.nsmap)
    volume_id = root.get(XML_ID) or volume_name.removesuffix(".xml")
    new.set(XML_ID, f"{volume_id}-{_unit_id(unit, index)}")
    header = root.find(tei("teiHeader"))
    if header is not None:
        new.append(_header(header, unit, volume_name, when))
    body_unit = copy.deepcopy(unit)
    notes: list[str] = []
    # the page the document begins on, unless it opens with its own page break
    pb = _page_before(unit)
    page_ids = {el.get(XML_ID) for el in unit.iter(tei("pb")) if el.get(XML_ID)}
    if pb is not None and pb.get(XML_ID):
        page_ids.add(pb.get(XML_ID))
    facsimile = root.find(tei("facsimile"))
    if facsimile is not None and page_ids:
        kept = copy.deepcopy(facsimile)
        for surface in list(kept):
            start = (surface.get("start") or "").lstrip("#")
            if surface.tag == tei("surface") and start not in page_ids:
                kept.remove(surface)
        kept.tail = None
        if len(kept):
            new.append(kept)
    text = etree.SubElement(new, tei("text"))
    body = etree.SubElement(text, tei("body"))
    if pb is not None:
        page = copy.deepcopy(pb)
        page.tail = None
        body.append(page)
    body_unit.tail = None
    body.append(body_unit)
    # Pointers anywhere in the new file (header included) that no longer resolve here.
    inside = {el.get(XML_ID) for el in new.iter() if isinstance(el.tag, str) and el.get(XML_ID)}
    items: dict[int, tuple[etree._Element, etree._Element]] = {}
    for el in new.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in POINTER_ATTRS:
            value = el.get(attr)
            if not value or "#" not in value:
                continue
            tokens = [
                _rewrite(token, inside, doc, unit, unit_of_id, names, volume_name, items, notes)
                for token in value.split()
            ]
            el.set(attr, " ".join(tokens))
    if items:
        back = etree.SubElement(text, tei("back"))
        _append_lists(back, items)
    return new.getroottree(), notes


def _header(
    header: etree._Element, unit: etree._Element, volume_name: str, when: str
) -> etree._Element:
    kept = copy.deepcopy(header)
    kept.tail = None
    head = unit.find(tei("head"))
    title_stmt = kept.find(f"{tei('fileDesc')}/{tei('titleStmt')}")
    if head is not None and title_stmt is not None:
        title = etree.Element(tei("title"), type="document")
        title.text = normalise_space(
            "".join(
                t
                for t in head.xpath(
                    ".//text()[not(ancestor::tei:note)]", namespaces={"tei": TEI_NS}
                )
                if isinstance(t, str)
            )
        )
        first_title = title_stmt.find(tei("title"))
        if first_title is not None:
            first_title.addprevious(title)
        else:
            title_stmt.insert(0, title)
    file_desc = kept.find(tei("fileDesc"))
    if file_desc is not None:
        # fileDesc: titleStmt, editionStmt?, extent?, publicationStmt, seriesStmt*,
        # notesStmt?, sourceDesc+ -- the provenance note goes into notesStmt.
        notes = file_desc.find(tei("notesStmt"))
        if notes is None:
            notes = etree.Element(tei("notesStmt"))
            source = file_desc.find(tei("sourceDesc"))
            if source is not None:
                source.addprevious(notes)
            else:
                file_desc.append(notes)
        note = etree.SubElement(notes, tei("note"), type="teikit-split")
        label = unit.get("n") or unit.get(XML_ID) or ""
        note.text = (
            f"Split out of {volume_name} ({unit.get('type')} {label}) by teikit split on {when}."
        )
    return kept


def _page_before(unit: etree._Element) -> etree._Element | None:
    """The last page break before ``unit`` starts (None when it opens with its own)."""
    first = next((c for c in unit if isinstance(c.tag, str) and c.tag != tei("head")), None)
    if first is not None and first.tag == tei("pb"):
        return None
    found = unit.xpath("preceding::tei:pb[1]", namespaces={"tei": TEI_NS})
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _rewrite(
    token: str,
    inside: set[str | None],
    doc: TeiDocument,
    unit: etree._Element,
    unit_of_id: dict[str, etree._Element],
    names: dict[int, str],
    volume_name: str,
    items: dict[int, tuple[etree._Element, etree._Element]],
    notes: list[str],
) -> str:
    if not token.startswith("#"):
        return token
    ident = token[1:]
    if ident in inside:
        return token
    other = unit_of_id.get(ident)
    if other is not None and other is not unit:
        return f"{names[id(other)]}#{ident}"
    target = doc.ids.get(ident)
    if target is not None:
        item = next((a for a in target.iterancestors(tei("item"))), None)
        lst = item.getparent() if item is not None else None
        if item is not None and lst is not None and lst.tag == tei("list"):
            items[id(item)] = (lst, item)
            return token
    notes.append(f"pointer {token} leads outside the document; now {volume_name}{token}")
    return f"{volume_name}{token}"


def _append_lists(
    back: etree._Element, items: dict[int, tuple[etree._Element, etree._Element]]
) -> None:
    """Copy each list's division (head, list attributes) with only the items used."""
    by_list: dict[int, tuple[etree._Element, list[etree._Element]]] = {}
    for lst, item in items.values():
        by_list.setdefault(id(lst), (lst, []))[1].append(item)
    for lst, used in by_list.values():
        order = {id(c): n for n, c in enumerate(lst)}
        container = lst.getparent()
        holder: etree._Element
        if container is not None and container.tag == tei("div"):
            holder = etree.SubElement(back, tei("div"), dict(container.attrib))
            head = container.find(tei("head"))
            if head is not None:
                kept_head = copy.deepcopy(head)
                kept_head.tail = None
                holder.append(kept_head)
        else:
            holder = etree.SubElement(back, tei("div"))
        new_list = etree.SubElement(holder, tei("list"), dict(lst.attrib))
        for item in sorted(used, key=lambda it: order.get(id(it), 0)):
            kept = copy.deepcopy(item)
            kept.tail = None
            new_list.append(kept)
