"""What real files contain: encodings, islands of other XML, examples, odd ids, old TEI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest

from teikit import TeiDocument, TextOptions, validate_file
from teikit.convert import to_html, to_json, to_markdown, to_text
from teikit.info import info
from teikit.loading import load

from conftest import FIXTURES, shared_path

REAL = FIXTURES / "real"


def _doc(name: str) -> TeiDocument:
    loaded = load(REAL / name)
    assert loaded.document is not None, loaded.diagnostics
    return TeiDocument(loaded.document)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("bom-no-decl.xml", "Bom and no declaration."),
        ("utf16.xml", "Sixteen bits: ünïcödé."),
        ("internal-dtd.xml", "The Secretary of State wrote."),
    ],
)
def test_encodings_and_internal_entities(name: str, words: str) -> None:
    assert to_text(_doc(name)) == words + "\n"


def test_islands_examples_cdata_and_pis() -> None:
    doc = _doc("islands.xml")
    text = to_text(doc, TextOptions(width=0))
    assert "Before the formula x+1 after it." in text
    assert "Character data: a < b & c kept. Processing instruction skipped." in text
    assert "An example paragraph." in text and "square" in text
    page = lxml.html.document_fromstring(to_html(doc))
    assert not page.xpath("//script") and "alert(1)" in page.text_content()
    assert "a < b & c" in page.text_content()
    for out in (to_markdown(doc), json.loads(to_json(doc))["text"]):
        assert "after it" in out and "example" in out


def test_odd_ids_are_findings_and_the_file_still_converts() -> None:
    result = validate_file(REAL / "islands.xml")
    found = {(d.code, d.line) for d in result.diagnostics}
    assert ("id.malformed", 13) in found and ("id.malformed", 14) in found
    assert ("id.duplicate", 16) in found
    page = lxml.html.document_fromstring(to_html(_doc("islands.xml")))
    ids = page.xpath("//@id")
    assert len(ids) == len(set(ids)) and "[UUID]" not in ids


def test_old_and_foreign_xml_is_named_not_crashed() -> None:
    (p4,) = info([REAL / "p4.xml"])
    assert p4.kind == "tei-p4" and "TEI P4" in p4.description
    assert "An old TEI P4 text." in to_text(_doc("p4.xml"))


def test_every_corpus_file_through_every_command(tmp_path: Path) -> None:
    """validate, convert (text, html, json) and info over the whole shared corpus: exit 0
    or 1, never a crash or a traceback."""
    corpus = shared_path("corpus")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "teikit", *args], capture_output=True, text=True, check=False
        )

    for args in (
        ("validate", str(corpus), "--format", "json"),
        (
            "convert",
            str(corpus),
            "--to",
            "text",
            "--to",
            "html",
            "--to",
            "json",
            "-o",
            str(tmp_path / "out"),
            "--jobs",
            "2",
        ),
        ("info", str(corpus), "--format", "json"),
        ("entities", str(corpus)),
    ):
        proc = run(*args)
        assert proc.returncode in (0, 1), (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    written = list((tmp_path / "out").rglob("*"))
    assert sum(1 for p in written if p.suffix == ".json") >= 190
