"""Validation with the project's schemas: the letter is valid; broken copies are caught.

Each broken copy changes one thing in the real letter and expects the right code at the
right line, from every engine that can see the fault.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from teikit import Severity, ValidateOptions, validate, validate_file
from teikit.runner import discover, find_inputs

from conftest import LETTER, ROOT

SCHEMAS = ROOT / "schemas"
PROJECT = (
    SCHEMAS / "teikit-letter.rng",
    SCHEMAS / "teikit-letter.xsd",
    SCHEMAS / "teikit-letter.sch",
)


def test_letter_is_valid_with_the_schemas_it_names() -> None:
    run = validate([ROOT / "tei"])
    assert [d.message for r in run.results for d in r.diagnostics] == []
    assert run.ok and run.summary.files == 1


def test_letter_names_all_three_project_schemas() -> None:
    head = LETTER.read_text("utf-8")[:1000]
    for schema in PROJECT:
        assert f'href="../schemas/{schema.name}"' in head


def _broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the letter with ``old`` (unique) replaced; returns it and the line changed."""
    text = LETTER.read_text("utf-8")
    assert text.count(old) == 1, old
    line = text[: text.index(old)].count("\n") + 1
    target = tmp_path / "letter.xml"
    target.write_text(text.replace(old, new), "utf-8")
    return target, line


CASES = [
    pytest.param(
        'ref="#pers.meyers"', 'ref="#pers.nobody"', {"sch.assert"}, id="unresolved-pointer"
    ),
    pytest.param('<note n="3"', '<note n="5"', {"sch.assert"}, id="misnumbered-note"),
    pytest.param(
        "<p>My colleagues and I",
        "<p><foo>My</foo> colleagues and I",
        {"rng.invalid", "xsd.invalid"},
        id="element-tei-does-not-allow",
    ),
    pytest.param('<pb n="129"', '<pb n="127"', {"sch.report"}, id="page-numbers-go-back"),
    pytest.param(
        'when="1966-05-27"',
        'when="1966-13-27"',
        {"rng.invalid", "xsd.invalid", "sch.assert"},
        id="impossible-date",
    ),
]


@pytest.mark.parametrize(("old", "new", "codes"), CASES)
def test_broken_copy_is_rejected_at_the_faulty_line(
    tmp_path: Path, old: str, new: str, codes: set[str]
) -> None:
    broken, line = _broken(tmp_path, old, new)
    result = validate_file(broken, ValidateOptions(schemas=PROJECT))
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert {d.code for d in errors} == codes, errors
    for d in errors:
        assert d.line == line, d
        assert d.file.endswith("letter.xml") and d.message


def test_duplicate_id_is_caught(tmp_path: Path) -> None:
    broken, _ = _broken(tmp_path, 'xml:id="d62fn4"', 'xml:id="d62fn3"')
    result = validate_file(broken, ValidateOptions(schemas=PROJECT))
    assert {"rng.invalid", "xsd.invalid", "sch.assert"} <= {d.code for d in result.diagnostics}
    assert any("d62fn3" in d.message for d in result.diagnostics if d.code == "sch.assert")


def test_malformed_copy(tmp_path: Path) -> None:
    broken, line = _broken(tmp_path, "</closer>", "</closr>")
    result = validate_file(broken, ValidateOptions(schemas=PROJECT))
    (d,) = result.diagnostics
    assert d.code == "xml.syntax" and d.line == line


def test_copy_elsewhere_reports_missing_schemas_not_a_crash(tmp_path: Path) -> None:
    copy = tmp_path / "letter.xml"
    shutil.copy(LETTER, copy)
    result = validate_file(copy)
    assert {d.code for d in result.diagnostics} == {"schema.unavailable"}


@pytest.mark.parametrize("one", [str(LETTER), LETTER], ids=["str", "Path"])
def test_a_single_path_is_one_path_not_its_characters(one: str | Path) -> None:
    run = validate(one)
    assert [r.path for r in run.results] == [validate([LETTER]).results[0].path]
    assert run.ok


@pytest.mark.parametrize("one", [str(ROOT / "tei"), ROOT / "tei"], ids=["str", "Path"])
def test_discovery_takes_a_single_path_too(one: str | Path) -> None:
    assert discover(one) == [LETTER]
    assert list(find_inputs(one).files) == [LETTER]


# -- files no schema applies to


def test_file_without_schema_is_warned_not_silently_valid(tmp_path: Path) -> None:
    """Such a file was never checked against a schema: say so, without failing the run."""
    path = tmp_path / "n.xml"
    path.write_text('<?xml version="1.0"?>\n<TEI xmlns="http://www.tei-c.org/ns/1.0"><foo/></TEI>')
    run = validate(path)
    diags = [d for r in run.results for d in r.diagnostics]
    assert [(d.code, d.severity, d.line) for d in diags] == [("schema.none", Severity.WARNING, 2)]
    assert "--schema" in diags[0].message and "<?xml-model?>" in diags[0].message
    assert run.ok and run.summary.warnings == 1
    assert [d.code for d in validate_file(path).diagnostics] == ["schema.none"]


def test_no_schema_warning_only_when_no_schema_applies(tmp_path: Path) -> None:
    """--schema, the file's own <?xml-model?> and [[schemas]] each count as a schema."""
    path = tmp_path / "letter.xml"
    path.write_bytes(LETTER.read_bytes())  # names ../schemas/..., missing here
    named = validate(path)
    assert "schema.none" not in {d.code for r in named.results for d in r.diagnostics}
    option = ValidateOptions(schemas=(SCHEMAS / "teikit-letter.rng",), use_xml_model=False)
    assert validate(path, option).results[0].diagnostics == ()
    project = tmp_path / "project"  # a folder of its own: configurations are cached
    project.mkdir()
    (project / "letter.xml").write_bytes(LETTER.read_bytes())
    (project / ".teikit.toml").write_text(
        f'[[schemas]]\nfiles = "*.xml"\nuse = "{(SCHEMAS / "teikit-letter.rng").as_posix()}"\n'
    )
    config = validate(project / "letter.xml", ValidateOptions(use_xml_model=False))
    assert config.results[0].diagnostics == ()


def test_a_folder_named_as_a_schema_is_called_a_folder(tmp_path: Path) -> None:
    """It was 'cannot read schema (no such file)' though the folder was right there."""
    from teikit import SchemaError

    with pytest.raises(SchemaError, match=r"cannot read schema \(it is a folder\)"):
        validate([LETTER], ValidateOptions(schemas=(tmp_path,)))
    with pytest.raises(SchemaError, match=r"cannot read schema \(no such file\)"):
        validate([LETTER], ValidateOptions(schemas=(tmp_path / "absent.rng",)))


def test_clear_caches_sees_an_edited_include_and_a_new_configuration(tmp_path: Path) -> None:
    """In a long-running process an edited included schema, or a configuration added
    since, was never seen again (each is read once per process)."""
    import teikit

    ns = "http://relaxng.org/ns/structure/1.0"
    (tmp_path / "main.rng").write_text(
        f'<grammar xmlns="{ns}"><include href="part.rng"/></grammar>'
    )
    part = tmp_path / "part.rng"
    part.write_text(
        f'<grammar xmlns="{ns}"><start><element name="a"><text/></element></start></grammar>'
    )
    doc = tmp_path / "doc.xml"
    doc.write_text("<a>x</a>")
    options = ValidateOptions(schemas=(tmp_path / "main.rng",))
    assert teikit.validate_file(doc, options).diagnostics == ()
    part.write_text(
        f'<grammar xmlns="{ns}"><start><element name="b"><text/></element></start></grammar>'
    )
    teikit.clear_caches()
    assert [d.code for d in teikit.validate_file(doc, options).diagnostics] == ["rng.invalid"]
    bare = ValidateOptions(use_xml_model=False)
    assert [d.code for d in teikit.validate_file(doc, bare).diagnostics] == ["schema.none"]
    (tmp_path / ".teikit.toml").write_text('[severity]\n"schema.none" = "off"\n')
    teikit.clear_caches()
    assert teikit.validate_file(doc, bare).diagnostics == ()


def test_a_stream_validates_and_converts_as_the_file_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The library side of '-': the named file's schemas (from its <?xml-model?>, relative
    to its folder) apply, and results name it."""
    import io

    from teikit import convert, convert_stream, validate_stream

    monkeypatch.chdir(ROOT)
    name = LETTER.relative_to(ROOT)
    run = validate_stream(io.BytesIO(LETTER.read_bytes()), name=name)
    assert run.ok and [r.path for r in run.results] == [str(name)]
    broken = LETTER.read_bytes().replace(b"<p>", b"<p><zzz/>", 1)
    run = validate_stream(io.BytesIO(broken), name=name)
    codes = {d.code for r in run.results for d in r.diagnostics}
    assert not run.ok and {"rng.invalid", "xsd.invalid"} <= codes
    assert convert_stream(io.BytesIO(LETTER.read_bytes()), "html", name=name) == convert(
        LETTER, "html"
    )
    unnamed = validate_stream(io.BytesIO(b"<TEI/>"), ValidateOptions(schemas=()))
    assert [r.path for r in unnamed.results] == ["<stdin>"]
