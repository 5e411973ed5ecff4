"""teikit-json: offsets into the text output, checked against the letter's own markup."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from teikit.convert.jsonout import JsonOptions, json_schema, to_json, to_json_data
from teikit.convert.rules import RenderRules
from teikit.convert.text import EDITED_FORMS, NOTE, SOURCE_FORMS, TextOptions, to_text
from teikit.document import TeiDocument, normalise_space
from teikit.loading import load
from teikit.xmlutil import tei

from conftest import FIXTURES, LETTER

CONVERT = FIXTURES / "convert"
MENTION_TAGS = (tei("persName"), tei("orgName"), tei("placeName"))


def _doc(path: Path) -> TeiDocument:
    loaded = load(path)
    assert loaded.document is not None, loaded.diagnostics
    return TeiDocument(loaded.document)


def _shown(el: etree._Element, diplomatic: bool = False) -> str:
    """A name as the text output shows it, worked out from the TEI independently."""
    hidden = EDITED_FORMS if diplomatic else SOURCE_FORMS

    def walk(node: etree._Element) -> list[str]:
        parts = [node.text or ""]
        for child in node:
            if child.tag not in (NOTE, tei("del"), *hidden):
                parts.extend(walk(child))
            parts.append(child.tail or "")
        return parts

    return normalise_space("".join(walk(el)))


def _expected_mentions(doc: TeiDocument, diplomatic: bool = False) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    text = doc.root.find(tei("text"))
    assert text is not None
    for name in text.iter(*MENTION_TAGS):
        entry = doc.entry_for(name)
        if entry is not None:
            found.setdefault(entry.id, Counter())[_shown(name, diplomatic)] += 1
    return found


@pytest.fixture(scope="module")
def letter() -> TeiDocument:
    return _doc(LETTER)


@pytest.fixture(scope="module")
def data(letter: TeiDocument) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(to_json(letter))
    return result


def test_envelope_and_text(letter: TeiDocument, data: dict[str, Any]) -> None:
    assert data["format"] == "teikit-json"
    assert data["version"] == 1
    assert data["source"].endswith("frus1964-68v29p2-d62.xml")
    assert data["options"] == {"notes": "end", "diplomatic": False}
    assert data["text"] == to_text(letter, TextOptions(width=0))


def test_validates_against_the_shipped_schema(data: dict[str, Any]) -> None:
    try:
        import jsonschema
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("jsonschema is needed by this test (and CI=true)")
        pytest.skip("jsonschema is not installed")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(data)
    for options in (JsonOptions(notes="inline"), JsonOptions(notes="omit", diplomatic=True)):
        validator.validate(json.loads(to_json(_doc(LETTER), options)))
    validator.validate(json.loads(to_json(_doc(CONVERT / "structures.xml"))))
    broken = dict(data, blocks=[{"type": "p", "start": -1, "end": 2}])
    assert not validator.is_valid(broken)


def test_every_mention_is_the_name_as_shown(letter: TeiDocument, data: dict[str, Any]) -> None:
    text = data["text"]
    got: dict[str, Counter[str]] = {}
    for entity in data["entities"]:
        for m in entity["mentions"]:
            assert text[m["start"] : m["end"]] == m["text"]
            got.setdefault(entity["id"], Counter())[m["text"]] += 1
    assert got == _expected_mentions(letter)
    assert sum(sum(c.values()) for c in got.values()) == 77


def test_every_entity_of_the_letter_with_its_mentions(
    letter: TeiDocument, data: dict[str, Any]
) -> None:
    entities = {e["id"]: e for e in data["entities"]}
    assert list(entities) == list(letter.entries)
    assert len(entities) == 28
    reischauer = entities["pers.reischauer"]
    assert reischauer["kind"] == "person"
    assert reischauer["name"] == "Edwin O. Reischauer"
    assert reischauer["description"].startswith("Ambassador to Japan;")
    assert [m["text"] for m in reischauer["mentions"]] == [
        "Reischauer",
        "Reischauer",
        "Reischauer",
        "The Ambassador",
    ]
    assert entities["place.japan"]["authority"] == ["https://www.wikidata.org/entity/Q17"]
    assert len(entities["place.japan"]["mentions"]) == 13
    # Mentions in a note point into the note's text; offsets increase.
    notes = {n["n"]: n for n in data["notes"]}
    fearey = entities["pers.fearey"]["mentions"]
    assert notes["1"]["start"] <= fearey[0]["start"] < fearey[0]["end"] <= notes["1"]["end"]
    for entity in data["entities"]:
        starts = [m["start"] for m in entity["mentions"]]
        assert starts == sorted(starts)
    # Abbreviations show their expansion in the edited reading, as written otherwise.
    assert entities["org.osd"]["mentions"][0]["text"] == "Office of the Secretary of Defense"
    source = to_json_data(letter, JsonOptions(diplomatic=True))
    osd = next(e for e in source["entities"] if e["id"] == "org.osd")
    assert osd["mentions"][0]["text"] == "OSD"
    text = source["text"]
    for entity in source["entities"]:
        for m in entity["mentions"]:
            assert text[m["start"] : m["end"]] == m["text"]
    assert _expected_mentions(letter, diplomatic=True) == {
        e["id"]: Counter(m["text"] for m in e["mentions"])
        for e in source["entities"]
        if e["mentions"]
    }


def test_metadata_and_correspondence(data: dict[str, Any]) -> None:
    meta = data["metadata"]
    assert meta["title"].startswith("Letter from Secretary of State Dean Rusk")
    assert meta["language"] == "en"
    assert meta["authors"] == ["Dean Rusk"]
    assert meta["date"] == "2026-11-28"
    assert meta["idno"] == [{"type": "teikit", "value": "frus1964-68v29p2-d62"}]
    assert meta["licence"]["target"] == "https://creativecommons.org/licenses/by/4.0/"
    assert meta["source"].startswith("Foreign Relations of the United States, 1964–1968")
    corresp = meta["correspondence"]
    assert set(corresp) == {"sent", "received"}
    sent, received = corresp["sent"], corresp["received"]
    assert sent["agents"] == [
        {"name": "Dean Rusk", "kind": "person", "entity": "pers.rusk", "authority": []}
    ]
    assert sent["places"] == [
        {
            "name": "Washington",
            "kind": "place",
            "entity": "place.washington",
            "authority": ["https://www.wikidata.org/entity/Q61"],
        }
    ]
    assert sent["date"] == {"when": "1965-09-25", "text": "September 25, 1965"}
    assert received["agents"][0]["name"] == "Robert S. McNamara"
    assert received["agents"][0]["entity"] == "pers.mcnamara"
    assert received["date"] is None


def test_no_correspondence_is_null() -> None:
    data = to_json_data(_doc(CONVERT / "structures.xml"))
    assert data["metadata"]["correspondence"] is None
    assert data["metadata"]["licence"] is None
    assert data["entities"] == []


def test_blocks_notes_and_pages(data: dict[str, Any]) -> None:
    text = data["text"]
    blocks = data["blocks"]
    spans = [(b["type"], text[b["start"] : b["end"]]) for b in blocks]
    assert [t for t, _ in spans] == [
        "body",
        "div",
        "head",
        "opener",
        "dateline",
        "salute",
        *["p"] * 6,
        "closer",
        "salute",
        "salute",
        "signed",
    ]
    assert blocks[1]["xml_id"] == "d62"
    assert [b["depth"] for b in blocks[:4]] == [0, 1, 2, 2]
    assert spans[2][1].startswith("62. Letter From Secretary of State Rusk")
    assert spans[2][1].endswith("McNamara[1]")
    assert spans[4][1] == "Washington, September 25, 1965."
    assert spans[5][1] == "Dear Bob:"
    assert spans[6][1].startswith("You will recall") and spans[6][1].endswith("Free World.")
    assert spans[-1][1] == "Dean"
    # The main text ends where the notes begin.
    assert text[blocks[0]["end"] :].startswith("\n\nNotes\n\n[1] Source:")

    notes = data["notes"]
    assert [(n["n"], n["type"], n["xml_id"]) for n in notes] == [
        ("1", "source", "d62fn1"),
        ("2", "editorial", "d62fn2"),
        ("3", "editorial", "d62fn3"),
        ("4", "editorial", "d62fn4"),
    ]
    note_texts = [text[n["start"] : n["end"]] for n in notes]
    assert note_texts[0].startswith("Source: Washington National Records Center")
    assert note_texts[1] == "Document 55."
    assert note_texts[3].endswith("DEF 1 Ryukyu Islands)")
    for n in notes:
        assert text[: n["start"]].endswith(f"[{n['n']}] ")

    pages = data["pages"]
    assert [(p["n"], p["xml_id"], p["facs"]) for p in pages] == [
        ("128", "pg_128", "0164"),
        ("129", "pg_129", "0165"),
    ]
    # A page break inside a paragraph, and one between two paragraphs.
    assert text[pages[0]["offset"] :].startswith("review our common interests")
    assert text[pages[1]["offset"] :].startswith("I have asked Assistant Secretary Bundy")


def test_inline_and_omitted_notes(letter: TeiDocument) -> None:
    inline = to_json_data(letter, JsonOptions(notes="inline"))
    text = inline["text"]
    assert text == to_text(letter, TextOptions(width=0, notes="inline"))
    for n in inline["notes"]:
        assert text[: n["start"]].endswith(f"[{n['n']}: ")
        assert text[n["end"] :].startswith("]")
    assert text[inline["notes"][1]["start"] : inline["notes"][1]["end"]] == "Document 55."
    omitted = to_json_data(letter, JsonOptions(notes="omit"))
    assert omitted["notes"] == []
    assert "Source:" not in omitted["text"]
    fearey = next(e for e in omitted["entities"] if e["id"] == "pers.fearey")
    assert fearey["mentions"] == []  # named only in notes


def test_structures(tmp_path: Path) -> None:
    doc = _doc(CONVERT / "structures.xml")
    before = etree.tostring(doc.root)
    data = to_json_data(doc)
    assert etree.tostring(doc.root) == before  # the document itself is left as it was
    text = data["text"]
    by_type: dict[str, list[str]] = {}
    for b in data["blocks"]:
        by_type.setdefault(b["type"], []).append(text[b["start"] : b["end"]])
    assert by_type["head"] == ["Chapter One", "Section One"]
    assert by_type["item"][:1] == ["First item"]
    assert by_type["quote"] == ["Quoted paragraph one.\n\nQuoted paragraph two."]
    assert by_type["l"] == ["First line of verse,", "second line of verse."]
    notes = [text[n["start"] : n["end"]] for n in data["notes"]]
    assert notes[0].startswith("A note with two paragraphs?")
    assert notes[0].endswith("and a note of its own[2].")
    assert notes[1] == "The inner note."
    assert text[data["pages"][0]["offset"] :].startswith("First line of verse,")


def test_one_line_output() -> None:
    out = to_json(_doc(CONVERT / "structures.xml"), JsonOptions(indent=None))
    assert out.count("\n") == 1 and out.endswith("}\n")
    assert json.loads(out)["format"] == "teikit-json"


def test_render_rules_shape_the_text_and_its_offsets(letter: TeiDocument) -> None:
    rules = RenderRules.from_mapping(
        {"note[@type='source']": {"display": "omit"}, "salute": {"display": "inline"}}
    )
    data = to_json_data(letter, JsonOptions(rules=rules))
    text = data["text"]
    assert text == to_text(letter, TextOptions(width=0, rules=rules))
    assert [n["n"] for n in data["notes"]] == ["2", "3", "4"]
    types = [b["type"] for b in data["blocks"]]
    assert "salute" not in types and "opener" in types
    for entity in data["entities"]:
        for m in entity["mentions"]:
            assert text[m["start"] : m["end"]] == m["text"]


def test_cells_and_tei_p4_keep_words_apart_with_their_offsets(tmp_path: Path) -> None:
    f = tmp_path / "p4.xml"
    f.write_text(
        "<TEI.2><teiHeader><title>HEADER</title></teiHeader><text><body>"
        "<p>one<lb/>two<pb n='2'/>three<note n='1'>four</note></p>"
        "<table><row><cell>seven</cell><cell><persName>eight</persName></cell></row></table>"
        "</body></text></TEI.2>",
        "utf-8",
    )
    doc = _doc(f)
    data = to_json_data(doc)
    text = data["text"]
    assert text == "one two three[1]\n\nseven | eight\n\nNotes\n\n[1] four\n"
    assert text == to_text(doc, TextOptions(width=0))
    assert [(b["type"], text[b["start"] : b["end"]]) for b in data["blocks"]][2:] == [
        ("p", "one two three[1]"),
        ("table", "seven | eight"),
        ("row", "seven | eight"),
    ]
    assert [text[n["start"] : n["end"]] for n in data["notes"]] == ["four"]
    assert [(p["n"], text[p["offset"] :][:5]) for p in data["pages"]] == [("2", "three")]
