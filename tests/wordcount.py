"""Counting words: what a converter's output must hold of the source, shared by the
corpus tests and the HTML fuzz test.

A word of the source is a run of word characters in the TEI ``text`` element, where
block elements, notes, table cells and line/page/column breaks (unless ``break="no"``)
separate words and inline elements do not ("150<hi>th</hi>" is one word). What the
reading drops by design is left out: ``del`` (edited reading) and the unchosen side of
``choice``.
"""

from __future__ import annotations

import re
from collections import Counter

from lxml import etree

from teikit import TeiDocument
from teikit.convert.blocks import CELLS, LINE_BREAKS, NOTES, PAGE_BREAKS, is_block
from teikit.convert.rules import RenderRules
from teikit.convert.text import body_of, skip_unread
from teikit.convert.walk import walk
from teikit.xmlutil import tei

WORD = re.compile(r"\w+")
BREAKS = LINE_BREAKS | PAGE_BREAKS | {tei("gap")}
#: The editorial marks (⟦del⟧, [supplied], unclear[?]) may sit inside a word; they are
#: documented additions, so the count is taken with empty rules in their place.
UNMARKED = RenderRules.from_mapping({"del": {}, "supplied": {}, "unclear": {}})


def source_words(doc: TeiDocument, diplomatic: bool) -> Counter[str]:
    choice = "source" if diplomatic else "edited"

    def skip(el: etree._Element) -> bool:
        if el.tag == tei("del") and not diplomatic:
            return True
        return skip_unread(el, choice)

    parts: list[str] = []
    for kind, el, text in walk(body_of(doc), skip):
        if kind == "text":
            parts.append(text)
            continue
        parent = el.getparent()
        if (
            el.tag in NOTES
            or el.tag in CELLS
            or (el.tag in BREAKS and el.get("break") != "no")
            or is_block(el.tag, parent.tag if parent is not None else None)
        ):
            parts.append(" ")
    return Counter(WORD.findall("".join(parts)))


HTML_BLOCKS = set(
    "p div li ol ul dl dt dd h1 h2 h3 h4 h5 h6 section article aside blockquote br sup "
    "table tr td th header footer nav main".split()
)


def html_text(root: etree._Element) -> str:
    """Text of an HTML tree, with a space wherever a block element starts or ends."""
    parts: list[str] = []
    for kind, el, text in walk(root):
        if kind == "text":
            parts.append(text)
        elif el.tag in HTML_BLOCKS:
            parts.append(" ")
    return "".join(parts)


def lost_words(expected: Counter[str], output: str) -> dict[str, int]:
    got = Counter(WORD.findall(output))
    return {w: n - got[w] for w, n in expected.items() if got[w] < n}
