"""Plain text for reading and for NLP: wrapped paragraphs, notes as numbered footnotes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from lxml import etree

from teikit.convert.blocks import (
    BLOCKS,
    CELL_SEPARATOR,
    CELLS,
    ITEMS,
    LINE_BREAKS,
    NOTES,
    PAGE_BREAKS,
    all_forms,
    in_place,
    is_block,
    is_block_in_place,
    parent_tag,
)
from teikit.convert.rules import RenderRules, Rule
from teikit.convert.walk import walk
from teikit.document import TeiDocument, cite_bibl
from teikit.errors import UsageError, one_of
from teikit.xmlutil import tei

NotesMode = Literal["end", "inline", "omit"]

NOTE = tei("note")
#: Not part of the text a reader reads (matters where the walk starts above <text>, as it
#: does for TEI P4 and TEI without its namespace, whose names are here too).
METADATA = all_forms(["teiHeader", "standOff", "facsimile", "sourceDoc"])
CHOICE = tei("choice")
#: What a table cell starts with: the sink joins the cells of one line by CELL_SEPARATOR.
#: U+FFFF is not allowed in XML, so no text holds it (and finding it in a Latin-1
#: paragraph costs nothing: CPython knows the string cannot hold it).
CELL = "\uffff"
#: Inside <choice>, the reading a text converter shows first (the source's own form).
SOURCE_FORMS = (tei("abbr"), tei("orig"), tei("sic"))
EDITED_FORMS = (tei("expan"), tei("reg"), tei("corr"))


@dataclass(frozen=True, slots=True)
class TextOptions:
    """How to render; the defaults suit reading the letter in a terminal."""

    width: int = 72
    notes: NotesMode = "end"
    pages: bool = False
    #: Show the source as written: abbr/orig/sic inside <choice>, and deletions as ⟦…⟧.
    #: By default the edited reading is shown: expan/reg/corr, deletions left out.
    diplomatic: bool = False
    #: Start with a short citation block from the teiHeader.
    header: bool = False
    rules: RenderRules = field(default_factory=RenderRules)

    def __post_init__(self) -> None:
        if self.width < 0:
            raise UsageError(f"width must be 0 (no wrapping) or more, not {self.width}")
        one_of("notes", self.notes, ("end", "inline", "omit"))

    @property
    def choice(self) -> Literal["source", "edited"]:
        return "source" if self.diplomatic else "edited"


@dataclass(frozen=True, slots=True)
class Span:
    """Where an element's rendered text lies in the output: ``text[start:end]``."""

    element: etree._Element
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TextRender:
    """The text and, for tracked elements, their spans (exact when ``width`` is 0)."""

    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class _Mark:
    element: etree._Element
    start: bool


@dataclass(slots=True)
class _Block:
    prefix: str
    text: str
    #: element -> (start, end) within ``text``
    marks: list[tuple[etree._Element, int, int]]


@dataclass(slots=True)
class _Sink:
    """Blocks of one flow (the main text or one note) and the paragraph being built."""

    blocks: list[_Block] = field(default_factory=list)
    line: list[str | _Mark] = field(default_factory=list)
    #: list items keep their "- " apart so wrapped lines hang under it.
    prefix: str = ""
    #: whether ``line`` holds a :class:`_Mark` (most paragraphs have none)
    marked: bool = False

    def mark(self, element: etree._Element, start: bool) -> None:
        self.line.append(_Mark(element, start))
        self.marked = True

    def flush(self) -> None:
        if self.marked:
            text, marks = _normalise(self.line)
        else:
            text, marks = _plain(self.line), []  # type: ignore[arg-type]
        if text:
            self.blocks.append(_Block(self.prefix, text, marks))
        self.line.clear()
        self.prefix = ""
        self.marked = False


def _plain(pieces: list[str]) -> str:
    """Pieces with no marks among them as one normalised line, cells set apart."""
    joined = "".join(pieces)
    return " ".join((_join_cells(joined) if CELL in joined else joined).split())


def _join_cells(line: str) -> str:
    """The cells of one line (each begun by :data:`CELL`) joined by the separator."""
    before, *cells = line.split(CELL)
    return before + CELL_SEPARATOR.join(cells)


def _normalise(pieces: list[str | _Mark]) -> tuple[str, list[tuple[etree._Element, int, int]]]:
    """``normalise_space`` over the pieces, keeping track of where marked elements fall."""
    if not any(isinstance(p, _Mark) for p in pieces):
        return _plain(pieces), []  # type: ignore[arg-type]
    out: list[str] = []
    length = 0
    pending = False
    cells = False
    open_at: dict[int, tuple[etree._Element, int]] = {}
    marks: list[tuple[etree._Element, int, int]] = []
    for piece in pieces:
        if isinstance(piece, _Mark):
            if piece.start:
                at = length + (1 if pending and length else 0)
                open_at[id(piece.element)] = (piece.element, at)
            elif id(piece.element) in open_at:
                element, begin = open_at.pop(id(piece.element))
                marks.append((element, begin, max(begin, length)))
            continue
        if not piece:
            continue
        if piece == CELL:
            if not cells:
                cells = True
                continue
            piece = CELL_SEPARATOR
        words = piece.split()
        if not words:
            pending = True
            continue
        if piece[0].isspace():
            pending = True
        for word in words:
            if pending and length:
                out.append(" ")
                length += 1
            out.append(word)
            length += len(word)
            pending = True
        pending = piece[-1].isspace()
    return "".join(out), marks


def skip_unread(el: etree._Element, choice: str) -> bool:
    """What a reader of the text does not see: metadata (the headers of the texts in a
    ``teiCorpus``, standOff, facsimile) and, inside <choice>, the unchosen alternatives."""
    if el.tag in METADATA:
        return True
    parent = el.getparent()
    if parent is None or parent.tag != CHOICE:
        return False
    unwanted = EDITED_FORMS if choice == "source" else SOURCE_FORMS
    if el.tag not in unwanted:
        return False
    # Only drop an alternative when its counterpart is there to be read instead.
    wanted = SOURCE_FORMS if choice == "source" else EDITED_FORMS
    return any(c.tag in wanted for c in parent)


def omission(
    rules: RenderRules, diplomatic: bool, omit_notes: bool
) -> Callable[[etree._Element], bool]:
    """What the text-like converters leave out: ``display = "omit"`` rules, deletions in
    the edited reading, notes when asked, and what :func:`skip_unread` says.

    The settings are read once: the walk asks for every element, and most are let
    through on one set lookup (only the alternatives inside ``choice`` look further).
    """
    dropped = METADATA | (NOTES if omit_notes else frozenset())
    if not diplomatic:
        dropped |= {_DEL}
    choice = "source" if diplomatic else "edited"
    match = rules.match if rules.rules else None

    def skip(el: etree._Element) -> bool:
        if match is not None:
            rule = match(el)
            if rule is not None and rule.display == "omit":
                return True
        tag = el.tag
        if tag in dropped:
            return True
        return tag in ALTERNATIVES and skip_unread(el, choice)

    return skip


#: The alternatives inside ``choice``: the only elements skip_unread looks at twice.
ALTERNATIVES = frozenset(SOURCE_FORMS + EDITED_FORMS)


def body_of(doc: TeiDocument) -> etree._Element:
    """The element whose content is the text proper: ``text``, or the root itself
    (a ``teiCorpus``, whose texts are read in order, or a lone TEI element)."""
    text = doc.root.find(tei("text"))
    return text if text is not None else doc.root


def to_text(doc: TeiDocument, options: TextOptions = TextOptions()) -> str:
    """Render the document's ``text`` as plain text; every word of it appears once."""
    return render_text(doc, options).text


def render_text(
    doc: TeiDocument,
    options: TextOptions = TextOptions(),
    track: Callable[[etree._Element], bool] | None = None,
) -> TextRender:
    """Render as :func:`to_text` does, recording spans of the elements ``track`` selects."""
    main = _Sink()
    stack: list[_Sink] = [main]
    notes: list[tuple[str, _Sink]] = []
    counter = 0
    root = body_of(doc)
    # Where notes numbered anew in each division go (notes.py), and those waiting for
    # the end of their division: both empty in the usual case.
    places = (doc.note_places if options.notes == "end" else None) or {}
    waiting: dict[etree._Element, list[tuple[str, _Sink]]] = {}

    skip = omission(options.rules, options.diplomatic, options.notes == "omit")

    # What start decided for each open element (block?, rule), so that end need not ask.
    opened: list[tuple[bool, Rule | None]] = []
    notes_mode = options.notes
    match = options.rules.match if options.rules.rules else None
    for kind, el, text in walk(root, skip):
        sink = stack[-1]
        if kind == "text":
            sink.line.append(text)
            continue
        tag = el.tag
        if tag in NOTES and notes_mode != "omit" and not in_place(el):
            if kind == "start":
                counter += 1
                label = el.get("n") or str(counter)
                if notes_mode == "inline":
                    sink.line.append(f" [{label}: ")
                else:
                    sink.line.append(f"[{label}]")
                    note_sink = _Sink()
                    division = places.get(el) if places else None
                    if division is None:
                        notes.append((label, note_sink))
                    else:
                        waiting.setdefault(division, []).append((label, note_sink))
                    stack.append(note_sink)
            elif notes_mode == "inline":
                sink.line.append("] ")
            else:
                stack.pop().flush()
            continue
        if kind == "start":
            rule = match(el) if match is not None else None
            if rule is not None and rule.display is not None:
                is_blk = rule.display == "block"
            elif tag not in BLOCKS:
                # Most elements: no need to look at the parent. A note that reaches here
                # stays in place (in_place).
                is_blk = tag in NOTES and is_block_in_place(tag, parent_tag(el))
            else:
                parent = el.getparent()
                is_blk = is_block(tag, parent.tag if parent is not None else None)
            opened.append((is_blk, rule))
            if is_blk:
                sink.flush()
                if tag in ITEMS:
                    sink.prefix = "- "
                if rule is not None:
                    sink.line.append(rule.before)
                continue
            if rule is not None:
                sink.line.append(rule.before)
            elif tag in _MARKED:
                sink.line.append(_inline_start(el, options))
            if track is not None and track(el):
                sink.mark(el, True)
            continue
        is_blk, rule = opened.pop()
        if is_blk:
            if rule is not None:
                sink.line.append(rule.after)
            sink.flush()
            if waiting and el in waiting:  # the division's own notes follow it
                main.blocks.extend(_notes_blocks(waiting.pop(el)))
            continue
        if track is not None and track(el):
            sink.mark(el, False)
        if rule is not None:
            sink.line.append(rule.after)
        elif tag in _MARKS:
            sink.line.append(_MARKS[tag][1])
    main.flush()
    for left in waiting.values():  # a division shown inline: its notes follow the text
        notes.extend(left)
    if options.header:
        citation = header_citation(doc)
        if citation:
            main.blocks[:0] = [_Block("", line, []) for line in citation]

    parts: list[str] = []
    spans: list[Span] = []
    offset = 0

    def emit(
        text: str, marks: list[tuple[etree._Element, int, int]], shift: int, hanging: int
    ) -> None:
        nonlocal offset
        if parts:
            parts.append("\n\n")
            offset += 2
        spans.extend(Span(el, offset + shift + a, offset + shift + b) for el, a, b in marks)
        wrapped = _wrap(text, options.width, hanging)
        parts.append(wrapped)
        offset += len(wrapped)

    for block in (*main.blocks, *_notes_blocks(notes)):
        emit(block.prefix + block.text, block.marks, len(block.prefix), len(block.prefix))
    return TextRender("".join(parts) + "\n", tuple(spans))


def _notes_blocks(notes: list[tuple[str, _Sink]]) -> list[_Block]:
    """The heading and the notes, as blocks of the main text (none without notes)."""
    if not notes:
        return []
    return [_Block("", "Notes", []), *(note_block(label, sink) for label, sink in notes)]


def note_block(label: str, sink: _Sink) -> _Block:
    """One note as a paragraph: ``[label]`` and its paragraphs run together, wrapped lines
    hanging under the text."""
    pieces: list[str] = []
    marks: list[tuple[etree._Element, int, int]] = []
    at = 0
    for block in sink.blocks:
        if pieces:
            at += 1
        marks.extend(
            (el, at + len(block.prefix) + a, at + len(block.prefix) + b) for el, a, b in block.marks
        )
        pieces.append(block.prefix + block.text)
        at += len(block.prefix) + len(block.text)
    return _Block(f"[{label}] ", " ".join(pieces), marks)


def page_label(el: etree._Element) -> str:
    """A page break's ``@n`` as teikit shows it in its own brackets: an editor's
    ``n="[I]"`` (a number supplied, not printed) would otherwise read ``[Page [I]]``."""
    label = (el.get("n") or "").strip()
    if label.startswith("[") and label.endswith("]"):
        label = label[1:-1].strip()
    return label


def _inline_start(el: etree._Element, options: TextOptions) -> str:
    tag = el.tag
    if tag in PAGE_BREAKS:
        if not options.pages:
            return "" if el.get("break") == "no" else " "
        label = page_label(el)
        marker = f"[Page {label}]" if label else "[Page]"
        return marker if el.get("break") == "no" else f" {marker} "
    if tag in LINE_BREAKS:
        return "" if el.get("break") == "no" else " "
    if tag == _GAP:
        return " […] "
    if tag in CELLS:
        return CELL
    return _MARKS.get(tag, _NO_MARKS)[0]


_GAP, _DEL = tei("gap"), tei("del")
_NO_MARKS = ("", "")
#: Editorial marks around an element's text (Leiden-style, documented in the README).
_MARKS: dict[object, tuple[str, str]] = {
    tei("supplied"): ("[", "]"),
    tei("unclear"): ("", "[?]"),
    tei("del"): ("⟦", "⟧"),  # shown only with diplomatic=True
    tei("add"): ("", ""),
    # A note left in place in running text (in_place) is set apart as --notes inline sets
    # notes apart, without a number.
    **dict.fromkeys(NOTES, (" [", "] ")),
}


#: The inline elements that put something in the text of their own (the rest add nothing).
_MARKED = PAGE_BREAKS | LINE_BREAKS | CELLS | {_GAP, *_MARKS}


def _inline_end(el: etree._Element) -> str:
    return _MARKS.get(el.tag, _NO_MARKS)[1]


def header_citation(doc: TeiDocument) -> list[str]:
    """Title, author, source and licence from the header: who made this and from what."""
    ns = {"t": "http://www.tei-c.org/ns/1.0"}
    lines: list[str] = []
    for label, path in (
        ("", "t:teiHeader/t:fileDesc/t:titleStmt/t:title[1]"),
        ("Author: ", "t:teiHeader/t:fileDesc/t:titleStmt/t:author[1]"),
        (
            "Source: ",
            "t:teiHeader/t:fileDesc/t:sourceDesc/t:bibl[1]"
            " | t:teiHeader/t:fileDesc/t:sourceDesc/t:biblStruct[1]",
        ),
        ("Published by: ", "t:teiHeader/t:fileDesc/t:publicationStmt/t:publisher[1]"),
        ("Licence: ", "t:teiHeader/t:fileDesc/t:publicationStmt/t:availability/t:licence[1]"),
    ):
        found = doc.root.xpath(path, namespaces=ns)
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            el = found[0]
            text = (
                cite_bibl(el)
                if el.tag in (tei("bibl"), tei("biblStruct"))
                else " ".join("".join(el.itertext()).split())
            )
            if el.tag == tei("licence") and el.get("target"):
                text = f"{text} <{el.get('target')}>" if text else str(el.get("target"))
            if text:
                lines.append(label + text)
    return lines


@lru_cache(maxsize=64)
def _lines_of(width: int) -> re.Pattern[str]:
    """Greedy lines of at most ``width`` characters, or one word that is longer."""
    return re.compile(rf"(.{{1,{width}}})(?: |\Z)|([^ ]+)(?: |\Z)", re.DOTALL)


def _wrap(text: str, width: int, hanging: int = 0) -> str:
    """Greedy wrapping of normalised text (single spaces), as ``textwrap.fill`` with
    ``break_long_words=False, break_on_hyphens=False`` does, without its cost.

    Each line break replaces one space, so offsets into unwrapped text stay valid for
    the first line's characters and shift only by the hanging indent after it. The
    lines are found by a regular expression (the work stays in C); text that is not
    single-spaced takes the word loop, which keeps every space as textwrap would.
    """
    if width <= 0 or len(text) <= width:
        return text
    if "  " in text or text[0] == " " or text[-1] == " ":
        return _wrap_words(text, width, hanging)
    first = _lines_of(width).match(text)
    assert first is not None  # a single-spaced text always starts a line
    line = first.group(1) or first.group(2)
    if first.end() >= len(text):
        return line
    indent = " " * hanging
    rest = _lines_of(max(width - hanging, 1)).finditer(text, first.end())
    return "\n".join([line, *[indent + (m.group(1) or m.group(2)) for m in rest]])


def _wrap_words(text: str, width: int, hanging: int) -> str:
    """:func:`_wrap` one word at a time, for text with runs of spaces."""
    indent = " " * hanging
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if not line:
            line = (indent if lines else "") + word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = indent + word
    lines.append(line)
    return "\n".join(lines)
