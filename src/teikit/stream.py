"""Plain text from TEI files of any size, without building the tree.

:func:`stream_text` writes what :func:`teikit.convert.text.to_text` returns, while the
file is parsed in chunks (``lxml``'s pull parser, with the same hardening as
:mod:`teikit.loading`: no network, no DTD loaded, internal entities only). Each element
is dropped as soon as its text (and the text after it) has been written, so memory
holds the path from the root to the current element and not the document:

* the notes, with ``notes="end"`` (the default): their text only, in a temporary file
  once past a few megabytes (:class:`tempfile.SpooledTemporaryFile`), since they are written
  after the main text;
* each ``choice`` until its end, since which alternative is read depends on its
  siblings (a few words);
* with ``header=True``, the ``teiHeader`` until its end, for the citation block;
* for a root other than ``TEI`` or ``teiCorpus``, the text written (not the tree) until
  the end, since a ``text`` child anywhere in the root would make it the only thing
  read. A ``teiCorpus`` is streamed text by text.

One kind of file is read whole instead (through :func:`teikit.loading.load`, with its
limits): one whose internal DTD subset declares entities with markup
(``<!ENTITY who "the <hi>Secretary</hi>">``), since the pull parser reports the elements
of such an entity once, outside the tree, however often it is used.

Events are fed to the same rendering steps as :func:`~teikit.convert.text.to_text`
(its sinks, whitespace normalisation, wrapping and marks), so the two agree byte for
byte; tests compare them on every corpus file and on a generated 300 MB file.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO, cast

from lxml import etree

from teikit.convert.blocks import ITEMS, NOTES, in_place, is_block_in_place
from teikit.convert.notes import DIVISIONS, NoteLevels, division_at
from teikit.convert.text import (
    TextOptions,
    _inline_end,
    _inline_start,
    _notes_blocks,
    _Sink,
    _wrap,
    header_citation,
    note_block,
    omission,
    to_text,
)
from teikit.convert.walk import walk
from teikit.document import TeiDocument
from teikit.errors import InputError
from teikit.loading import (
    Document,
    LoadOptions,
    base_url_of,
    display_name,
    pull_parser,
    scan_file,
)
from teikit.loading import load as load_file
from teikit.xmlutil import tei

if TYPE_CHECKING:
    from lxml.etree import ParserTarget

__all__ = ["stream_text"]

#: Bytes read and fed to the parser at a time.
CHUNK = 1 << 20
#: Characters of notes kept in memory before they go to a temporary file.
SPOOL = 4 << 20

TEXT = tei("text")
HEADER = tei("teiHeader")
CHOICE = tei("choice")

# What becomes of an element's content.
_ACTIVE = 0  # rendered as it is parsed
_SKIP = 1  # not read (skipped, or outside what is read): dropped as it is parsed
_BUFFER = 2  # a choice: kept until its end, then rendered from the subtree
_KEEP = 3  # the teiHeader, kept for the citation
_HOLD = 4  # inside a kept or buffered element


def stream_text(
    path: str | os.PathLike[str],
    out: TextIO,
    options: TextOptions | None = None,
    load: LoadOptions | None = None,
) -> None:
    """Write ``to_text`` of the file at ``path`` to ``out``, parsing it in chunks.

    ``load`` gives the parser's limits (``huge_tree`` lifts libxml2's depth and text
    limits); ``max_bytes`` does not apply, since memory does not grow with the file.
    A file that is not well-formed raises :class:`~teikit.errors.InputError` (what was
    written before the error stays written).
    """
    p = Path(path)
    shown = display_name(p)
    options = options or TextOptions()
    load = load or LoadOptions()
    with tempfile.SpooledTemporaryFile(
        max_size=SPOOL, mode="w+", encoding="utf-8", newline=""
    ) as spool:
        try:
            _stream(p, shown, out, options, load, spool)
        except _NeedsTree:
            out.write(_from_tree(p, shown, options, load))
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (0, 0)
            raise InputError(f"{shown}:{line}:{column}: not well-formed: {exc.msg}") from None
        except OSError as exc:
            raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None


def _stream(
    path: Path, shown: str, out: TextIO, options: TextOptions, load: LoadOptions, spool: IO[str]
) -> None:
    level = _note_level(path, load) if options.notes == "end" else None
    parser = _pull_parser(load, path)
    renderer = _Streamer(path, shown, out, options, spool, level)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            parser.feed(chunk)
            renderer.events(parser.read_events())
        parser.close()
    renderer.events(parser.read_events())
    renderer.close()


def _note_level(path: Path, load: LoadOptions) -> int | None:
    """The depth of the divisions notes follow, as :func:`teikit.convert.notes.note_places`
    finds it in the tree: a first pass over the file that builds no tree."""
    target = cast("ParserTarget[int | None]", _NoteScan())  # start, end and close suffice
    return scan_file(path, target, huge_tree=load.huge_tree, chunk=CHUNK)


class _NoteScan:
    """Parser target: each collected note's ``@n`` and the divisions around it (known by
    the order they start in), under the root and under its first ``text`` child."""

    def __init__(self) -> None:
        self.everywhere, self.in_text = NoteLevels(), NoteLevels()
        self.depth = 0  # elements open
        self.started = 0  # elements started
        self.chain: list[int] = []  # the open divisions outside notes...
        self.depths: list[int] = []  # ...and the depth each stands at
        self.notes_open = 0
        self.text_seen = self.inside_text = False

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        depth, self.depth, self.started = self.depth, self.depth + 1, self.started + 1
        if depth == 1 and tag == TEXT and not self.text_seen:
            self.text_seen = self.inside_text = True
        if tag in NOTES:
            if not in_place(attrib):
                label = attrib.get("n")
                self.everywhere.add(label, self.chain)
                if self.inside_text:
                    self.in_text.add(label, self.chain[1:])  # below the text itself
            self.notes_open += 1
        elif tag in DIVISIONS and depth and not self.notes_open:
            self.chain.append(self.started)
            self.depths.append(depth)

    def end(self, tag: str) -> None:
        self.depth -= 1
        if tag in NOTES:
            self.notes_open -= 1
        elif self.depths and self.depths[-1] == self.depth:
            self.depths.pop()
            division = self.chain.pop()
            self.everywhere.close(division)
            self.in_text.close(division)
        if self.depth == 1:
            self.inside_text = False

    def close(self) -> int | None:
        return (self.in_text if self.text_seen else self.everywhere).level()


class _NeedsTree(Exception):
    """The file declares entities with markup: the parser reports their elements once,
    detached from the tree, so only the tree knows where each copy stands."""


def _from_tree(path: Path, shown: str, options: TextOptions, load: LoadOptions) -> str:
    return to_text(TeiDocument(load_file(path, load).require()), options)


def _markup_entities(root: etree._Element) -> bool:
    """True when the internal subset declares an entity whose text has markup or refs."""
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is None:
        return False
    return any(
        "<" in (entity.content or "") or "&" in (entity.content or "")
        for entity in dtd.iterentities()
    )


def _pull_parser(options: LoadOptions, path: Path) -> etree.XMLPullParser:
    """The settings of :func:`teikit.loading.make_parser`, fed in chunks."""
    return pull_parser(
        ("start", "end", "comment", "pi"), huge_tree=options.huge_tree, base_url=base_url_of(path)
    )


@dataclass(slots=True)
class _Frame:
    """An open element: how its content is treated, and what of it is still to come."""

    element: etree._Element
    mode: int
    #: Its ``text`` has been rendered (it is complete once a child starts, or at its end).
    text_done: bool = False
    #: The last child (element, comment or PI) whose tail is not yet complete.
    last: etree._Element | None = None


@dataclass(slots=True)
class _Render:
    """The event handling of ``render_text`` (teikit.convert.text), one event at a time."""

    options: TextOptions
    main: _Sink = field(default_factory=_Sink)
    stack: list[_Sink] = field(default_factory=list)
    #: Notes in the order they started; their sinks, once ended, are in ``ended``.
    notes: deque[tuple[str, _Sink]] = field(default_factory=deque)
    ended: set[int] = field(default_factory=set)
    counter: int = 0
    #: The depth of the divisions notes follow (``_note_level``), None: the text.
    level: int | None = None
    #: The open divisions outside notes, the notes open, and the notes held back until
    #: their division ends (as ``render_text`` finds them in the tree: notes.py).
    divisions: list[etree._Element] = field(default_factory=list)
    notes_open: int = 0
    held: dict[etree._Element, list[tuple[str, _Sink]]] = field(default_factory=dict)
    started: bool = False
    #: What the text leaves out (see :func:`teikit.convert.text.omission`).
    skip: Callable[[etree._Element], bool] = field(init=False)

    def __post_init__(self) -> None:
        self.stack.append(self.main)
        options = self.options
        self.skip = omission(options.rules, options.diplomatic, options.notes == "omit")

    def text(self, text: str) -> None:
        self.stack[-1].line.append(text)

    def tag(self, kind: str, el: etree._Element) -> None:
        options = self.options
        sink = self.stack[-1]
        tag = el.tag
        if self.level is not None:
            self.place(kind, el, tag)
        if tag in NOTES and options.notes != "omit" and not in_place(el):
            # The division the note follows (unchanged while it is open), None: the text.
            division = division_at(self.divisions, self.level) if self.level else None
            if kind == "start":
                self.counter += 1
                label = el.get("n") or str(self.counter)
                if options.notes == "inline":
                    sink.line.append(f" [{label}: ")
                else:
                    sink.line.append(f"[{label}]")
                    note_sink = _Sink()
                    if division is None:
                        self.notes.append((label, note_sink))
                    else:
                        self.held.setdefault(division, []).append((label, note_sink))
                    self.stack.append(note_sink)
            elif options.notes == "inline":
                sink.line.append("] ")
            else:
                ended = self.stack.pop()
                ended.flush()
                if division is None:  # only notes in ``notes`` are looked up in ``ended``
                    self.ended.add(id(ended))
            return
        parent = el.getparent()
        rule = options.rules.match(el)
        is_blk = is_block_in_place(tag, parent.tag if parent is not None else None)
        if rule is not None and rule.display is not None:
            is_blk = rule.display == "block"
        if is_blk:
            if kind == "end" and rule is not None:
                sink.line.append(rule.after)
            sink.flush()
            if kind == "end" and self.held and el in self.held:  # its notes follow it
                self.main.blocks.extend(_notes_blocks(self.held.pop(el)))
            if kind == "start":
                if tag in ITEMS:
                    sink.prefix = "- "
                if rule is not None:
                    sink.line.append(rule.before)
            return
        if kind == "start":
            sink.line.append(rule.before if rule is not None else _inline_start(el, options))
        else:
            sink.line.append(rule.after if rule is not None else _inline_end(el))

    def place(self, kind: str, el: etree._Element, tag: object) -> None:
        """Keep ``divisions`` and ``notes_open`` (the first element is the root: no
        division of its own)."""
        first, self.started = not self.started, True
        if tag in NOTES:
            self.notes_open += 1 if kind == "start" else -1
        elif tag in DIVISIONS and not self.notes_open and not first:
            if kind == "start":
                self.divisions.append(el)
            elif self.divisions and self.divisions[-1] is el:
                self.divisions.pop()

    def subtree(self, root: etree._Element) -> None:
        """Render a whole (buffered) element as ``render_text`` walks it."""
        for kind, el, text in walk(root, self.skip):
            if kind == "text":
                self.text(text)
            else:
                self.tag(kind, el)


class _Streamer:
    """Turns pull-parser events into ``walk`` events, and blocks into output."""

    def __init__(
        self,
        path: Path,
        shown: str,
        out: TextIO,
        options: TextOptions,
        spool: IO[str],
        level: int | None = None,
    ) -> None:
        self.path = path
        self.shown = shown
        self.out = out
        self.options = options
        self.level = level
        self.render = _Render(options, level=level)
        self.frames: list[_Frame] = []
        self.root: etree._Element | None = None
        #: Rendering the root (no ``text`` child seen yet) or its ``text`` child.
        self.in_text = False
        #: Output may be written (else it waits in ``self.waiting``).
        self.committed = False
        self.citation: list[str] | None = None if options.header else []
        self.citation_written = False
        self.waiting: list[tuple[str, int]] = []
        self.written = False
        self.kept: set[etree._Element] = set()
        #: Notes rendered so far, each with the blank line before it.
        self.note_count = 0
        self.spool = spool

    # -- events ------------------------------------------------------------------------

    def events(self, events: Iterator[tuple[str, object]]) -> None:
        for action, node in events:
            assert isinstance(node, etree._Element)
            if action == "start":
                self.start(node)
            elif action == "end":
                self.end(node)
            elif self.frames:  # a comment or PI inside the root: its tail is text
                self.child(node)
            self.drain()

    def child(self, node: etree._Element) -> _Frame:
        """A child of the innermost open element begins: what came before it is complete."""
        frame = self.frames[-1]
        self.settle(frame)
        frame.last = node
        return frame

    def settle(self, frame: _Frame) -> None:
        """Render ``frame``'s own text and the tail of its last child, then drop that child."""
        el = frame.element
        if frame.mode == _ACTIVE:
            if not frame.text_done and el.text:
                self.render.text(el.text)
            last = frame.last
            if last is not None and last.tail:
                self.render.text(last.tail)
        frame.text_done = True
        last = frame.last
        if last is not None and frame.mode in (_ACTIVE, _SKIP) and last not in self.kept:
            el.remove(last)
        frame.last = None

    def start(self, el: etree._Element) -> None:
        if not self.frames:  # the root: the walk starts here until a text child is seen
            if _markup_entities(el):
                raise _NeedsTree
            self.root = el
            self.committed = el.tag == tei("teiCorpus")
            self.frames.append(_Frame(el, _ACTIVE))
            self.render.tag("start", el)
            return
        parent = self.child(el)
        mode = self.mode_of(el, parent)
        self.frames.append(_Frame(el, mode))
        if mode == _ACTIVE:
            self.render.tag("start", el)

    def mode_of(self, el: etree._Element, parent: _Frame) -> int:
        at_root = parent.element is self.root
        if at_root and el.tag == HEADER and self.options.header and self.citation is None:
            return _KEEP
        if at_root and el.tag == TEXT and not self.in_text:
            # root.find(text): the first text child is all that is read.
            self.in_text = True
            self.committed = True
            self.render = _Render(self.options, level=self.level)
            self.waiting.clear()
            parent.mode = _SKIP
            return _ACTIVE
        if parent.mode in (_BUFFER, _KEEP, _HOLD):
            return _HOLD
        if parent.mode == _SKIP:
            return _SKIP
        if self.render.skip(el):
            return _SKIP
        return _BUFFER if el.tag == CHOICE else _ACTIVE

    def end(self, el: etree._Element) -> None:
        frame = self.frames.pop()
        assert frame.element is el
        if frame.mode == _ACTIVE:
            self.settle(frame)
            self.render.tag("end", el)
        elif frame.mode == _BUFFER:
            self.render.subtree(el)
        elif frame.mode == _KEEP:
            self.kept.add(el)
            self.citation = header_citation(
                TeiDocument(Document(self.path, self.shown, el.getroottree()))
            )
        elif frame.mode == _SKIP:
            self.settle(frame)  # drops the last child
        if frame.mode == _HOLD:
            return  # its parent is kept whole
        if frame.mode != _KEEP:
            el.clear(keep_tail=True)
        if self.frames:
            self.frames[-1].last = el
        else:  # the end of the root
            self.committed = True
            if self.citation is None:
                self.citation = header_citation(
                    TeiDocument(Document(self.path, self.shown, el.getroottree()))
                )

    # -- output ------------------------------------------------------------------------

    def drain(self) -> None:
        """Move finished main-text blocks to the output (or to ``waiting``), and ended
        notes (in the order they started) to the spool."""
        notes, ended = self.render.notes, self.render.ended
        while notes and id(notes[0][1]) in ended:
            label, sink = notes.popleft()
            ended.discard(id(sink))
            self.spool_note(label, sink)
        blocks = self.render.main.blocks
        if blocks:
            self.waiting.extend((b.prefix + b.text, len(b.prefix)) for b in blocks)
            blocks.clear()
        if self.waiting and self.committed and self.citation is not None:
            self.flush()

    def flush(self) -> None:
        if not self.citation_written and self.citation is not None:
            self.citation_written = True
            for line in self.citation:
                self.block(line, 0)
        for text, hanging in self.waiting:
            self.block(text, hanging)
        self.waiting.clear()

    def block(self, text: str, hanging: int) -> None:
        if self.written:
            self.out.write("\n\n")
        self.out.write(_wrap(text, self.options.width, hanging))
        self.written = True

    def spool_note(self, label: str, sink: _Sink) -> None:
        note = note_block(label, sink)
        hanging = len(note.prefix)
        self.spool.write("\n\n" + _wrap(note.prefix + note.text, self.options.width, hanging))
        self.note_count += 1

    def close(self) -> None:
        if self.root is None:
            raise InputError(f"{self.shown}: no root element")
        self.render.main.flush()
        self.committed = True
        if self.citation is None:
            self.citation = []
        self.drain()
        self.flush()
        for left in self.render.held.values():  # a division shown inline: after the text
            for label, sink in left:
                self.spool_note(label, sink)
        if self.note_count:
            self.block("Notes", 0)
            self.spool.seek(0)
            while piece := self.spool.read(CHUNK):
                self.out.write(piece)
        self.out.write("\n")
