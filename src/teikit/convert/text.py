"""Plain text for reading and for NLP: wrapped paragraphs, notes as numbered footnotes."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from teikit.convert.blocks import is_block
from teikit.convert.walk import walk
from teikit.document import TeiDocument, normalise_space
from teikit.xmlutil import tei

NotesMode = Literal["end", "inline", "omit"]

NOTE = tei("note")
CHOICE = tei("choice")
#: Inside <choice>, the reading a text converter shows first (the source's own form).
SOURCE_FORMS = (tei("abbr"), tei("orig"), tei("sic"))
EDITED_FORMS = (tei("expan"), tei("reg"), tei("corr"))


@dataclass(frozen=True, slots=True)
class TextOptions:
    """How to render; the defaults suit reading the letter in a terminal."""

    width: int = 72
    notes: NotesMode = "end"
    pages: bool = False
    #: ``source`` shows abbr/orig/sic inside <choice>; ``edited`` shows expan/reg/corr.
    choice: Literal["source", "edited"] = "source"


@dataclass(slots=True)
class _Sink:
    """Blocks of one flow (the main text or one note) and the paragraph being built."""

    #: (prefix, text): list items keep their "- " apart so wrapped lines hang under it.
    blocks: list[tuple[str, str]] = field(default_factory=list)
    line: list[str] = field(default_factory=list)
    prefix: str = ""

    def flush(self) -> None:
        text = normalise_space("".join(self.line))
        if text:
            self.blocks.append((self.prefix, text))
        self.line.clear()
        self.prefix = ""


def skip_for_choice(el: etree._Element, choice: str) -> bool:
    """Inside <choice>, drop the alternatives the chosen reading does not show."""
    parent = el.getparent()
    if parent is None or parent.tag != CHOICE:
        return False
    unwanted = EDITED_FORMS if choice == "source" else SOURCE_FORMS
    if el.tag not in unwanted:
        return False
    # Only drop an alternative when its counterpart is there to be read instead.
    wanted = SOURCE_FORMS if choice == "source" else EDITED_FORMS
    return any(c.tag in wanted for c in parent)


def body_of(doc: TeiDocument) -> etree._Element:
    """The element whose content is the text proper: ``text``, or the root itself."""
    text = doc.root.find(tei("text"))
    return text if text is not None else doc.root


def to_text(doc: TeiDocument, options: TextOptions = TextOptions()) -> str:
    """Render the document's ``text`` as plain text; every word of it appears once."""
    main = _Sink()
    stack: list[_Sink] = [main]
    notes: list[tuple[str, _Sink]] = []
    counter = 0

    def skip(el: etree._Element) -> bool:
        if el.tag == tei("del"):
            return True
        if el.tag == NOTE and options.notes == "omit":
            return True
        return skip_for_choice(el, options.choice)

    for ev in walk(body_of(doc), skip):
        sink = stack[-1]
        el = ev.node
        if ev.kind == "text":
            sink.line.append(ev.text)
            continue
        tag = el.tag
        if tag == NOTE and options.notes != "omit":
            if ev.kind == "start":
                counter += 1
                label = el.get("n") or str(counter)
                if options.notes == "inline":
                    sink.line.append(f" [{label}: ")
                else:
                    sink.line.append(f"[{label}]")
                    note_sink = _Sink()
                    notes.append((label, note_sink))
                    stack.append(note_sink)
            elif options.notes == "inline":
                sink.line.append("] ")
            else:
                stack.pop().flush()
            continue
        parent = el.getparent()
        if is_block(tag, parent.tag if parent is not None else None):
            sink.flush()
            if ev.kind == "start" and tag == tei("item"):
                sink.prefix = "- "
            continue
        if ev.kind == "start":
            sink.line.append(_inline_start(el, options))
        else:
            sink.line.append(_inline_end(el))
    main.flush()

    out = [_wrap(prefix + text, options.width, len(prefix)) for prefix, text in main.blocks]
    if notes:
        out.append("Notes")
        for label, note_sink in notes:
            text = " ".join(prefix + text for prefix, text in note_sink.blocks)
            out.append(_wrap(f"[{label}] {text}", options.width, hanging=len(label) + 3))
    return "\n\n".join(out) + "\n"


def _inline_start(el: etree._Element, options: TextOptions) -> str:
    tag = el.tag
    if tag == tei("pb"):
        if not options.pages:
            return "" if el.get("break") == "no" else " "
        label = el.get("n")
        marker = f"[Page {label}]" if label else "[Page]"
        return marker if el.get("break") == "no" else f" {marker} "
    if tag in (tei("lb"), tei("cb")):
        return "" if el.get("break") == "no" else " "
    if tag == tei("gap"):
        return " […] "
    if tag == tei("supplied"):
        return "["
    return ""


def _inline_end(el: etree._Element) -> str:
    if el.tag == tei("supplied"):
        return "]"
    return ""


def _wrap(text: str, width: int, hanging: int = 0) -> str:
    if width <= 0:
        return text
    return textwrap.fill(
        text,
        width=width,
        subsequent_indent=" " * hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )
