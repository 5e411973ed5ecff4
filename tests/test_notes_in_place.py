"""Notes their encoder left in the text (``place="inline"``, or FRUS's ``rend="inline"``)
stay where they stand in every format: not numbered, not collected after the text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import pytest

from teikit import HtmlOptions, TeiDocument, TextOptions
from teikit.convert import to_html, to_json, to_markdown, to_text
from teikit.convert.jsonout import JsonOptions
from teikit.loading import load, parse_bytes

from conftest import shared_path, streamed

DOC = """<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><fileDesc><titleStmt>
<title>Notes in place</title></titleStmt><publicationStmt><p>x</p></publicationStmt>
<sourceDesc><p>x</p></sourceDesc></fileDesc></teiHeader><text><body>
<div type="document">
  <head>1. Letter</head>
  <opener><dateline>Washington, <date when="1964-01-10">January 10, 1964</date>.</dateline>
  </opener>
  <note rend="inline" type="source">[Source: Department of State files. Secret.
     2 pages not declassified.]</note>
</div>
<div type="document">
  <head>2. Memorandum<note n="1" type="source">Source: Johnson Library.</note></head>
  <p>He wrote<note place="inline">in pencil</note> that all was well.<note>A footnote.</note></p>
</div>
</body></text></TEI>"""

SOURCE = "[Source: Department of State files. Secret. 2 pages not declassified.]"


@pytest.fixture()
def doc(tmp_path: Path) -> TeiDocument:
    path = tmp_path / "notes.xml"
    path.write_text(DOC, "utf-8")
    loaded = parse_bytes(DOC.encode(), path)
    assert loaded.document is not None
    return TeiDocument(loaded.document)


def test_text_keeps_them_in_place_and_numbers_only_the_others(doc: TeiDocument) -> None:
    assert to_text(doc, TextOptions(width=0)) == (
        "1. Letter\n\nWashington, January 10, 1964.\n\n"
        f"{SOURCE}\n\n"  # between blocks: a paragraph of its own
        "2. Memorandum[1]\n\n"
        "He wrote [in pencil] that all was well.[2]\n\n"  # in running text: set apart
        "Notes\n\n[1] Source: Johnson Library.\n\n[2] A footnote.\n"
    )


def test_inline_notes_mode_leaves_them_unnumbered(doc: TeiDocument) -> None:
    out = to_text(doc, TextOptions(width=0, notes="inline"))
    assert f"\n\n{SOURCE}\n\n" in out
    assert "He wrote [in pencil] that all was well. [2: A footnote.]" in out


def test_omitting_notes_omits_these_too(doc: TeiDocument) -> None:
    out = to_text(doc, TextOptions(width=0, notes="omit"))
    assert "Source" not in out and "pencil" not in out
    assert "He wrote that all was well." in out


def test_streaming_text_agrees(doc: TeiDocument, tmp_path: Path) -> None:
    path = tmp_path / "notes.xml"
    for mode in ("end", "inline", "omit"):
        options = TextOptions(notes=mode)
        assert streamed(path, options) == to_text(doc, options)


def test_html_renders_them_where_they_stand(doc: TeiDocument) -> None:
    page = lxml.html.fromstring(to_html(doc, HtmlOptions(fragment=True)))
    block = page.xpath("//section[1]/div[contains(concat(' ', @class, ' '), ' note ')]")
    assert [" ".join(b.text_content().split()) for b in block] == [SOURCE]
    assert block[0].getprevious().get("class") == "opener"  # where the source has it
    phrase = page.xpath("//p[@class='p']/span[@class='note']")
    assert [s.text_content() for s in phrase] == [" [in pencil]"]
    endnotes = page.xpath("//section[@id='tk-notes']//li")
    assert [li.get("value") for li in endnotes] == ["1", "2"]
    assert "Source: Department" not in endnotes[0].text_content()
    assert len(page.xpath("//a[@role='doc-noteref']")) == 2


def test_markdown_keeps_them_out_of_the_footnotes(doc: TeiDocument) -> None:
    out = to_markdown(doc)
    assert "\n\n\\[Source: Department of State files." in out
    assert "He wrote \\[in pencil\\] that all was well.[^2]" in out
    assert re.findall(r"^\[\^\d+\]:", out, re.MULTILINE) == ["[^1]:", "[^2]:"]


def test_json_counts_them_as_blocks_of_the_text(doc: TeiDocument) -> None:
    data = json.loads(to_json(doc, JsonOptions()))
    placed = [b for b in data["blocks"] if b["type"] == "note"]
    assert [data["text"][b["start"] : b["end"]] for b in placed] == [SOURCE]
    assert [n["n"] for n in data["notes"]] == ["1", None]
    text = data["text"]
    assert all("Source: Department" not in text[n["start"] : n["end"]] for n in data["notes"])


# -- the publisher's volume ----------------------------------------------------------------


def _volume() -> TeiDocument:
    loaded = load(shared_path("corpus", "frus", "frus1964-68v29p2.xml"))
    assert loaded.document is not None
    return TeiDocument(loaded.document)


def test_the_volumes_source_notes_follow_their_datelines() -> None:
    doc = _volume()
    placed = doc.root.xpath(
        "//t:text//t:note[@rend='inline']", namespaces={"t": "http://www.tei-c.org/ns/1.0"}
    )
    assert len(placed) == 17
    out = to_text(doc, TextOptions(width=0))
    paragraphs = out.split("\n\n")
    at = paragraphs.index("Washington, January 10, 1964.")
    assert paragraphs[at + 1] == (
        "[Source: Department of State, INR/IL Historical Files, East Asia Country Files, "
        "Japan, 1964. Secret; Official–Informal; Roger Channel. 2 pages of source text not "
        "declassified.]"
    )
    # Before, each left a lone marker ("[13]") in the text and its words among the notes.
    assert not [p for p in paragraphs if re.fullmatch(r"\[\d+\]", p)]
    assert len([p for p in paragraphs if p.startswith("[Source: ")]) == 17
    assert not [p for p in paragraphs if re.match(r"\[\d+\] \[Source: ", p)]  # numbered
    page = lxml.html.fromstring(to_html(doc))
    in_text = page.xpath("//div[@id='tk-text']//div[contains(concat(' ', @class, ' '), ' note ')]")
    assert len(in_text) == 17
    assert all("not declassified" in d.text_content() for d in in_text)
