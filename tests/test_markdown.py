"""Markdown: rendered by a real CommonMark parser (markdown-it-py with the footnote
plugin, tables and strikethrough on, as GFM has them), the output must show every word
of the text output, resolve its footnotes, and keep hostile input as text."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree, html

from teikit.convert.markdown import MarkdownOptions, escape_text, to_markdown
from teikit.convert.rules import RenderRules
from teikit.convert.text import TextOptions, to_text
from teikit.document import TeiDocument
from teikit.loading import load

from conftest import FIXTURES, LETTER

CONVERT = FIXTURES / "convert"


def _require(name: str) -> ModuleType:
    """Skip without an optional test dependency, but fail in CI where it must be there."""
    try:
        module: ModuleType = pytest.importorskip(name)
        return module
    except pytest.skip.Exception:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is needed by these tests (and CI=true)")
        raise


def _doc(path: Path) -> TeiDocument:
    loaded = load(path)
    assert loaded.document is not None, loaded.diagnostics
    return TeiDocument(loaded.document)


def _render(markdown: str) -> html.HtmlElement:
    """Markdown -> HTML with a real CommonMark parser, parsed back for inspection."""
    markdown_it = _require("markdown_it")
    footnote = _require("mdit_py_plugins.footnote")
    md = (
        markdown_it.MarkdownIt("commonmark")
        .use(footnote.footnote_plugin)
        .enable(["table", "strikethrough"])
    )
    rendered = md.render(markdown)
    assert isinstance(rendered, str)
    return html.fragment_fromstring(rendered, create_parent="div")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(word in it for word in needle)


def _main_blocks(root: html.HtmlElement) -> list[str]:
    """Visible text of the headings and paragraphs outside the footnotes section."""
    return [
        " ".join(el.text_content().split())
        for el in root.iter("h1", "h2", "h3", "p")
        if not any(a.get("class") == "footnotes" for a in el.iterancestors())
    ]


def test_letter_footnotes_resolve() -> None:
    root = _render(to_markdown(_doc(LETTER)))
    refs = root.xpath("//sup[@class='footnote-ref']/a")
    items = root.xpath("//li[@class='footnote-item']")
    assert len(refs) == len(items) == 4
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for ref in refs:
        assert ref.get("href", "")[1:] in ids
    first = " ".join(items[0].text_content().split())
    assert first.startswith("Source: Washington National Records Center")
    assert "Document 55" in items[1].text_content()


def test_letter_every_word_of_the_text_output_appears() -> None:
    doc = _doc(LETTER)
    text = to_text(doc, TextOptions(width=0))
    # The text output's own apparatus: the "Notes" heading and the [n] markers.
    text = re.sub(r"\[\d+\]", " ", text.replace("\n\nNotes\n\n", "\n\n"))
    root = _render(to_markdown(doc))
    for sup in root.xpath("//sup[@class='footnote-ref'] | //a[@class='footnote-backref']"):
        sup.drop_tree()
    expected, shown = _words(text), _words(root.text_content())
    assert len(expected) > 800
    assert _is_subsequence(expected, shown)
    assert len(shown) == len(expected)


def test_letter_heading_paragraphs_and_page_comments() -> None:
    markdown = to_markdown(_doc(LETTER))
    assert markdown.startswith("# 62. Letter From Secretary of State Rusk")
    assert "to <!-- page 128 --> review" in markdown
    assert "\n\n<!-- page 129 -->\n\n" in markdown
    root = _render(markdown)
    assert root[0].tag == "h1"
    assert [el.text for el in root.iter("p")][:2] == [
        "Washington, September 25, 1965.",
        "Dear Bob:",
    ]
    plain = to_markdown(_doc(LETTER), MarkdownOptions(pages="none"))
    assert "<!--" not in plain
    assert "to review" in plain


def test_notes_can_be_omitted() -> None:
    markdown = to_markdown(_doc(LETTER), MarkdownOptions(notes="omit"))
    assert "[^" not in markdown
    assert "Source:" not in markdown
    assert not _render(markdown).xpath("//section")


def test_structures_become_markdown_structures() -> None:
    markdown = to_markdown(_doc(CONVERT / "structures.xml"))
    root = _render(markdown)
    assert [h.tag for h in root.iter("h1", "h2")] == ["h1", "h2"]
    ul = root.find("ul")
    assert ul is not None and [(li.text or "").strip() for li in ul.findall("li")] == [
        "First item",
        "Second item with a nested list",
    ]
    assert [li.text for li in ul.findall("li/ol/li")] == ["one", "two"]
    assert "\n- First item\n- Second" in markdown  # a tight list
    quote = root.find("blockquote")
    assert quote is not None and [p.text for p in quote.findall("p")] == [
        "Quoted paragraph one.",
        "Quoted paragraph two.",
    ]
    assert [e.text for e in root.iter("em")] == ["italic words", "emphasis"]
    assert [e.text for e in root.iter("strong")] == ["bold words"]
    links = {a.get("href"): a.text for a in root.iter("a") if a.get("class") is None}
    assert links["https://example.org/"] == "link"
    assert links["mailto:editor@example.org"] == "mailto:editor@example.org"
    verse = [p for p in root.iter("p") if p.find("br") is not None]
    assert len(verse) == 1 and "second line of verse." in verse[0].text_content()
    # A note of several blocks, with a note of its own.
    items = root.xpath("//li[@class='footnote-item']")
    assert len(items) == 2
    assert [p.text for p in items[0].findall("p")][:2] == [
        "A note with two paragraphs? No: inline text first,",
        "then a paragraph,",
    ]
    assert items[0].find("ul/li").text == "a listed point"
    assert items[0].xpath(".//sup[@class='footnote-ref']/a/@href") == ["#fn2"]
    assert "The inner note." in items[1].text_content()
    assert "<!-- page 7 -->" in markdown


def test_hostile_input_stays_text() -> None:
    doc = _doc(CONVERT / "hostile.xml")
    root = _render(to_markdown(doc))
    allowed = {"div", "h1", "p", "em", "a", "sup", "hr", "section", "ol", "li"}
    tags = {el.tag for el in root.iter() if isinstance(el.tag, str)}
    assert tags <= allowed, tags - allowed
    # Emphasis only where the TEI has it; links only to the safe target and the notes.
    assert [" ".join(e.text_content().split()) for e in root.iter("em")] == [
        "*starred* word",
        "spaced",
    ]
    hrefs = [a.get("href", "") for a in root.iter("a")]
    assert [h for h in hrefs if not h.startswith("#fn")] == ["https://example.org/a_(b)?q=1&r=*"]
    for el in root.iter():
        for name, value in el.attrib.items():
            assert not name.startswith("on"), (el.tag, name)
            assert "javascript" not in value.lower()
    # Each heading and paragraph shows exactly what the text output shows.
    text = to_text(doc, TextOptions(width=0))
    expected = text.split("\n\nNotes\n\n")[0].split("\n\n")
    # Markdown numbers its notes itself; the text output shows the hostile @n.
    assert expected[-1] == "A note[x]: y]."
    expected[-1] = "A note[1]."
    assert _main_blocks(root) == expected
    note = root.xpath("//li[@class='footnote-item']")[0]
    assert note.text_content().startswith("with *stars* and [brackets] and <b>tags</b>")
    comments = [c.text for c in root.iter(etree.Comment)]
    assert comments == [" page 2––script "]


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("*a* _b_", "\\*a\\* \\_b\\_"),
        ("[x](y)", "\\[x\\](y)"),
        ("a|b~c`d", "a\\|b\\~c\\`d"),
        ("<b> #1", "\\<b> \\#1"),
        ("back\\slash", "back\\\\slash"),
        ("&amp; &#42; & x", "\\&amp; \\&\\#42; & x"),
    ],
)
def test_escape_text(text: str, escaped: str) -> None:
    assert escape_text(text) == escaped


def test_diplomatic_reading_and_render_rules() -> None:
    doc = _doc(LETTER)
    edited, diplomatic = to_markdown(doc), to_markdown(doc, MarkdownOptions(diplomatic=True))
    assert "Office of the Secretary of Defense/" in edited and "OSD/OASD/ISA" not in edited
    assert "OSD/OASD/ISA Files" in diplomatic
    rules = RenderRules.from_mapping(
        {
            "note[@type='source']": {"display": "omit"},
            "date": {"before": "<", "after": ">"},
        }
    )
    ruled = to_markdown(doc, MarkdownOptions(rules=rules))
    assert "Source:" not in ruled and ruled.count("\n[^") == 3
    assert "Washington, \\<September 25, 1965>." in ruled  # rule text is text: escaped


def test_cells_and_input_outside_tei_p5_keep_words_apart(tmp_path: Path) -> None:
    f = tmp_path / "p4.xml"
    f.write_text(
        "<TEI.2><teiHeader><title>HEADER</title></teiHeader><text><body><div><head>Title</head>"
        "<p>one<lb/>two<pb n='2'/>three<note>four</note></p><list><item>five</item></list>"
        "<table><row><cell>seven</cell><cell>a|b</cell></row></table>"
        '<p>c<br xmlns="http://www.w3.org/1999/xhtml"/>d</p></div></body></text></TEI.2>',
        "utf-8",
    )
    out = to_markdown(_doc(f))
    assert out == (
        "# Title\n\none two <!-- page 2 --> three[^1]\n\n- five\n\nseven \\| a\\|b\n\nc d\n\n"
        "[^1]: four\n"
    )
    # The cell separator is text, not a GFM table.
    assert "seven | a|b" in [p.text_content() for p in _render(out).iter("p")]


def test_a_pointer_stands_apart_from_the_next_word(tmp_path: Path) -> None:
    """<ptr target="https://..."/>the origins gave '<https://...>the origins': glued."""
    f = tmp_path / "ptr.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>See '
        '<ptr target="https://example.org/a"/>the origins.</p></body></text></TEI>'
    )
    assert "<https://example.org/a> the origins." in to_markdown(_doc(f))
