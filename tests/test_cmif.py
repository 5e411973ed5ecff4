"""CMIF: valid against the CMIF schema (../shared/schemas/cmif), and true to the letters."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from lxml import etree

from teikit.convert.cmif import (
    LICENCE_URL,
    CmifOptions,
    authority_uri,
    expand_pointer,
    to_cmif,
    to_cmif_many,
)
from teikit.document import TeiDocument
from teikit.errors import InputError, UsageError
from teikit.loading import Document, load
from teikit.xmlutil import TEI_NS, XML_ID, tei

from conftest import FIXTURES, LETTER, shared_path

CONVERT = FIXTURES / "convert"
NS = {"t": TEI_NS}
OPTIONS = CmifOptions(date="2026-11-28", url="https://example.org/cmif.xml")


def _doc(path: Path) -> TeiDocument:
    loaded = load(path)
    assert loaded.document is not None, loaded.diagnostics
    return TeiDocument(loaded.document)


@pytest.fixture(scope="module")
def cmif_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(shared_path("schemas", "cmif", "cmi-customization.rng"))))


def _valid(schema: etree.RelaxNG, xml: str) -> etree._Element:
    """Parse the CMIF text and check it against the schema and CMIF's Schematron rules."""
    root = etree.fromstring(xml.encode("utf-8"))
    assert schema.validate(root), schema.error_log
    # The rules of CMIF's own Schematron (odd/cmif.sch), which RELAX NG cannot say.
    bibl_ids = {b.get(XML_ID) for b in root.iterfind(".//t:sourceDesc/t:bibl", NS)}
    for desc in root.iterfind(".//t:correspDesc", NS):
        types = [a.get("type") for a in desc.iterfind("t:correspAction", NS)]
        assert "sent" in types and "received" in types
        assert (desc.get("source") or "").removeprefix("#") in bibl_ids
    for date in root.iterfind(".//t:correspAction/t:date", NS):
        assert any(date.get(a) for a in ("when", "from", "to", "notBefore", "notAfter"))
        for a in ("when", "from", "to", "notBefore", "notAfter"):
            assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date.get(a) or "0000")
    return root


def _actions(desc: etree._Element) -> dict[str, list[tuple[str, str, str | None]]]:
    return {
        a.get("type", ""): [(etree.QName(c).localname, c.text or "", c.get("ref")) for c in a]
        for a in desc.iterfind("t:correspAction", NS)
    }


def test_the_letter(cmif_schema: etree.RelaxNG) -> None:
    root = _valid(cmif_schema, to_cmif(_doc(LETTER), OPTIONS))
    header = root.find("t:teiHeader/t:fileDesc", NS)
    assert header is not None
    assert header.findtext("t:titleStmt/t:title", namespaces=NS) == (
        "Letter from Secretary of State Dean Rusk to Secretary of Defense Robert S. McNamara,"
        " Washington, September 25, 1965"
    )
    assert header.findtext("t:titleStmt/t:editor", namespaces=NS) == "teikit project"
    publication = header.find("t:publicationStmt", NS)
    assert publication is not None
    assert publication.findtext("t:publisher", namespaces=NS) == "teikit project"
    idno = publication.find("t:idno", NS)
    assert idno is not None and idno.get("type") == "url"
    assert idno.text == "https://example.org/cmif.xml"
    assert publication.find("t:date", NS).get("when") == "2026-11-28"  # type: ignore[union-attr]
    licence = publication.find("t:availability/t:licence", NS)
    assert licence is not None and licence.get("target") == LICENCE_URL
    bibls = header.findall("t:sourceDesc/t:bibl", NS)
    assert len(bibls) == 1
    assert bibls[0].get("type") == "hybrid"  # printed, with a link to the online edition
    assert (bibls[0].text or "").startswith("Foreign Relations of the United States, 1964–1968")
    assert "Document 62" not in (bibls[0].text or "")  # the edition, not the letter

    (desc,) = root.iterfind(".//t:correspDesc", NS)
    assert desc.get("source") == "#" + (bibls[0].get(XML_ID) or "")
    # The letter's URL: the sourceDesc link frus:... expanded by the header's prefixDef.
    assert desc.get("ref") == ("https://history.state.gov/historicaldocuments/frus1964-68v29p2/d62")
    assert _actions(desc) == {
        "sent": [
            ("persName", "Dean Rusk", None),  # no authority identifier in the letter
            ("placeName", "Washington", "http://www.wikidata.org/entity/Q61"),
            ("date", "September 25, 1965", None),
        ],
        "received": [("persName", "Robert S. McNamara", None)],
    }
    date = desc.find("t:correspAction/t:date", NS)
    assert date is not None and date.get("when") == "1965-09-25"
    body = root.find("t:text/t:body", NS)
    assert body is not None and [etree.QName(c).localname for c in body] == ["p"]


def test_a_batch_of_three_letters_and_a_file_without_correspdesc(
    cmif_schema: etree.RelaxNG,
) -> None:
    docs = [
        _doc(LETTER),
        _doc(CONVERT / "letter-b.xml"),
        _doc(CONVERT / "structures.xml"),
        _doc(CONVERT / "letter-c.xml"),
    ]
    result = to_cmif_many(docs, CmifOptions(date="2026-11-28", email="editor@example.org"))
    assert result.letters == 3
    assert [(s.source.rsplit("/", 1)[-1], s.reason) for s in result.skipped] == [
        ("structures.xml", "no correspDesc in teiHeader/profileDesc")
    ]
    root = _valid(cmif_schema, result.xml)
    editor = root.find(".//t:titleStmt/t:editor", NS)
    assert editor is not None and editor.text == "teikit project "
    assert editor.findtext("t:email", namespaces=NS) == "editor@example.org"
    # One bibl per edition, each letter pointing at its own.
    bibls = {b.get(XML_ID): b for b in root.iterfind(".//t:sourceDesc/t:bibl", NS)}
    assert [b.get("type") for b in bibls.values()] == ["hybrid", "online", "print"]
    descs = root.findall(".//t:correspDesc", NS)
    assert [bibls[(d.get("source") or "")[1:]].get("type") for d in descs] == [
        "hybrid",
        "online",
        "print",
    ]
    assert bibls[(descs[2].get("source") or "")[1:]].text == (
        "Letters of the Example Society, ed. by J. Smith (Exampletown, 1999)"
    )
    # Letter B: URL from its idno; GND preferred to VIAF; https forms made canonical.
    assert descs[1].get("ref") == "https://edition.example.org/letters/letter-b"
    assert _actions(descs[1]) == {
        "sent": [
            ("persName", "Anna Beispiel", "http://d-nb.info/gnd/000000001X"),
            ("placeName", "Weimar", "http://www.geonames.org/0000001"),
            ("date", "Frühjahr 1820", None),
        ],
        "received": [("persName", "Carl Muster", "http://viaf.org/viaf/000000002")],
    }
    span = descs[1].find("t:correspAction/t:date", NS)
    assert span is not None
    assert (span.get("notBefore"), span.get("notAfter")) == ("1820-03", "1820-05-31")
    # Letter C: an organization sends; a URI straight in @ref; a time is dropped; doubt kept.
    assert descs[2].get("ref") is None
    assert _actions(descs[2]) == {
        "sent": [
            ("orgName", "The Example Society", "http://www.wikidata.org/entity/Q4115189"),
            ("date", "4 March 1901", None),
        ],
        "received": [
            ("persName", "Jane Doe", "http://d-nb.info/gnd/000000003"),
            ("placeName", "Exampletown", None),
            ("date", "", None),
        ],
    }
    sent_date, received_date = descs[2].iterfind("t:correspAction/t:date", NS)
    assert sent_date.get("when") == "1901-03-04"
    assert received_date.get("evidence") == "conjecture"
    jane = descs[2].find("t:correspAction[@type='received']/t:persName", NS)
    assert jane is not None and jane.get("cert") == "low"


def test_a_correspdesc_without_an_addressee_is_skipped() -> None:
    doc = _doc(CONVERT / "letter-b.xml")
    root = copy.deepcopy(doc.root)
    received = root.find(".//t:correspAction[@type='received']", NS)
    assert received is not None
    received.getparent().remove(received)  # type: ignore[union-attr]
    broken = TeiDocument(Document(Path("broken.xml"), "broken.xml", etree.ElementTree(root)))
    result = to_cmif_many([broken, _doc(LETTER)], OPTIONS)
    assert result.letters == 1
    assert [(s.source, s.reason) for s in result.skipped] == [
        ("broken.xml", "correspDesc has no correspAction type='received'")
    ]
    with pytest.raises(InputError, match=r"broken\.xml: correspDesc has no"):
        to_cmif(broken, OPTIONS)


def test_a_sender_with_nobody_in_it_is_skipped_not_written_invalid() -> None:
    """An empty <correspAction type="sent"/> was copied as it was: invalid CMIF."""
    doc = _doc(CONVERT / "letter-b.xml")
    root = copy.deepcopy(doc.root)
    sent = root.find(".//t:correspAction[@type='sent']", NS)
    assert sent is not None
    for child in list(sent):
        sent.remove(child)
    empty = TeiDocument(Document(Path("empty.xml"), "empty.xml", etree.ElementTree(root)))
    result = to_cmif_many([empty, _doc(LETTER)], OPTIONS)
    assert result.letters == 1
    assert [(s.source, s.reason) for s in result.skipped] == [
        ("empty.xml", "correspAction type='sent' names no person or organization")
    ]
    with pytest.raises(InputError, match=r"empty\.xml: correspAction type='sent' names no"):
        to_cmif(empty, OPTIONS)


def test_a_file_without_correspdesc_cannot_be_converted_alone(cmif_schema: etree.RelaxNG) -> None:
    with pytest.raises(InputError, match="no correspDesc"):
        to_cmif(_doc(CONVERT / "structures.xml"))
    # A batch in which no letter qualifies is still a valid (empty) CMIF file.
    result = to_cmif_many([_doc(CONVERT / "structures.xml")], OPTIONS)
    assert result.letters == 0
    _valid(cmif_schema, result.xml)


def test_options_override_what_the_letters_say(cmif_schema: etree.RelaxNG) -> None:
    options = CmifOptions(
        title="Rusk letters",
        editor="A. Editor",
        publisher="A Publisher",
        url="https://example.org/rusk-cmif.xml",
        letter_url="https://example.org/letters/{id}.html",
        edition="The Rusk Letters, online edition",
        date="2026-01-02",
    )
    root = _valid(cmif_schema, to_cmif(_doc(LETTER), options))
    assert root.findtext(".//t:titleStmt/t:title", namespaces=NS) == "Rusk letters"
    assert root.findtext(".//t:titleStmt/t:editor", namespaces=NS) == "A. Editor"
    assert root.findtext(".//t:publisher", namespaces=NS) == "A Publisher"
    (bibl,) = root.iterfind(".//t:sourceDesc/t:bibl", NS)
    assert (bibl.text, bibl.get("type")) == ("The Rusk Letters, online edition", "online")
    desc = root.find(".//t:correspDesc", NS)
    assert desc is not None
    assert desc.get("ref") == "https://example.org/letters/frus1964-68v29p2-d62.html"
    base = to_cmif(_doc(LETTER), CmifOptions(letter_url="https://example.org/l/"))
    assert 'ref="https://example.org/l/frus1964-68v29p2-d62"' in base
    # The bibl's id stays the same when the file is made again.
    again = _valid(cmif_schema, to_cmif(_doc(LETTER), options))
    assert again.find(".//t:sourceDesc/t:bibl", NS).get(XML_ID) == bibl.get(XML_ID)  # type: ignore[union-attr]
    assert re.fullmatch(r"bibl-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", bibl.get(XML_ID) or "")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://www.wikidata.org/entity/Q61", ("wikidata", "http://www.wikidata.org/entity/Q61")),
        ("https://www.wikidata.org/wiki/Q61", ("wikidata", "http://www.wikidata.org/entity/Q61")),
        ("http://www.wikidata.org/entity/Q61", ("wikidata", "http://www.wikidata.org/entity/Q61")),
        ("https://d-nb.info/gnd/118629662", ("gnd", "http://d-nb.info/gnd/118629662")),
        ("https://viaf.org/viaf/24602065/", ("viaf", "http://viaf.org/viaf/24602065")),
        ("https://sws.geonames.org/2873891/", ("geonames", "http://www.geonames.org/2873891")),
        (
            "https://www.geonames.org/2873891/mannheim.html",
            ("geonames", "http://www.geonames.org/2873891"),
        ),
        (
            "https://id.loc.gov/authorities/names/n79021164.html",
            ("lc", "http://id.loc.gov/authorities/names/n79021164"),
        ),
        ("https://history.state.gov/people/rusk-dean", None),
        ("https://www.wikidata.org/wiki/Property:P31", None),
        ("javascript:alert(1)", None),
    ],
)
def test_authority_uri(uri: str, expected: tuple[str, str] | None) -> None:
    assert authority_uri(uri) == expected


def test_expand_pointer() -> None:
    doc = _doc(LETTER)
    assert expand_pointer(doc, "frus:frus1964-68v29p2/d55") == (
        "https://history.state.gov/historicaldocuments/frus1964-68v29p2/d55"
    )
    assert expand_pointer(doc, "https://example.org/x") == "https://example.org/x"
    assert expand_pointer(doc, "other:thing") == "other:thing"
    assert expand_pointer(doc, "frus:no match here") == "frus:no match here"
    assert expand_pointer(doc, "fr'us:x") == "fr'us:x"


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("https://x.org/{nope}", "unknown placeholder {nope}"),
        ("https://x.org/{}", "unknown placeholder {}"),
        ("https://x.org/{id.__class__}", "unknown placeholder {id.__class__}"),
        ("https://x.org/{id", "a brace is not closed"),
    ],
)
def test_a_letter_url_template_takes_only_id_and_stem(template: str, complaint: str) -> None:
    """It was filled by str.format: unknown names ended in internal errors (KeyError,
    IndexError, ValueError) and {id.__class__} put "<class 'str'>" into the file."""
    with pytest.raises(UsageError, match=re.escape(complaint)):
        CmifOptions(letter_url=template)
    both = to_cmif(_doc(LETTER), CmifOptions(letter_url="https://x.org/{stem}/{id}"))
    assert 'ref="https://x.org/frus1964-68v29p2-d62/frus1964-68v29p2-d62"' in both


def test_cmif_elements_use_the_tei_namespace_only() -> None:
    root = etree.fromstring(to_cmif(_doc(LETTER), OPTIONS).encode())
    assert {etree.QName(el).namespace for el in root.iter() if isinstance(el.tag, str)} == {TEI_NS}
    assert root.tag == tei("TEI")
