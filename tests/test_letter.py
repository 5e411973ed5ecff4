"""The shipped letter: nothing of the seed lost, every name linked, notes and pages placed."""

from __future__ import annotations

import re
from collections import Counter

from lxml import etree

from teikit import TeiDocument, TextOptions, convert
from teikit.convert import to_text
from teikit.loading import load
from teikit.xmlutil import TEI_NS, XML_ID, tei

from conftest import LETTER, shared_path

NS = {"t": TEI_NS}


def _doc() -> TeiDocument:
    loaded = load(LETTER)
    assert loaded.document is not None, loaded.diagnostics
    return TeiDocument(loaded.document)


def _seed_words() -> list[str]:
    """The seed's words, with the footnote markers the transcription glued on removed."""
    seed = shared_path("seed", "000_c881550d55ff77e7.txt").read_text("utf-8")
    for glued, clean in (
        ("McNamara1\n", "McNamara\n"),
        ("July 142 ", "July 14 "),
        ("studies.3\n", "studies.\n"),
        ("above.4 ", "above. "),
    ):
        assert glued in seed
        seed = seed.replace(glued, clean, 1)
    seed = re.sub(r"\[Page \d+\]", " ", seed)
    return re.findall(r"\w+", seed)


def _is_subsequence(needle: list[str], hay: list[str]) -> tuple[bool, int]:
    it = iter(enumerate(hay))
    for i, word in enumerate(needle):
        if not any(w == word for _, w in it):
            return False, i
    return True, len(needle)


def test_every_seed_word_survives_in_order_in_the_text_output() -> None:
    seed = _seed_words()
    out = re.findall(r"\w+", to_text(_doc(), TextOptions(width=0, diplomatic=True)))
    ok, at = _is_subsequence(seed, out)
    assert ok, f"seed word {at} ({seed[at]!r}, after {seed[max(0, at - 5) : at]}) missing"
    assert len(seed) > 700


def test_text_output_adds_only_printed_dateline_close_signature_and_markers() -> None:
    extra = Counter(re.findall(r"\w+", to_text(_doc(), TextOptions(width=0, diplomatic=True))))
    extra.subtract(Counter(_seed_words()))
    added = {w: n for w, n in extra.items() if n > 0}
    # note markers [1]..[4], the "Notes" heading, and what the printed volume has
    assert added == {
        "1": 1,
        "2": 1,
        "3": 1,
        "4": 1,
        "Notes": 1,
        "Washington": 1,
        "September": 1,
        "25": 1,
        "1965": 1,
        "Sincerely": 1,
        "Dean": 1,
    }, added


def test_notes_at_their_reference_points_numbered_and_typed() -> None:
    root = _doc().root
    notes = root.findall(
        ".//" + tei("note"),
    )
    body_notes = [n for n in notes if n.xpath("ancestor::t:text", namespaces=NS)]
    assert [n.get("n") for n in body_notes] == ["1", "2", "3", "4"]
    assert [n.get("type") for n in body_notes] == ["source", "editorial", "editorial", "editorial"]
    head = body_notes[0].getparent()
    assert head is not None and head.tag == tei("head")
    # note 2 follows "July 14": its date element sits right before it
    prev = body_notes[1].getprevious()
    assert prev is not None and prev.tag == tei("date") and prev.get("when") == "1965-07-14"


def test_page_breaks_where_the_seed_has_them() -> None:
    text = to_text(_doc(), TextOptions(width=0, pages=True, diplomatic=True))
    assert "talks with the Japanese to [Page 128] review our common interests" in text
    assert "the Ryukyuan population.\n\n[Page 129]\n\nI have asked" in text


def test_every_name_points_at_an_entry_of_its_kind() -> None:
    doc = _doc()
    names = doc.root.xpath(
        "//t:text//t:persName | //t:text//t:orgName | //t:text//t:placeName", namespaces=NS
    )
    assert isinstance(names, list) and len(names) > 50
    kinds = {"persName": "person", "orgName": "org", "placeName": "place"}
    for name in names:
        assert isinstance(name, etree._Element)
        entry = doc.entry_for(name)
        assert entry is not None, f"line {name.sourceline}: {name.get('ref')}"
        assert entry.kind == kinds[etree.QName(name).localname]


def test_short_forms_and_salutation_are_tagged() -> None:
    doc = _doc()
    texts = {
        (" ".join("".join(n.itertext()).split()), doc.entry_for(n).id)  # type: ignore[union-attr]
        for n in doc.root.iter(tei("persName"))
        if doc.entry_for(n)
    }
    assert ("Bob", "pers.mcnamara") in texts
    assert ("Solomon", "pers.solomon") in texts
    assert any(t == "Bundy" and i == "pers.bundy" for t, i in texts)


def test_dates_are_machine_readable() -> None:
    doc = _doc()
    dates = list(doc.root.find(tei("text")).iter(tei("date")))  # type: ignore[union-attr]
    assert dates
    for d in dates:
        assert any(d.get(a) for a in ("when", "notBefore", "notAfter", "from", "to")), d.sourceline
    whens = {d.get("when") for d in dates}
    assert {"1965-09-25", "1965-07-14", "1966-03", "1966-05-27", "1966-08-24"} <= whens


def test_correspondence_metadata() -> None:
    doc = _doc()
    sent = doc.root.xpath("//t:correspDesc/t:correspAction[@type='sent']", namespaces=NS)
    assert isinstance(sent, list) and len(sent) == 1
    action = sent[0]
    assert isinstance(action, etree._Element)
    assert action.find(tei("persName")).get("ref") == "#pers.rusk"  # type: ignore[union-attr]
    assert action.find(tei("date")).get("when") == "1965-09-25"  # type: ignore[union-attr]


def test_ids_unique_and_pointers_resolve() -> None:
    doc = _doc()
    ids = [el.get(XML_ID) for el in doc.root.iter() if el.get(XML_ID)]
    assert len(ids) == len(set(ids))
    for el in doc.root.iter():
        for attr in ("ref", "target", "corresp", "who"):
            for token in (el.get(attr) or "").split():
                if token.startswith("#"):
                    assert doc.resolve(token) is not None, (el.sourceline, token)


def test_convert_api_prints_whole_letter() -> None:
    text = convert(LETTER, "text")
    assert text.startswith("62. Letter From Secretary of State Rusk")
    # the edited reading by default: abbreviations expanded
    assert "DEF 1 Ryukyu Islands)" in text and "With warm regards," in text
    assert "Office of the Secretary of Defense/" in " ".join(text.split())
