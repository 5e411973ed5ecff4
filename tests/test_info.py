"""``teikit info``: what a file is, TEI or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from teikit.info import info

from conftest import LETTER, shared_path


def test_letter_counts() -> None:
    (fi,) = info([LETTER])
    assert fi.kind == "tei" and fi.root == "TEI"
    assert fi.counts["notes"] == 4 and fi.counts["pages"] == 2
    assert fi.counts["persons"] == 9 and fi.counts["organizations"] == 11
    assert fi.languages == {"en": 1}
    assert any(s.endswith("teikit-letter.rng") for s in fi.schemas)


@pytest.mark.parametrize(
    ("xml", "kind", "words"),
    [
        ("<TEI.2><text/></TEI.2>", "tei-p4", "TEI P4"),
        ("<TEI><text/></TEI>", "tei-no-namespace", "without its namespace"),
        ('<div xmlns="http://www.tei-c.org/ns/1.0"/>', "tei-fragment", "lone TEI P5 <div>"),
        ('<teiCorpus xmlns="http://www.tei-c.org/ns/1.0"/>', "tei-corpus", "corpus"),
        ("<html/>", "xml", "not TEI: the root element is <html>"),
        ("<a>", "unreadable", "not well-formed"),
    ],
)
def test_kinds(tmp_path: Path, xml: str, kind: str, words: str) -> None:
    f = tmp_path / "f.xml"
    f.write_text(xml)
    (fi,) = info([f])
    assert fi.kind == kind and words in fi.description


def test_whole_corpus_described() -> None:
    found = info([shared_path("corpus")])
    kinds = {fi.kind for fi in found}
    assert len(found) > 190 and kinds <= {"tei", "tei-fragment", "xml"}
    assert sum(1 for fi in found if fi.kind == "xml") == 14  # events/ and the non-TEI files
    volume = next(fi for fi in found if fi.path.endswith("frus1964-68v29p2.xml"))
    assert volume.counts["pages"] == 365 and volume.counts["xincludes"] == 1
