"""Notes numbered anew in each division (each FRUS document, each chapter of the FRUS
history) follow their division; notes numbered once through the text follow the text."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import lxml.html
import pytest

from teikit import TeiDocument, TextOptions
from teikit.convert import to_html, to_json, to_text
from teikit.convert.jsonout import JsonOptions
from teikit.convert.notes import note_places, restart_level
from teikit.convert.rules import RenderRules
from teikit.convert.text import body_of
from teikit.loading import load, parse_bytes

from conftest import shared_path, streamed

HEAD = """<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><fileDesc><titleStmt>
<title>Volume</title></titleStmt><publicationStmt><p>x</p></publicationStmt>
<sourceDesc><p>x</p></sourceDesc></fileDesc></teiHeader><text><body>"""

VOLUME = (
    HEAD
    + """<div type="chapter"><head>Japan<note n="1">On the chapter.</note></head>
  <div type="document"><head>1. Letter<note n="1" type="source">Source: A.</note></head>
    <p>First<note n="2">Second note of one.</note> letter.</p></div>
  <div type="document"><head>2. Telegram<note n="1" type="source">Source: B.</note></head>
    <p>Second telegram.</p></div>
</div>
<div type="chapter"><head>Okinawa</head>
  <div type="document"><head>3. Memo<note n="1">Source: C.</note></head><p>Third.</p></div>
</div>
</body></text></TEI>"""
)

EXPECTED = """Japan[1]

1. Letter[1]

First[2] letter.

Notes

[1] Source: A.

[2] Second note of one.

2. Telegram[1]

Second telegram.

Notes

[1] Source: B.

Notes

[1] On the chapter.

Okinawa

3. Memo[1]

Third.

Notes

[1] Source: C.
"""


def _doc(tmp_path: Path, xml: str) -> tuple[TeiDocument, Path]:
    path = tmp_path / "volume.xml"
    path.write_text(xml, "utf-8")
    loaded = parse_bytes(xml.encode(), path)
    assert loaded.document is not None
    return TeiDocument(loaded.document), path


def test_each_division_is_followed_by_its_own_notes(tmp_path: Path) -> None:
    doc, path = _doc(tmp_path, VOLUME)
    options = TextOptions(width=0)
    # The chapter's own note follows the chapter, after its documents.
    assert to_text(doc, options) == EXPECTED
    assert streamed(path, options) == EXPECTED


def test_notes_numbered_through_the_text_still_follow_it(tmp_path: Path) -> None:
    numbers = iter(range(1, 100))
    xml = re.sub(r'<note n="\d+"', lambda _: f'<note n="{next(numbers)}"', VOLUME)
    doc, path = _doc(tmp_path, xml)
    out = to_text(doc, TextOptions(width=0))
    assert out.count("Notes") == 1
    assert out.endswith(
        "Notes\n\n[1] On the chapter.\n\n[2] Source: A.\n\n[3] Second note of one.\n\n"
        "[4] Source: B.\n\n[5] Source: C.\n"
    )
    assert streamed(path, TextOptions(width=0)) == out


@pytest.mark.parametrize("mode", ["inline", "omit"])
def test_other_note_modes_are_unchanged(tmp_path: Path, mode: str) -> None:
    doc, path = _doc(tmp_path, VOLUME)
    options = TextOptions(width=0, notes=mode)  # type: ignore[arg-type]
    out = to_text(doc, options)
    assert "Notes" not in out
    assert streamed(path, options) == out


def test_a_division_rendered_inline_leaves_its_notes_to_the_end(tmp_path: Path) -> None:
    doc, path = _doc(tmp_path, VOLUME)
    rules = RenderRules.from_mapping({"div[@type='document']": {"display": "inline"}})
    options = TextOptions(width=0, rules=rules)
    out = to_text(doc, options)
    assert out.endswith(
        "Third.\n\nNotes\n\n[1] Source: A.\n\n[2] Second note of one.\n\n[1] Source: B.\n\n"
        "[1] Source: C.\n"
    )
    assert out.count("Notes") == 2  # the chapter (a block still) has its own note after it
    assert streamed(path, options) == out


def test_restart_level() -> None:
    assert restart_level([("1", ["a"]), ("2", ["b"])]) is None  # unique: the text
    assert restart_level([("1", ["a", "x"]), ("1", ["a", "y"])]) == 2
    assert restart_level([("1", ["a"]), ("1", ["b"]), (None, ["b"])]) == 1
    assert restart_level([("1", ["a", "x"]), ("1", ["a", "x"])]) is None  # no depth helps
    assert restart_level([("1", []), ("1", [])]) is None


def test_json_offsets_follow_the_notes(tmp_path: Path) -> None:
    doc, _ = _doc(tmp_path, VOLUME)
    data = json.loads(to_json(doc, JsonOptions()))
    text = data["text"]
    assert text == to_text(doc, TextOptions(width=0))
    got = [(n["n"], text[n["start"] : n["end"]]) for n in data["notes"]]
    assert got == [
        ("1", "On the chapter."),
        ("1", "Source: A."),
        ("2", "Second note of one."),
        ("1", "Source: B."),
        ("1", "Source: C."),
    ]
    # Each document's notes lie between it and the next document.
    starts = {text[b["start"] : b["end"]].split("\n")[0]: b["start"] for b in data["blocks"]}
    assert starts["1. Letter[1]"] < data["notes"][1]["start"] < starts["2. Telegram[1]"]


# -- the publisher's files -----------------------------------------------------------------


def _load(*parts: str) -> TeiDocument:
    loaded = load(shared_path("corpus", *parts))
    assert loaded.document is not None
    return TeiDocument(loaded.document)


def test_each_frus_document_is_followed_by_its_notes() -> None:
    doc = _load("frus", "frus1964-68v29p2.xml")
    places = note_places(body_of(doc))
    assert places is not None
    assert {d.get("type") for d in places.values()} == {"document", "section"}
    out = to_text(doc, TextOptions(width=0))
    paragraphs = out.split("\n\n")
    letter = paragraphs.index(
        "62. Letter From Secretary of State Rusk to Secretary of Defense McNamara[1]"
    )
    following = paragraphs.index("63. Editorial Note")
    ours = paragraphs[letter:following]
    notes = ours[ours.index("Notes") + 1 :]
    assert [n.split("]")[0] + "]" for n in notes] == ["[1]", "[2]", "[3]", "[4]"]
    assert notes[0].startswith("[1] Source: Washington National Records Center")
    assert out.count("\n\nNotes\n\n") == 106  # 105 documents and one section


def test_each_chapter_of_the_frus_history_is_followed_by_its_notes() -> None:
    doc = _load("frus-history", "monograph", "frus-history.xml")
    out = to_text(doc, TextOptions(width=0))
    assert out.count("\n\nNotes\n\n") == 15  # 14 chapters and one section
    for block in out.split("\n\nNotes\n\n")[1:]:
        labels = [p.split("]")[0] for p in block.split("\n\n") if p.startswith("[")]
        assert len(labels) == len(set(labels))  # no label twice under one heading


# -- HTML ------------------------------------------------------------------------------


def _headings(page: lxml.html.HtmlElement) -> list[int]:
    return [int(str(h.tag)[1]) for h in page.iter("h1", "h2", "h3", "h4", "h5", "h6")]


def test_html_places_the_notes_after_each_division(tmp_path: Path) -> None:
    doc, _ = _doc(tmp_path, VOLUME)
    page = lxml.html.fromstring(to_html(doc))
    assert page.get_element_by_id("tk-notes", None) is None  # none left for the end
    assert [a.text for a in page.xpath("//nav//a")] == ["Text"]
    documents = page.xpath("//section[contains(@class, 'document')]")
    own = [
        d.xpath("./section[@class='notes']//li/span[@class='note-label']/text()") for d in documents
    ]
    assert own == [["1. ", "2. "], ["1. "], ["1. "]]
    chapter = page.xpath("//section[contains(@class, 'chapter')]")[0]
    assert chapter[-1].get("class") == "notes"  # the chapter's note, after its documents
    assert "On the chapter." in chapter[-1].text_content()
    # Headings: the page h1, chapters h2, documents h3, a document's notes h4.
    assert _headings(page) == [1, 2, 3, 4, 3, 4, 3, 2, 3, 4]
    ids = {e.get("id") for e in page.iter() if e.get("id")}
    links = [a.get("href", "")[1:] for a in page.iter("a") if a.get("href", "").startswith("#")]
    assert links and all(target in ids for target in links)


def test_html_keeps_notes_numbered_through_the_text_at_the_end(tmp_path: Path) -> None:
    numbers = iter(range(1, 100))
    xml = re.sub(r'<note n="\d+"', lambda _: f'<note n="{next(numbers)}"', VOLUME)
    doc, _ = _doc(tmp_path, xml)
    page = lxml.html.fromstring(to_html(doc))
    sections = page.xpath("//section[@class='notes']")
    assert [s.get("id") for s in sections] == ["tk-notes"]
    assert len(sections[0].xpath(".//li")) == 5


def test_the_volume_page_has_each_documents_notes_after_it() -> None:
    doc = _load("frus", "frus1964-68v29p2.xml")
    page = lxml.html.fromstring(to_html(doc))
    assert len(page.xpath("//section[@class='notes']")) == 106
    letter = page.xpath("//section[h3[starts-with(normalize-space(.), '62. Letter')]]")[0]
    notes = letter.xpath("./section[@class='notes']//li")
    assert len(notes) == 4
    assert "Washington National Records Center" in notes[0].text_content()
    levels = _headings(page)
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels))


# -- HTML: what each document names, after it ---------------------------------------------

PERSONS = (
    "<front><div type='persons'><head>Persons</head><list>"
    '<item><persName xml:id="p_A">Acheson, Dean</persName>, Secretary of State</item>'
    '<item><persName xml:id="p_B">Bundy, William</persName>, Assistant Secretary</item>'
    '<item><term xml:id="t_X">SIG</term>, Senior Interdepartmental Group</item>'
    "</list></div></front>"
)
NAMED = (
    HEAD.replace("<text><body>", f"<text>{PERSONS}<body>")
    + """<div type="document"><head>1. Letter<note n="1">Source: A.</note></head>
  <p><persName corresp="#p_B">Bundy</persName> to <persName corresp="#p_A">Acheson</persName>
  about the <gloss target="#t_X">SIG</gloss>.</p></div>
<div type="document"><head>2. Telegram<note n="1">Source: B.</note></head>
  <p>To <persName corresp="#p_A">Acheson</persName>.</p></div>
</body></text></TEI>"""
)


def test_html_follows_each_document_with_what_it_names(tmp_path: Path) -> None:
    """As history.state.gov shows beside each document of a volume: the persons and the
    terms it names, in the order of their names, linked to the volume's lists."""
    doc, _ = _doc(tmp_path, NAMED)
    page = lxml.html.fromstring(to_html(doc))
    documents = page.xpath("//section[contains(@class, 'document')]")
    assert len(documents) == 2
    first = [
        (s.xpath("string(h3)"), [" ".join(li.text_content().split()) for li in s.iter("li")])
        for s in documents[0].xpath("./section[contains(@class, 'glossary')]")
    ]
    assert first == [
        ("Persons", ["Acheson, Dean, Secretary of State", "Bundy, William, Assistant Secretary"]),
        ("Abbreviations and terms", ["SIG, Senior Interdepartmental Group"]),
    ]
    second = documents[1].xpath("./section[contains(@class, 'glossary')]//a/@href")
    assert second == ["#p_A"]
    # The notes first, then the glossaries, at the level below the document's heading.
    assert [s.get("class") for s in documents[0].xpath("./section")] == [
        "notes",
        "glossary glossary-person",
        "glossary glossary-term",
    ]
    ids = {e.get("id") for e in page.iter() if e.get("id")}
    assert {"p_A", "p_B", "t_X"} <= ids
    assert all(b <= a + 1 for a, b in itertools.pairwise(_headings(page)))


def test_no_glossaries_where_notes_follow_the_text(tmp_path: Path) -> None:
    numbers = iter(range(1, 100))
    xml = re.sub(r'<note n="\d+"', lambda _: f'<note n="{next(numbers)}"', NAMED)
    doc, _ = _doc(tmp_path, xml)
    assert not lxml.html.fromstring(to_html(doc)).xpath("//section[contains(@class, 'glossary')]")


def test_the_volumes_letter_is_followed_by_the_persons_it_names() -> None:
    page = lxml.html.fromstring(to_html(_load("frus", "frus1964-68v29p2.xml")))
    letter = page.xpath("//section[h3[starts-with(normalize-space(.), '62. Letter')]]")[0]
    persons = letter.xpath("./section[contains(@class, 'glossary-person')]//li/a/text()")
    assert {"Rusk, Dean", "McNamara, Robert S.", "Bundy, William P."} <= set(persons)
    terms = letter.xpath("./section[contains(@class, 'glossary-term')]//li/a/text()")
    assert "SIG" in terms
