"""Splitting a multi-document volume into standalone TEI files, one per division.

The publisher's volumes hold a hundred or more ``div[@type='document']`` each. A
standalone file for each keeps what the document needs to stand alone: the volume's
header (with the document's title added and a dated change noting the split), the page
break it starts on and the facsimile surfaces of its pages, and the entries its pointers
reach -- ``standOff`` entries, ``listPerson``/``listOrg``/``listPlace`` (any ``list*``)
entries and the items of the persons and terms lists -- together with the entries those
entries point to, transitively. Each entry is copied inside the containers it had (a
``standOff``, or a ``back`` shaped like the original lists). Pointers to other documents
of the volume become pointers to their split files; the pointers that still leave the
document point into the volume file, and relative file pointers are rebased, both by a
path relative to the output folder so that they resolve from the split file.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.document import TeiDocument, normalise_space
from teikit.errors import InputError, UsageError
from teikit.loading import LoadOptions, load
from teikit.output import Placed, write_atomic
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

#: Suffixes of the relative file pointers that are rebased onto the output folder (others,
#: such as page-image names in ``@facs``, are identifiers as much as paths: left alone).
FILE_SUFFIXES = (".xml", ".tei")

#: How many of the ids a file's note names before it just counts the rest.
NOTE_IDS = 5


@dataclass(frozen=True, slots=True)
class SplitResult:
    """The files written, in document order, and what could not be kept as it was.

    ``diagnostics`` holds at most one ``split.pointer`` note per written file; a caller
    that wants one line for the whole run uses ``external_pointers``, the number of
    pointers (over all files) that now point into the volume file.
    """

    written: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...]
    external_pointers: int = 0
    #: those of ``written`` that already held what a split writes, left as they were
    unchanged: tuple[Path, ...] = ()


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
    doc = TeiDocument(load(source, load_options or LoadOptions()).require())
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
    vol = _Volume(doc, names, unit_of_id, source, out)
    placed = Placed()
    diags: list[Diagnostic] = []
    external_count = 0
    when = (today or dt.date.today()).isoformat()
    for i, unit in enumerate(units, 1):
        tree, external = _standalone(vol, unit, i, when)
        target = out / names[id(unit)]
        text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8").decode("utf-8")
        placed.add(target, write_atomic(target, text + "\n", protect=(source,)))
        if external:
            external_count += len(external)
            diags.append(
                Diagnostic(str(target), 0, 0, Severity.INFO, "split.pointer", _note(external, vol))
            )
    return SplitResult(tuple(placed.paths), tuple(diags), external_count, tuple(placed.unchanged))


_FILE_UNSAFE = re.compile(r"[^\w.-]+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True, slots=True)
class _Volume:
    """What every split file of one volume is built from."""

    doc: TeiDocument
    names: dict[int, str]
    unit_of_id: dict[str, etree._Element]
    source: Path
    out: Path
    #: the volume file as a URI reference from a file in the output folder
    ref: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", _relative(os.fspath(self.source), self.out))


def _relative(path: str, out: Path) -> str:
    """``path`` as a URI reference that resolves from a file written into ``out``.

    Pointers resolve against the file that holds them, so a path that was right beside
    the volume is wrong beside the split file; no ``realpath``, because URI
    references resolve ``..`` lexically (``relpath`` does too).
    """
    try:
        rel = os.path.relpath(path, out)
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(path).absolute().as_uri()
    return quote(Path(rel).as_posix())


def _note(external: list[str], vol: _Volume) -> str:
    """One line per file, however many pointers: the ids, the first few by name."""
    ids = list(dict.fromkeys(external))
    shown = ", ".join(ids[:NOTE_IDS])
    more = f" and {len(ids) - NOTE_IDS} more" if len(ids) > NOTE_IDS else ""
    return (
        f"{len(external)} pointer(s) lead outside the document and now point into "
        f"{vol.ref}: {shown}{more}"
    )


def _unit_id(unit: etree._Element, index: int) -> str:
    ident = unit.get(XML_ID)
    return ident if ident else f"{unit.get('type', 'div')}{unit.get('n') or index}"


def _standalone(
    vol: _Volume, unit: etree._Element, index: int, when: str
) -> tuple[etree._ElementTree, list[str]]:
    root = vol.doc.root
    volume_name = vol.source.name
    new = etree.Element(tei("TEI"), nsmap=root.nsmap)
    volume_id = root.get(XML_ID) or volume_name.removesuffix(".xml")
    new.set(XML_ID, f"{volume_id}-{_unit_id(unit, index)}")
    header = root.find(tei("teiHeader"))
    if header is not None:
        new.append(_header(header, unit, volume_name, when))
    body_unit = copy.deepcopy(unit)
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
    entries = _Entries(vol, unit, new)
    entries.resolve(list(new.iter()))
    entries.place(text)
    return new.getroottree(), entries.external_in(new)


class _Entries:
    """The pointers of one split file, and the entries copied in so that they resolve.

    Pointers are rewritten from a work list: each entry copied in adds its own elements,
    so the entries that entries point to come along too, however long the chain.
    """

    def __init__(self, vol: _Volume, unit: etree._Element, new: etree._Element) -> None:
        self.vol = vol
        self.unit = unit
        self.inside = {
            ident for el in new.iter() if isinstance(el.tag, str) and (ident := el.get(XML_ID))
        }
        #: id(original entry) -> (original, copy); the original is held so ids stay unique
        self.kept: dict[int, tuple[etree._Element, etree._Element]] = {}
        #: id(original container) -> (original, copy of its head or None)
        self.heads: dict[int, tuple[etree._Element, etree._Element | None]] = {}
        #: (element, token) of each pointer now into the volume file
        self.external: list[tuple[etree._Element, str]] = []
        self.pending: list[etree._Element] = []

    def resolve(self, elements: list[etree._Element]) -> None:
        """Rewrite every pointer of ``elements`` and of the entries they bring along."""
        self.pending.extend(elements)
        while self.pending:
            el = self.pending.pop()
            if not isinstance(el.tag, str):
                continue
            for attr in POINTER_ATTRS:
                value = el.get(attr)
                if not value:
                    continue
                tokens = [self._rewrite(el, token) for token in value.split()]
                if tokens != value.split():
                    el.set(attr, " ".join(tokens))

    def _rewrite(self, el: etree._Element, token: str) -> str:
        if not token.startswith("#"):
            return self._rebase(token)
        ident = token[1:]
        if ident in self.inside:
            return token
        other = self.vol.unit_of_id.get(ident)
        if other is not None and other is not self.unit:
            return f"{self.vol.names[id(other)]}#{ident}"
        target = self.vol.doc.ids.get(ident)
        entry = _entry_of(target) if target is not None else None
        if entry is not None and not any(a is entry for a in self.unit.iterancestors()):
            self._keep(entry)
            if ident in self.inside:
                return token
        self.external.append((el, token))
        return f"{self.vol.ref}{token}"

    def _rebase(self, token: str) -> str:
        """A relative file pointer, made relative to the output folder instead."""
        path, sep, fragment = token.partition("#")
        if (
            not path.lower().endswith(FILE_SUFFIXES)
            or _SCHEME.match(token)
            or token.startswith(("/", "\\"))
        ):
            return token  # an absolute URI, a prefixed pointer, a web path or not a file
        joined = self.vol.source.parent / unquote(path)
        return _relative(os.fspath(joined), self.vol.out) + sep + fragment

    def _keep(self, entry: etree._Element) -> None:
        kept = copy.deepcopy(entry)
        kept.tail = None
        self.kept[id(entry)] = (entry, kept)
        self._add(kept)
        for container in _containers(entry)[1]:
            if id(container) in self.heads:
                continue
            head = container.find(tei("head"))
            head_copy = copy.deepcopy(head) if head is not None else None
            self.heads[id(container)] = (container, head_copy)
            if head_copy is not None:
                head_copy.tail = None
                self._add(head_copy)

    def _add(self, copied: etree._Element) -> None:
        for el in copied.iter():
            ident = el.get(XML_ID) if isinstance(el.tag, str) else None
            if ident:
                self.inside.add(ident)
        self.pending.extend(copied.iter())

    def place(self, text: etree._Element) -> None:
        """Put the kept entries, in document order, into copies of their containers."""
        outermost = [
            (orig, kept)
            for orig, kept in self.kept.values()
            if not any(id(a) in self.kept for a in orig.iterancestors())
        ]
        outermost.sort(key=lambda pair: _position(pair[0]))
        regions: dict[bool, etree._Element] = {}
        shells: dict[int, etree._Element] = {}
        for orig, kept in outermost:
            stand_off, containers = _containers(orig)
            parent = regions.get(stand_off)
            if parent is None:
                if stand_off:
                    parent = etree.Element(tei("standOff"))
                    text.addprevious(parent)
                else:
                    parent = etree.SubElement(text, tei("back"))
                regions[stand_off] = parent
            for container in containers:
                shell = shells.get(id(container))
                if shell is None:
                    shell = etree.SubElement(parent, container.tag, dict(container.attrib))
                    shells[id(container)] = shell
                    head = self.heads[id(container)][1]
                    if head is not None:
                        shell.append(head)
                parent = shell
            parent.append(kept)

    def external_in(self, new: etree._Element) -> list[str]:
        """The pointers now into the volume file, of the elements the file really holds."""
        return [token for el, token in self.external if _root_of(el) is new]


def _root_of(el: etree._Element) -> etree._Element:
    top = el
    while (parent := top.getparent()) is not None:
        top = parent
    return top


def _entry_of(target: etree._Element) -> etree._Element | None:
    """The entry holding ``target``: an item of a ``list``, a child of another ``list*``
    element (``listPerson``, ``listOrg``, ``listPlace``, ``listBibl``...) or of
    ``standOff``; None when the target is in no such entry."""
    el = target
    while (parent := el.getparent()) is not None:
        tag = parent.tag
        if isinstance(tag, str) and tag.startswith(f"{{{TEI_NS}}}"):
            local = tag[len(TEI_NS) + 2 :]
            if local == "list":
                if el.tag == tei("item"):
                    return el
            elif local.startswith("list") or local == "standOff":
                return el
        el = parent
    return None


_REGIONS = frozenset({tei("front"), tei("body"), tei("back"), tei("text")})


def _containers(entry: etree._Element) -> tuple[bool, list[etree._Element]]:
    """Whether ``entry`` lies in ``standOff``, and its containers below that (or below
    ``front``/``body``/``back``), outermost first: these are copied around it."""
    found: list[etree._Element] = []
    for anc in entry.iterancestors():
        if anc.tag == tei("standOff"):
            return True, found[::-1]
        if anc.tag in _REGIONS or anc.getparent() is None:
            break
        found.append(anc)
    return False, found[::-1]


def _position(el: etree._Element) -> tuple[int, ...]:
    """Document order, as the path of child indexes from the root."""
    path: list[int] = []
    while (parent := el.getparent()) is not None:
        path.append(parent.index(el))
        el = parent
    return tuple(reversed(path))


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
