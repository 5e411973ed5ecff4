"""Corpus-wide pointer checks: every ``#id`` and ``file.xml#id`` must reach an ``xml:id``.

The fixture corpus lists its expected findings in a manifest; the shared corpus shows
that the publisher's own pointers (``#p_RD3``, ``#t_SIG1``) resolve where the lists are.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from teikit import Severity, ValidateOptions, validate, validate_file
from teikit.loading import load
from teikit.xref import check_links, collect

from conftest import FIXTURES, shared_path

XREF = FIXTURES / "corpus" / "xref"
MANIFEST: dict[str, list[list[object]]] = tomllib.loads(
    (XREF / "manifest.toml").read_text("utf-8")
)["expected"]
XREF_CODES = {
    "ref.unresolved",
    "xref.unresolved",
    "xref.missing-file",
    "id.duplicate",
    "xref.outside-root",
}
OPTIONS = ValidateOptions(xref=True, use_xml_model=False, use_config=False)


def _found(options: ValidateOptions = OPTIONS) -> dict[str, set[tuple[str, int]]]:
    run = validate([XREF], options)
    found: dict[str, set[tuple[str, int]]] = {}
    for result in run.results:
        rel = Path(result.path).resolve().relative_to(XREF).as_posix()
        found[rel] = {(d.code, d.line) for d in result.diagnostics}
    return found


def test_the_manifest_names_every_fixture() -> None:
    on_disk = {p.relative_to(XREF).as_posix() for p in XREF.rglob("*.xml")}
    assert on_disk == set(MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_findings_match_the_manifest(name: str) -> None:
    expected = {(str(code), int(str(line))) for code, line in MANIFEST[name]}
    assert _found()[name] == expected


def test_findings_are_errors_with_a_place_and_a_readable_message() -> None:
    run = validate([XREF], OPTIONS)
    every = [d for r in run.results for d in r.diagnostics]
    # No schema applies here: each file's schema.none is a warning, apart from pointers.
    assert {d.code for d in every} - XREF_CODES == {"schema.none"}
    diags = [d for d in every if d.code in XREF_CODES]
    assert diags and all(d.severity is Severity.ERROR for d in diags)
    assert all(d.xpath and d.xpath.startswith("/TEI/") for d in diags)
    by_line = {(d.file.rsplit("/", 1)[-1], d.line): d.message for d in diags}
    assert by_line["letter1.xml", 32] == 'xml:id "dup" is already used on line 24'
    assert by_line["letter1.xml", 21].startswith('@ref "../persons.xml#p_Z": ')
    assert by_line["letter1.xml", 21].endswith('xref/persons.xml has no element with xml:id "p_Z"')
    assert by_line["letter1.xml", 26].endswith("xref/missing.xml does not exist")


def test_without_xref_no_pointer_is_checked() -> None:
    """Pointers are --xref's; ids are checked in every run (teikit.checks)."""
    run = validate([XREF], ValidateOptions(use_xml_model=False, use_config=False))
    codes = {d.code for r in run.results for d in r.diagnostics}
    assert codes <= {"id.duplicate", "id.malformed", "schema.none"}


def test_worker_processes_give_the_same_findings() -> None:
    assert _found(ValidateOptions(xref=True, use_xml_model=False, jobs=2)) == _found()


def test_one_file_is_checked_against_the_files_on_disk() -> None:
    result = validate_file(XREF / "letters" / "letter2.xml", OPTIONS)
    assert {(d.code, d.line) for d in result.diagnostics} == {
        ("schema.none", 2),
        ("xref.unresolved", 13),
        ("ref.unresolved", 14),
        ("xref.missing-file", 15),
    }


def _tei(body: str) -> str:
    return f'<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>{body}</body></text></TEI>'


def test_pointers_into_a_file_that_does_not_parse_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(_tei('<p><ref target="b.xml#x">b</ref></p>'))
    (tmp_path / "b.xml").write_text("<TEI><unclosed></TEI>")
    run = validate([tmp_path], OPTIONS)
    codes = {r.path.rsplit("/", 1)[-1]: [d.code for d in r.diagnostics] for r in run.results}
    assert codes == {"a.xml": ["schema.none"], "b.xml": ["xml.syntax"]}


def test_a_target_outside_the_run_is_read_from_disk(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "a.xml").write_text(
        _tei('<p><ref target="../lists.xml#p1 ../lists.xml#p2">x</ref></p>')
    )
    (tmp_path / "lists.xml").write_text(_tei('<p xml:id="p1"/>'))
    doc = load(tmp_path / "run" / "a.xml").document
    assert doc is not None
    refs = collect(doc)
    found = check_links([refs], root=tmp_path)[refs.path]
    assert [(d.code, d.message.split(":")[0]) for d in found] == [
        ("xref.unresolved", '@target "../lists.xml#p2"')
    ]
    # Beyond the root, files are not read: said once, as information.
    outside = check_links([refs], root=tmp_path / "run")[refs.path]
    assert {(d.code, d.severity) for d in outside} == {("xref.outside-root", Severity.INFO)}


def test_ids_and_pointers_inside_examples_are_ignored(tmp_path: Path) -> None:
    f = tmp_path / "a.xml"
    f.write_text(
        _tei(
            '<p xml:id="x"/><egXML xmlns="http://www.tei-c.org/ns/Examples">'
            '<p xml:id="x"><ref target="#nowhere"/></p></egXML>'
        )
    )
    assert [d.code for d in validate_file(f, OPTIONS).diagnostics] == ["schema.none"]


def test_the_publishers_persons_and_terms_pointers_resolve_in_the_whole_volume() -> None:
    volume = shared_path("corpus", "frus", "frus1964-68v29p2.xml")
    doc = load(volume).document
    assert doc is not None
    refs = collect(doc)
    assert {"p_RD3", "t_ISA1"} <= refs.ids
    assert refs.diagnostics == ()


def test_the_document_alone_points_into_lists_it_does_not_hold() -> None:
    div = shared_path("corpus", "frus", "frus1964-68v29p2-d62.xml")
    result = validate_file(div, OPTIONS)
    assert {d.code for d in result.diagnostics} == {"ref.unresolved", "schema.none"}
    assert any('"#p_RD3"' in d.message for d in result.diagnostics)


def test_a_real_broken_pointer_in_the_monograph_is_found() -> None:
    mono = shared_path("corpus", "frus-history", "monograph", "frus-history.xml")
    result = validate_file(mono, OPTIONS)
    assert [(d.code, d.line) for d in result.diagnostics if d.code in XREF_CODES] == [
        ("ref.unresolved", 3518)
    ]
