"""``teikit split`` and ``teikit entities`` on the publisher's real volume."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from teikit import TeiDocument, ValidateOptions, validate
from teikit.entities import entities, to_csv, to_json
from teikit.loading import load
from teikit.split import split
from teikit.xmlutil import XML_ID, tei

from conftest import FIXTURES, LETTER, shared_path


@pytest.fixture(scope="module")
def split_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("split")
    result = split(shared_path("corpus", "frus", "frus1964-68v29p2.xml"), out)
    assert len(result.written) == 140
    return out


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
