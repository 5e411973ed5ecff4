"""CommonMark with GFM footnotes, for wikis, static sites and note-taking tools.

The same event walk and block/inline split as the text and HTML converters. Every
character that comes from the input is escaped where Markdown would read it as syntax,
so the text renders as it is: ``*``, ``_``, ``[``, ``]``, backticks, ``|``, ``~``, ``#``,
``<`` and backslashes everywhere; list, quote and heading markers at a line start;
``&`` where it would start an entity. Markup teikit writes itself (emphasis, links,
footnote markers, page comments) is the only Markdown syntax in the output, and links
are made only to http(s) and mailto targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from teikit.convert.blocks import (
    CELL_SEPARATOR,
    CELLS,
    CONTAINERS,
    ITEMS,
    LINE_BREAKS,
    NOTES,
    PAGE_BREAKS,
    all_forms,
    in_place,
    is_block_in_place,
)
from teikit.convert.html import safe_url
from teikit.convert.rules import RenderRules, Rule
from teikit.convert.text import body_of, omission
from teikit.convert.walk import walk
from teikit.document import TeiDocument
from teikit.errors import one_of
from teikit.xmlutil import tei


@dataclass(frozen=True, slots=True)
class MarkdownOptions:
    """How to render Markdown; the defaults keep every word and mark the pages invisibly."""

    #: ``footnotes``: ``[^n]`` markers and definitions after the text; ``omit``: no notes.
    notes: Literal["footnotes", "omit"] = "footnotes"
    #: ``comment``: ``<!-- page 128 -->`` where a page begins; ``none``: nothing.
    pages: Literal["comment", "none"] = "comment"
    #: Show the source as written (abbr/orig/sic, deletions as ⟦…⟧) instead of the
    #: edited reading (expan/reg/corr, deletions left out), as the text converter does.
    diplomatic: bool = False
    rules: RenderRules = field(default_factory=RenderRules)

    def __post_init__(self) -> None:
        one_of("notes", self.notes, ("footnotes", "omit"))
        one_of("pages", self.pages, ("comment", "none"))


# -- escaping --------------------------------------------------------------------------

#: Characters that are Markdown syntax wherever they stand, and ``&`` where it would
#: start an entity or character reference.
_SYNTAX = re.compile(r"[\\`*_\[\]<#|~]|&(?=#?[A-Za-z0-9]+;)")
#: What a line may not start with: list items (``-``, ``+``, ``1.``, ``1)``), block
#: quotes, setext underlines.
_LINE_START = re.compile(r"^(?:([-+=>])|(\d{1,9})([.)]))")


def escape_text(text: str) -> str:
    """Escape ``text`` for the middle of a Markdown line (line starts: :func:`_guard`)."""
    return _SYNTAX.sub(r"\\\g<0>", text)


def _guard(line: str) -> str:
    """Escape what would start a block at the beginning of a line."""
    m = _LINE_START.match(line)
    if m is None:
        return line
    if m.group(1):
        return "\\" + line
    return f"{m.group(2)}\\{line[m.end(2) :]}"


_UNSAFE_COMMENT = re.compile(r"[^\w.:/ –]+")


# -- inline pieces ---------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Raw:
    """Markup written by teikit (not escaped): emphasis, links, footnote markers, comments.

    ``open`` pieces move outside the whitespace that follows them, ``close`` pieces
    outside the whitespace before them, as emphasis in CommonMark needs.
    """

    text: str
    kind: Literal["open", "close", "atom", "comment"]
    #: For ``open``: the piece that closes it.
    partner: _Raw | None = None
    link: bool = False


_Piece = str | _Raw


def _normalise(pieces: list[_Piece]) -> list[str | _Raw]:
    """Whitespace folded as in the text converter; markup kept apart from the text."""
    out: list[str | _Raw] = []
    pending = False
    content = False  # anything but openers emitted yet?

    def space() -> None:
        nonlocal pending
        if pending and content:
            at = len(out)
            while at and _is_opener(out[at - 1]):
                at -= 1
            out.insert(at, " ")
        pending = False

    for piece in pieces:
        if isinstance(piece, _Raw):
            if piece.kind == "close":
                out.append(piece)
            elif piece.kind == "open":
                # Whitespace around it is placed before it by space().
                out.append(piece)
                continue
            else:
                space()
                out.append(piece)
            content = True
            continue
        for ch in piece:
            if ch.isspace():
                pending = True
            else:
                space()
                out.append(ch)
                content = True
    return _drop_empty_pairs(out)


def _is_opener(token: str | _Raw) -> bool:
    return isinstance(token, _Raw) and token.kind == "open"


def _markdown(tokens: list[str | _Raw]) -> str:
    """Text runs escaped, markup as it is."""
    out: list[str] = []
    run: list[str] = []
    for token in tokens:
        if isinstance(token, _Raw):
            out.append(escape_text("".join(run)))
            run.clear()
            out.append(token.text)
        else:
            run.append(token)
    out.append(escape_text("".join(run)))
    return "".join(out)


def _drop_empty_pairs(tokens: list[str | _Raw]) -> list[str | _Raw]:
    """``**`` with nothing between is not emphasis but two asterisks: remove it."""
    changed = True
    while changed:
        changed = False
        for i in range(len(tokens) - 1):
            a, b = tokens[i], tokens[i + 1]
            if isinstance(a, _Raw) and a.kind == "open" and a.partner is b:
                del tokens[i : i + 2]
                changed = True
                break
    return tokens


# -- blocks ----------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Frame:
    """A prefix every line of a block inside a list item or quote carries."""

    first: str
    rest: str
    quote: bool = False
    used: bool = False


@dataclass(eq=False, slots=True)
class _Open:
    """A block element open in a flow, with the frame or list counter it brought."""

    element: etree._Element
    kind: Literal["para", "heading", "strong", "line", "list", "other"]
    level: int = 0
    frame: _Frame | None = None
    ordered: bool = False
    count: int = 0


@dataclass(slots=True)
class _Block:
    text: str
    kind: Literal["para", "heading", "strong", "line", "comment"]
    level: int
    first: str
    rest: str
    frames: tuple[_Frame, ...]
    #: Lines of one ``lg`` are joined by hard breaks instead of blank lines.
    group: etree._Element | None = None
    #: The first block of a list item: follows the item before it without a blank
    #: line, so that lists stay tight.
    starts_item: bool = False


@dataclass(slots=True)
class _Flow:
    """The main text or one note: finished blocks and the line being built."""

    blocks: list[_Block] = field(default_factory=list)
    line: list[_Piece] = field(default_factory=list)
    stack: list[_Open] = field(default_factory=list)
    #: Emphasis and links open across a block boundary are closed and reopened there.
    inline: list[_Raw] = field(default_factory=list)
    #: Whether ``line`` holds a table cell: the next one is set apart by CELL_SEPARATOR.
    cells: bool = False

    def flush(self) -> None:
        for opener in reversed(self.inline):
            assert opener.partner is not None
            self.line.append(opener.partner)
        tokens = _normalise(self.line)
        self.line = list(self.inline)
        self.cells = False
        # A line that starts with "<!--" is raw HTML to its end: a page comment at the
        # start of a block stands on a line of its own instead.
        while tokens and isinstance(first := tokens[0], _Raw) and first.kind == "comment":
            tokens.pop(0)
            self._add(first.text, "comment", 0, None)
        if not tokens:
            return
        text = _markdown(tokens)
        top = self.stack[-1] if self.stack else None
        if top is None or top.kind not in ("heading", "strong"):
            text = _guard(text)
        if top is not None and top.kind in ("heading", "strong", "line"):
            group = top.element.getparent() if top.kind == "line" else None
            self._add(text, top.kind, top.level, group)
        else:
            self._add(text, "para", 0, None)

    def _add(self, text: str, kind: _BlockKind, level: int, group: etree._Element | None) -> None:
        frames = tuple(o.frame for o in self.stack if o.frame is not None)
        first = "".join(f.rest if f.used else f.first for f in frames)
        rest = "".join(f.rest for f in frames)
        starts_item = any(not f.used and not f.quote for f in frames)
        for f in frames:
            f.used = True
        if kind == "heading":
            text = "#" * level + " " + text
        elif kind == "strong":
            text = f"**{text}**"
        self.blocks.append(_Block(text, kind, level, first, rest, frames, group, starts_item))


_BlockKind = Literal["para", "heading", "strong", "line", "comment"]

#: TEI names, in the TEI namespace and (TEI P4, TEI without xmlns) in none.
_DIVS = all_forms(["div", *(f"div{i}" for i in range(1, 8))])
_HEADING_PARENTS = _DIVS | all_forms(["body", "front", "back", "group", "text"])
_HEADS = all_forms(["head"])
#: HTML headings (in XHTML or no namespace): bold lines, as a head outside a division.
_HTML_HEADINGS = all_forms([], [f"h{n}" for n in range(1, 7)])
_LINES = all_forms(["l"])
_LIST_TAGS = all_forms(["list"], ["ul", "ol"])
_ORDERED_LISTS = all_forms([], ["ol"])
_QUOTES = all_forms(["quote"], ["blockquote"])


def _join(blocks: list[_Block]) -> str:
    """Blocks with their prefixes, separated by blank lines that keep open quotes open."""
    out: list[str] = []
    previous: _Block | None = None
    for block in blocks:
        if previous is not None:
            if (
                block.kind == "line"
                and previous.kind == "line"
                and block.group is not None
                and block.group is previous.group
            ):
                out.append("\\\n")
            elif block.starts_item and any(not f.quote for f in previous.frames):
                out.append("\n")
            else:
                shared = set(previous.frames)  # frames compare by identity
                common = [f for f in block.frames if f in shared]
                out.append("\n" + "".join(f.rest for f in common).rstrip() + "\n")
        lines = block.text.split("\n")
        out.append(block.first + lines[0])
        out.extend("\n" + block.rest + line for line in lines[1:])
        previous = block
    return "".join(out)


# -- the walk --------------------------------------------------------------------------


def to_markdown(doc: TeiDocument, options: MarkdownOptions = MarkdownOptions()) -> str:
    """Render the document's ``text`` as CommonMark with GFM footnotes."""
    main = _Flow()
    flows: list[_Flow] = [main]
    notes: list[tuple[str, _Flow]] = []
    closers: dict[etree._Element, _Raw] = {}

    skip = omission(options.rules, options.diplomatic, options.notes == "omit")

    root = body_of(doc)
    for kind, el, text in walk(root, skip):
        flow = flows[-1]
        if kind == "text":
            flow.line.append(text)
            continue
        if el.tag in NOTES and not in_place(el):
            if kind == "start":
                label = str(len(notes) + 1)
                flow.line.append(_Raw(f"[^{label}]", "atom"))
                note = _Flow()
                notes.append((label, note))
                flows.append(note)
            else:
                flows.pop().flush()
            continue
        if el is root:
            continue
        rule = options.rules.match(el)
        parent = el.getparent()
        block = is_block_in_place(el.tag, parent.tag if parent is not None else None)
        if rule is not None and rule.display is not None:
            block = rule.display == "block"
        if block:
            _block_event(flow, el, kind == "start", rule)
        elif kind == "start":
            _inline_start(flow, el, rule, options, closers)
        else:
            _inline_end(flow, el, rule, closers)
    main.flush()

    parts = [_join(main.blocks)] if main.blocks else []
    for label, note in notes:
        body = _join(note.blocks)
        lines = body.split("\n")
        parts.append(
            f"[^{label}]:"
            + (f" {lines[0]}" if lines[0] else "")
            + "".join("\n" + ("    " + line if line else "") for line in lines[1:])
        )
    return "\n\n".join(p for p in parts if p) + "\n"


def _block_event(flow: _Flow, el: etree._Element, start: bool, rule: Rule | None) -> None:
    if not start:
        if rule is not None and rule.after:
            flow.line.append(rule.after)
        flow.flush()
        if flow.stack and flow.stack[-1].element is el:
            flow.stack.pop()
        return
    flow.flush()
    tag = el.tag
    parent = el.getparent()
    opened = _Open(el, "para")
    if tag in _HEADS:
        if parent is not None and parent.tag in _HEADING_PARENTS:
            depth = sum(1 for o in flow.stack if o.element.tag in _DIVS)
            opened.kind, opened.level = "heading", max(1, min(depth, 6))
        else:
            opened.kind = "strong"
    elif tag in _HTML_HEADINGS:
        opened.kind = "strong"
    elif tag in _LINES:
        opened.kind = "line"
    elif tag in _LIST_TAGS:
        opened.kind = "list"
        opened.ordered = tag in _ORDERED_LISTS or el.get("type") in ("ordered", "numbered")
    elif tag in ITEMS:
        lists = [o for o in flow.stack if o.kind == "list"]
        if lists:
            lists[-1].count += 1
            marker = f"{lists[-1].count}. " if lists[-1].ordered else "- "
        else:
            marker = "- "
        opened.frame = _Frame(marker, " " * len(marker))
    elif tag in _QUOTES:
        opened.frame = _Frame("> ", "> ", quote=True)
    elif tag in CONTAINERS:
        opened.kind = "other"
    flow.stack.append(opened)
    if rule is not None and rule.before:
        flow.line.append(rule.before)


_ITALIC = frozenset({"italic", "italics", "i", "it", "emph", "slanted", "oblique"})
_BOLD = frozenset({"bold", "b", "strong"})


def _inline_start(
    flow: _Flow,
    el: etree._Element,
    rule: Rule | None,
    options: MarkdownOptions,
    closers: dict[etree._Element, _Raw],
) -> None:
    if rule is not None:
        flow.line.append(rule.before)
        return
    tag = el.tag
    if tag in CELLS:
        if flow.cells:
            flow.line.append(CELL_SEPARATOR)
        flow.cells = True
        return
    if tag in PAGE_BREAKS:
        joined = el.get("break") == "no"
        if not joined:
            flow.line.append(" ")
        if options.pages == "comment":
            label = _UNSAFE_COMMENT.sub("", (el.get("n") or "").replace("-", "–")).strip()
            flow.line.append(
                _Raw(f"<!-- page {label} -->" if label else "<!-- page -->", "comment")
            )
            if not joined:
                flow.line.append(" ")
        return
    if tag in LINE_BREAKS:
        if el.get("break") != "no":
            flow.line.append(" ")
        return
    if tag == tei("gap"):
        flow.line.append(" […] ")
        return
    marks = _MARKS.get(str(tag))
    if marks is not None:
        flow.line.append(marks[0])
        return
    delimiter = ""
    if tag == tei("emph"):
        delimiter = "*"
    elif tag == tei("hi"):
        rend = set((el.get("rend") or "").lower().split())
        delimiter = ("**" if rend & _BOLD else "") + ("*" if rend & _ITALIC else "")
    if delimiter:
        _open(flow, el, _Raw(delimiter, "open"), _Raw(delimiter[::-1], "close"), closers)
        return
    # A link inside a link is not allowed: the inner one stays text.
    if tag in (tei("ref"), tei("ptr")) and not any(o.link for o in flow.inline):
        targets = (el.get("target") or "").split()
        url = safe_url(targets[0]) if targets else None
        if url is None:
            return
        if tag == tei("ptr") or not "".join(el.itertext()).strip():
            # The URL it shows stands apart from the next word, as in HTML.
            flow.line.extend((_Raw(f"<{url}>", "atom"), " "))
        else:
            close = _Raw(f"](<{url}>)", "close")
            _open(flow, el, _Raw("[", "open", link=True), close, closers)


def _open(
    flow: _Flow, el: etree._Element, opener: _Raw, closer: _Raw, closers: dict[etree._Element, _Raw]
) -> None:
    opener.partner = closer
    flow.line.append(opener)
    flow.inline.append(opener)
    closers[el] = opener


def _inline_end(
    flow: _Flow, el: etree._Element, rule: Rule | None, closers: dict[etree._Element, _Raw]
) -> None:
    if rule is not None:
        flow.line.append(rule.after)
        return
    marks = _MARKS.get(str(el.tag))
    if marks is not None:
        flow.line.append(marks[1])
        return
    opener = closers.pop(el, None)
    if opener is not None and opener in flow.inline:
        flow.inline.remove(opener)
        assert opener.partner is not None
        flow.line.append(opener.partner)


#: Editorial marks around an element's text, as in the text converter.
_MARKS = {
    tei("supplied"): ("[", "]"),
    tei("unclear"): ("", "[?]"),
    tei("del"): ("⟦", "⟧"),
    **{str(note): (" [", "] ") for note in NOTES},  # a note left in place in running text
}
