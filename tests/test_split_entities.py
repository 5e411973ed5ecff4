"""``teikit split`` and ``teikit entities`` on the publisher's real volume."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from teikit import TeiDocument, ValidateOptions, validate
from teikit.entities import entities, register, to_csv, to_json
from teikit.loading import load
from teikit.split import SplitResult, split
from teikit.xmlutil import XML_ID, tei

from conftest import FIXTURES, LETTER, shared_path


@pytest.fixture(scope="module")
def split_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SplitResult]:
    out = tmp_path_factory.mktemp("split")
    result = split(shared_path("corpus", "frus", "frus1964-68v29p2.xml"), out)
    assert len(result.written) == 140
    return out, result


@pytest.fixture(scope="module")
def split_volume(split_run: tuple[Path, SplitResult]) -> Path:
    return split_run[0]


def _xref_codes(paths: list[Path]) -> dict[str, int]:
    """Finding codes of ``validate --xref`` over ``paths`` (no schemas: pointers only)."""
    run = validate(paths, ValidateOptions(xref=True, use_xml_model=False, use_config=False))
    codes: dict[str, int] = {}
    for result in run.results:
        for d in result.diagnostics:
            codes[d.code] = codes.get(d.code, 0) + 1
    return codes


def test_split_files_stand_alone(split_volume: Path) -> None:
    d62 = split_volume / "frus1964-68v29p2-d62.xml"
    loaded = load(d62)
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    assert doc.root.get(XML_ID) == "frus1964-68v29p2-d62"
    titles = [t.text for t in doc.root.iter(tei("title")) if t.get("type") == "document"]
    assert titles == ["62. Letter From Secretary of State Rusk to Secretary of Defense McNamara"]
    # every same-file pointer resolves: the persons and terms it uses came along
    for el in doc.root.iter():
        for attr in ("corresp", "target", "ref"):
            for token in (el.get(attr) or "").split():
                if token.startswith("#"):
                    assert doc.resolve(token) is not None, (attr, token)
    kept = sorted(doc.list_entries)
    assert kept == sorted(
        [
            "p_BWP1",
            "p_FRA3",
            "p_MNJT1",
            "p_MNRS1",
            "p_RD3",
            "p_REO1",
            "p_TLET1",
            "t_ISA1",
            "t_OSD1",
            "t_POL1",
            "t_SIG1",
        ]
    )
    # the page it starts on, and only its own facsimile surfaces
    pages = [pb.get("n") for pb in doc.root.iter(tei("pb"))]
    assert pages == ["127", "128", "129"]
    surfaces = [s.get("start") for s in doc.root.iter(tei("surface"))]
    assert surfaces == ["#pg_127", "#pg_128", "#pg_129"]
    # a pointer to another document now points to its file
    d62_text = d62.read_text("utf-8")
    assert 'target="frus1964-68v29p2-d55.xml#d55"' in d62_text


def test_split_texts_are_valid_against_the_publishers_schema(split_volume: Path) -> None:
    """Every finding lies in the header copied from the volume (whose shared copy lacks
    the xi:include target and a revisionDesc/@status); the documents themselves are valid."""
    rnc = shared_path("corpus", "frus", "schema", "frus.rnc")
    run = validate([split_volume], ValidateOptions(schemas=(rnc,)))
    assert run.summary.files == 140
    for result in run.results:
        text = Path(result.path).read_text("utf-8")
        header_end = text[: text.index("</teiHeader>")].count("\n") + 1
        for d in result.diagnostics:
            assert 0 < d.line <= header_end, d


def test_split_keeps_every_document_word_for_word(split_volume: Path) -> None:
    volume = load(shared_path("corpus", "frus", "frus1964-68v29p2.xml")).document
    assert volume is not None
    originals = {
        d.get(XML_ID): d for d in volume.root.iter(tei("div")) if d.get("type") == "document"
    }
    for part in sorted(split_volume.glob("*.xml")):
        doc = load(part).document
        assert doc is not None
        (div,) = [d for d in doc.root.iter(tei("div")) if d.get("type") == "document"]
        assert "".join(div.itertext()) == "".join(originals[div.get(XML_ID)].itertext())
    assert len(originals) == 140


def test_split_cli(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "teikit",
            "split",
            str(shared_path("corpus", "frus", "frus1964-68v29p2.xml")),
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "wrote 140 file(s)" in proc.stdout
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "teikit",
            "split",
            str(LETTER),
            "-o",
            str(tmp_path / "x"),
            "--by",
            "chapter",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and 'no <div type="chapter">' in proc.stderr


def test_split_letter_brings_its_standoff_entries_along(tmp_path: Path) -> None:
    """The letter's names point into its standOff: the entries come along, so no pointer
    is sent to a volume file that the output folder does not have."""
    (tmp_path / "src").mkdir()
    letter = tmp_path / "src" / "letter.xml"
    letter.write_bytes(LETTER.read_bytes())
    result = split(letter, tmp_path / "out")
    (part,) = result.written
    assert result.diagnostics == () and result.external_pointers == 0
    loaded = load(part).document
    assert loaded is not None
    doc = TeiDocument(loaded)
    stand_off = doc.root.find(tei("standOff"))
    assert stand_off is not None
    assert [c.tag for c in stand_off] == [tei("listPerson"), tei("listOrg"), tei("listPlace")]
    assert {"pers.rusk", "pers.mcnamara", "org.nsc", "place.japan"} <= set(doc.ids)
    for el in doc.root.iter():
        for token in (el.get("ref") or "").split():
            assert token.startswith("#") and doc.resolve(token) is not None, token
    assert _xref_codes([tmp_path / "out"]) == {"schema.none": 1}  # its only file: no schema


def test_split_volume_pointers_resolve_from_the_output_folder(
    split_run: tuple[Path, SplitResult],
) -> None:
    """Pointers into the volume are relative to the split file, and the entries that
    copied entries point to (Ikeda, named in Kono's entry of d123) come along too."""
    out, result = split_run
    volume = shared_path("corpus", "frus", "frus1964-68v29p2.xml")
    to_volume = Path(os.path.relpath(volume, out)).as_posix()
    d1 = (out / "frus1964-68v29p2-d1.xml").read_text("utf-8")
    assert f'corresp="{to_volume}#frus1964-68v29p2"' in d1
    loaded = load(out / "frus1964-68v29p2-d123.xml").document
    assert loaded is not None and "p_IH3" in TeiDocument(loaded).ids
    codes = _xref_codes([out])
    assert "xref.missing-file" not in codes and "ref.unresolved" not in codes
    # one note per file, not one per pointer
    assert len(result.diagnostics) == 140 and result.external_pointers == 560
    assert result.diagnostics[0].message.startswith("4 pointer(s) lead outside the document")


VOLUME = """<TEI xmlns="http://www.tei-c.org/ns/1.0" xml:id="vol">
<teiHeader><fileDesc><titleStmt><title>V</title></titleStmt>
<publicationStmt><p>P</p></publicationStmt><sourceDesc><p>S</p></sourceDesc></fileDesc>
</teiHeader>
<standOff>
 <listPerson><head>People</head>
  <person xml:id="p1"><persName>Ada</persName><affiliation ref="#o1">Org</affiliation></person>
  <person xml:id="p2"><persName>Bob</persName></person>
  <person xml:id="p3"><persName>Cy</persName></person>
 </listPerson>
 <listOrg><org xml:id="o1"><orgName>Org</orgName><placeName ref="#pl1">Here</placeName></org>
  <org xml:id="o2"><orgName>Other</orgName></org></listOrg>
</standOff>
<text><front><div xml:id="intro"><p>Intro</p></div></front>
<body>
 <div type="document" xml:id="d1"><p><persName ref="#p1">Ada</persName>, see
  <ref target="#intro">intro</ref>, <ref target="register.xml#r1">register</ref>,
  <ref target="https://example.org/x.xml#y">web</ref>, <ref target="#d2">d2</ref>.</p></div>
 <div type="document" xml:id="d2"><p><persName ref="#p3">Cy</persName></p></div>
</body>
<back><div type="places"><head>Places</head><listPlace>
 <place xml:id="pl0"><placeName>There</placeName></place>
 <place xml:id="pl1"><placeName>Here</placeName>
  <note><persName ref="#p2">Bob</persName></note></place>
</listPlace></div></back>
</text></TEI>
"""


def test_split_copies_entries_transitively_and_rebases_pointers(tmp_path: Path) -> None:
    """p1 -> o1 (standOff) -> pl1 (back) -> p2 (standOff) all come along, in their lists;
    what must stay outside points at the volume relative to the output folder."""
    (tmp_path / "vol").mkdir()
    volume = tmp_path / "vol" / "vol.xml"
    volume.write_text(VOLUME, "utf-8")
    (tmp_path / "vol" / "register.xml").write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p xml:id="r1"/></body></text></TEI>'
    )
    result = split(volume, tmp_path / "out")
    loaded = load(tmp_path / "out" / "vol-d1.xml").document
    assert loaded is not None
    root = loaded.root
    stand_off = root.find(tei("standOff"))
    assert stand_off is not None
    people = stand_off.find(tei("listPerson"))
    assert people is not None and people.findtext(tei("head")) == "People"
    assert [p.get(XML_ID) for p in people.iter(tei("person"))] == ["p1", "p2"]
    assert [o.get(XML_ID) for o in stand_off.iter(tei("org"))] == ["o1"]
    places = root.find(f"{tei('text')}/{tei('back')}/{tei('div')}")
    assert places is not None and places.get("type") == "places"
    assert [p.get(XML_ID) for p in places.iter(tei("place"))] == ["pl1"]
    targets = [r.get("target") for r in root.iter(tei("ref"))]
    assert targets == [
        "../vol/vol.xml#intro",
        "../vol/register.xml#r1",
        "https://example.org/x.xml#y",
        "vol-d2.xml#d2",
    ]
    assert [(Path(d.file).name, d.code) for d in result.diagnostics] == [
        ("vol-d1.xml", "split.pointer")
    ]
    assert "1 pointer(s)" in result.diagnostics[0].message
    d2 = load(tmp_path / "out" / "vol-d2.xml").document
    assert d2 is not None and d2.root.find(f"{tei('text')}/{tei('back')}") is None
    assert "xref.missing-file" not in _xref_codes([tmp_path / "out"])


def test_entities_of_the_letter() -> None:
    records = entities([LETTER], unlinked=False)
    by_id = {r.id: r for r in records}
    assert len(records) == 28
    assert by_id["pers.rusk"].mentions == 4
    assert by_id["place.japan"].authority == ("https://www.wikidata.org/entity/Q17",)
    rows = list(csv.DictReader(io.StringIO(to_csv(records))))
    assert rows[0]["kind"] == "person" and rows[0]["id"] == "pers.bundy"  # surname order
    data = json.loads(to_json(records))
    assert data["version"] == 1 and len(data["entities"]) == 28


def test_entities_across_the_corpus_and_register_files() -> None:
    records = entities([shared_path("corpus", "frus")])
    rusk = [r for r in records if r.id == "p_RD3"]
    assert rusk and max(r.mentions for r in rusk) > 50
    # names pointing nowhere are listed as candidates
    assert any(r.id == "" and r.name == "Bundy" for r in records)
    register = entities([FIXTURES / "document" / "letter.xml"], unlinked=False)
    ada = next(r for r in register if r.id == "p1")
    assert ada.mentions == 3 and ada.defined_in.endswith("persons.xml")


def test_entities_and_info_cli() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "teikit",
            "entities",
            str(LETTER),
            "--format",
            "json",
            "--linked-only",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and len(json.loads(proc.stdout)["entities"]) == 28
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "teikit",
            "info",
            str(LETTER),
            str(shared_path("corpus", "frus-history", "events", "1.xml")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert (
        "a TEI P5 document" in proc.stdout and "not TEI: the root element is <event>" in proc.stdout
    )


def test_entities_names_the_files_it_could_not_read(tmp_path: Path) -> None:
    """The register of the readable files is written; each file left out is named on
    standard error with why, and the exit status says the register is incomplete."""
    (tmp_path / "letter.xml").write_bytes(LETTER.read_bytes())
    (tmp_path / "broken.xml").write_text('<TEI xmlns="http://www.tei-c.org/ns/1.0"><text>')
    (tmp_path / "gone.xml").symlink_to(tmp_path / "nowhere.xml")
    proc = subprocess.run(
        [sys.executable, "-m", "teikit", "entities", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "pers.rusk" in {r["id"] for r in json.loads(proc.stdout)["entities"]}
    assert "broken.xml:1:" in proc.stderr and "[xml.syntax]" in proc.stderr
    assert "gone.xml" in proc.stderr and "Traceback" not in proc.stderr

    from teikit.entities import register

    found = register([tmp_path])
    assert not found.complete
    assert {Path(d.file).name for d in found.problems} == {"broken.xml", "gone.xml"}
    assert found.records == entities([tmp_path])


def test_pointers_that_name_no_possible_file_are_unresolved_not_a_crash(tmp_path: Path) -> None:
    """A NUL byte (ValueError) or a 300-character file name (OSError) in a pointer ended
    conversion, 'teikit build' and 'validate --xref' in an internal error."""
    from teikit import build, convert

    tei = "http://www.tei-c.org/ns/1.0"
    for name, ref in (("nul.xml", "%00"), ("long.xml", "x" * 300 + ".xml#a")):
        (tmp_path / name).write_text(
            f'<TEI xmlns="{tei}"><text><body><p><persName ref="{ref}">Ann</persName>'
            "</p></body></text></TEI>"
        )
        assert "Ann" in convert(tmp_path / name, "json")
    done = build(tmp_path, tmp_path / "out")
    assert len([p for p in done.written if p.suffix == ".html"]) == 3  # and the index
    run = validate([tmp_path / "long.xml"], ValidateOptions(xref=True))
    assert [d.code for d in run.results[0].diagnostics if d.code.startswith("xref")] == [
        "xref.missing-file"
    ]


def test_a_name_pointing_at_a_term_is_not_a_person_in_the_register(tmp_path: Path) -> None:
    """It ended 'teikit entities' with 'ValueError: tuple.index(x): x not in tuple'."""
    tei = "http://www.tei-c.org/ns/1.0"
    (tmp_path / "t.xml").write_text(
        f'<TEI xmlns="{tei}"><text><body><p><persName corresp="#t_SIG">SIG</persName></p>'
        "<list><item><term xml:id='t_SIG'>SIG</term>, Senior Group</item></list>"
        "</body></text></TEI>"
    )
    found = register([tmp_path])
    assert found.complete and [r.kind for r in found.records] == []
