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
from pathlib import Path

import pytest
from lxml import etree

from teikit import TeiDocument, TextOptions
from teikit.convert import to_html, to_json, to_markdown, to_text
from teikit.loading import load
from teikit.xmlutil import TEI_NS

from conftest import shared_path
from wordcount import UNMARKED, html_text, lost_words, source_words


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
        lost = lost_words(source_words(doc, diplomatic), text)
        assert not lost, f"diplomatic={diplomatic}: {sorted(lost.items())[:10]}"
    html = etree.HTML(to_html(doc).encode())
    main = html.find(".//main")
    assert main is not None
    lost = lost_words(source_words(doc, diplomatic=True), html_text(main))
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
        lost = lost_words(expected, output)
        assert not lost, f"{name}: {sorted(lost.items())[:10]}"
