"""Nothing lost, on real files: every word of every TEI file's text survives conversion.

A word of the source is a run of word characters in the TEI ``text`` element, where
block elements, notes, table cells and line/page/column breaks (unless ``break="no"``)
separate words and inline elements do not ("150<hi>th</hi>" is one word). The same holds
for the files that are not TEI P5 (XHTML and other XML): their blocks, breaks and cells
separate words too. What an option drops by
design is left out of the count: ``del`` and the unchosen side of ``choice``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from teikit import TeiDocument, TextOptions
from teikit.convert import to_html, to_json, to_markdown, to_text
from teikit.convert.blocks import CELLS, LINE_BREAKS, NOTES, PAGE_BREAKS, is_block
from teikit.convert.rules import RenderRules
from teikit.convert.text import body_of, skip_unread
from teikit.convert.walk import walk
from teikit.loading import load
from teikit.xmlutil import TEI_NS, tei

from conftest import shared_path

WORD = re.compile(r"\w+")
BREAKS = LINE_BREAKS | PAGE_BREAKS | {tei("gap")}
#: The editorial marks (⟦del⟧, [supplied], unclear[?]) may sit inside a word; they are
#: documented additions, so the count is taken with empty rules in their place.
UNMARKED = RenderRules.from_mapping({"del": {}, "supplied": {}, "unclear": {}})


def corpus_files(tei_p5: bool) -> list[Path]:
    """The files of the shared corpus whose root is (or is not) a TEI element."""
    try:
        root = shared_path("corpus")
    except pytest.skip.Exception:
        return []
    found = []
    for path in sorted(root.rglob("*.xml")):
        loaded = load(path)
        if loaded.document is not None and tei_p5 == str(loaded.document.root.tag).startswith(
            f"{{{TEI_NS}}}"
        ):
            found.append(path)
    return found


FILES = corpus_files(tei_p5=True)
OTHER_FILES = corpus_files(tei_p5=False)


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


def _lost(expected: Counter[str], output: str) -> dict[str, int]:
    got = Counter(WORD.findall(output))
    return {w: n - got[w] for w, n in expected.items() if got[w] < n}


def test_corpus_is_there() -> None:
    shared_path("corpus")
    assert len(FILES) > 170


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_word_lost(path: Path) -> None:
    loaded = load(path)
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    for diplomatic in (False, True):
        text = to_text(doc, TextOptions(width=0, diplomatic=diplomatic, rules=UNMARKED))
        lost = _lost(source_words(doc, diplomatic), text)
        assert not lost, f"diplomatic={diplomatic}: {sorted(lost.items())[:10]}"
    html = etree.HTML(to_html(doc).encode())
    main = html.find(".//main")
    assert main is not None
    lost = _lost(source_words(doc, diplomatic=True), html_text(main))
    assert not lost, f"html: {sorted(lost.items())[:10]}"
    # Every in-page link leads somewhere (the converter checks only the links made from
    # the source's pointers, trusting the page's own: this checks them all).
    ids = html.xpath("//@id")
    assert len(ids) == len(set(ids))
    targets = {str(h)[1:] for h in html.xpath("//a/@href") if str(h).startswith("#")}
    assert targets <= set(ids), sorted(targets - set(ids))[:10]


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: p.name)
def test_no_word_glued_outside_tei_p5(path: Path) -> None:
    """XHTML blocks and line breaks inside other XML keep words apart in every format."""
    loaded = load(path)
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    expected = source_words(doc, diplomatic=False)
    for name, output in (
        ("text", to_text(doc, TextOptions(width=0))),
        ("markdown", to_markdown(doc)),
        ("json", json.loads(to_json(doc))["text"]),
    ):
        lost = _lost(expected, output)
        assert not lost, f"{name}: {sorted(lost.items())[:10]}"
