"""A broken compact schema is reported as the user's ``.rnc`` file, at its line.

The schema is converted and compiled from copies in teikit's cache; neither Python's
internals nor the paths and lines of those copies may show in a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from teikit import SchemaError, ValidateOptions, validate
from teikit.cli import main
from teikit.engines.rnc import compile_rnc, rnc_to_rng

from conftest import FIXTURES

UNCLOSED = 'default namespace = "x"\nstart = element TEI { text }\nfoo = element bar { \n'
UNDEFINED = "start = element TEI { text }\nfoo = element bar { zzz }\n"


@pytest.fixture(autouse=True)
def _own_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Converted closures and prepared grammars go to a temporary cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TEIKIT_RNG_CACHE", str(tmp_path / "rng"))
    yield


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _schema_error(schema: Path) -> str:
    """The message validating a document against ``schema`` ends with."""
    doc = schema.parent / "t.xml"
    doc.write_text("<TEI/>", encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        validate([doc], ValidateOptions(schemas=(schema,)))
    message = str(caught.value)
    assert "closures" not in message and ".rng" not in message, message
    return message


# --------------------------------------------------------------------------------------
# Conversion: syntax errors and empty schemas
# --------------------------------------------------------------------------------------


def test_an_error_at_the_end_of_the_file_names_its_last_line() -> None:
    with pytest.raises(SchemaError) as caught:
        rnc_to_rng(UNCLOSED.encode(), "e1.rnc")
    assert str(caught.value) == (
        "e1.rnc:3: RELAX NG compact syntax error: unexpected end of file (an unclosed '{'?)"
    )


def test_an_unclosed_bracket_on_an_earlier_line_says_which() -> None:
    with pytest.raises(SchemaError, match=r"^b\.rnc:3: .* \(an unclosed '\{' on line 2\?\)$"):
        rnc_to_rng(b"start = element a { b }\nb = element b {\n  text\n", "b.rnc")


def test_a_syntax_error_names_the_line_of_the_source_not_of_the_rewritten_text() -> None:
    """Annotations (dropped before rnc2rng reads the text) may span lines."""
    src = (
        'namespace a = "urn:a"\n'
        '[ a:doc [ """x\n\n""" ] ]\n'
        "start = element TEI { text }\n"
        "## doc\n"
        'foo = [ a:x [ """\n""" ] ]\n'
        " element bar { zzz zzz }\n"
    )
    with pytest.raises(SchemaError) as caught:
        rnc_to_rng(src.encode(), "ann.rnc")
    assert str(caught.value) == "ann.rnc:9: RELAX NG compact syntax error: unexpected 'zzz'"


def test_an_unexpected_literal_is_shown_as_written() -> None:
    with pytest.raises(SchemaError) as caught:
        rnc_to_rng(b'start = element a { "x\\x{22}y" "b" }\n', "lit.rnc")
    assert str(caught.value) == 'lit.rnc:1: RELAX NG compact syntax error: unexpected literal "b"'


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n", "[ a:b [ ] ]\n"])
def test_an_empty_schema_says_so(text: str) -> None:
    with pytest.raises(SchemaError) as caught:
        rnc_to_rng(text.encode(), "empty.rnc")
    assert str(caught.value) == "empty.rnc: the schema is empty"


def test_a_schema_of_declarations_only_defines_no_patterns() -> None:
    with pytest.raises(SchemaError) as caught:
        rnc_to_rng(b'namespace x = "urn:x"\n', "decl.rnc")
    assert str(caught.value) == "decl.rnc: the schema defines no patterns"


# --------------------------------------------------------------------------------------
# Compilation: libxml2's errors on the converted copy, told of the .rnc
# --------------------------------------------------------------------------------------


def test_an_undefined_pattern_names_the_rnc_and_the_line_using_it(tmp_path: Path) -> None:
    _write(tmp_path, {"e2.rnc": UNDEFINED})
    schema = tmp_path / "e2.rnc"
    expected = f"{schema}:2: pattern 'zzz' is used but not defined"
    assert _schema_error(schema) == expected
    with pytest.raises(SchemaError) as caught:
        compile_rnc(schema)
    assert str(caught.value) == expected


def test_an_empty_file_through_validate(tmp_path: Path) -> None:
    _write(tmp_path, {"empty.rnc": ""})
    assert _schema_error(tmp_path / "empty.rnc") == f"{tmp_path / 'empty.rnc'}: the schema is empty"


def test_a_pattern_defined_twice_names_the_second_definition(tmp_path: Path) -> None:
    src = "start = element TEI { a }\na = element a { text }\na = element b { text }\n"
    _write(tmp_path, {"dup.rnc": src})
    message = _schema_error(tmp_path / "dup.rnc")
    assert message.startswith(f"{tmp_path / 'dup.rnc'}:3: pattern 'a' is defined more than once")


def test_two_starts_name_the_second(tmp_path: Path) -> None:
    src = "start = element TEI { text }\n\nstart = element b { text }\n"
    _write(tmp_path, {"starts.rnc": src})
    message = _schema_error(tmp_path / "starts.rnc")
    assert message.startswith(f"{tmp_path / 'starts.rnc'}:3: pattern 'start' is defined more")


def test_a_schema_without_start_says_so(tmp_path: Path) -> None:
    _write(tmp_path, {"nostart.rnc": "a = element a { text }\n"})
    message = _schema_error(tmp_path / "nostart.rnc")
    assert message == f"{tmp_path / 'nostart.rnc'}: the schema has no start pattern (start = ...)"


def test_an_error_in_an_included_rnc_names_that_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "top.rnc": 'start = element TEI { a }\ninclude "sub.rnc"\n',
            "sub.rnc": "# the a element\na = element a { b }\n",
        },
    )
    message = _schema_error(tmp_path / "top.rnc")
    assert message == f"{tmp_path / 'sub.rnc'}:2: pattern 'b' is used but not defined"


def test_a_syntax_error_in_an_included_rnc_names_that_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "top.rnc": 'start = element TEI { a }\ninclude "bad.rnc"\n',
            "bad.rnc": "a = element a {\n  text\n",
        },
    )
    message = _schema_error(tmp_path / "top.rnc")
    assert message == (
        f"{tmp_path / 'bad.rnc'}:2: RELAX NG compact syntax error: "
        "unexpected end of file (an unclosed '{' on line 1?)"
    )


def test_an_override_of_a_missing_definition_names_both_files(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "ov.rnc": "start = element TEI { text }\n"
            'include "sub.rnc" { c = element c { text } }\n',
            "sub.rnc": "a = element a { text }\n",
        },
    )
    message = _schema_error(tmp_path / "ov.rnc")
    assert message == (
        f"{tmp_path / 'ov.rnc'}:2: include of {tmp_path / 'sub.rnc'} overrides pattern 'c', "
        "which it does not define"
    )


def test_an_error_in_an_included_rng_names_it_at_its_own_line(tmp_path: Path) -> None:
    rng = (
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0">\n'
        '<define name="a">\n\n<element name="a"><ref name="q"/></element></define></grammar>'
    )
    _write(tmp_path, {"top.rnc": 'start = element TEI { a }\ninclude "x.rng"\n', "x.rng": rng})
    doc = tmp_path / "t.xml"
    doc.write_text("<TEI/>", encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        validate([doc], ValidateOptions(schemas=(tmp_path / "top.rnc",)))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'x.rng'}:4: cannot compile RELAX NG schema: ")
    assert "Reference q has no matching definition" in message and "closures" not in message


def test_a_name_class_is_not_taken_for_a_use(tmp_path: Path) -> None:
    """``element zzz`` names an element; the undefined ``zzz`` is the one on line 3."""
    src = "start = element TEI { a }\na = element zzz { text }\n  | element b { zzz }\n"
    _write(tmp_path, {"nc.rnc": src})
    message = _schema_error(tmp_path / "nc.rnc")
    assert message == f"{tmp_path / 'nc.rnc'}:3: pattern 'zzz' is used but not defined"


def test_the_command_line_reports_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, {"e1.rnc": UNCLOSED, "e2.rnc": UNDEFINED, "empty.rnc": ""})
    doc = tmp_path / "t.xml"
    doc.write_text("<TEI/>", encoding="utf-8")
    expected = {
        "e1.rnc": ":3: RELAX NG compact syntax error: unexpected end of file (an unclosed '{'?)",
        "e2.rnc": ":2: pattern 'zzz' is used but not defined",
        "empty.rnc": ": the schema is empty",
    }
    for name, tail in expected.items():
        with pytest.raises(SystemExit) as exited:
            main(["validate", str(doc), "--schema", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert exited.value.code == 2, err
        assert err == f"teikit: error: {tmp_path / name}{tail}\n"


def test_valid_compact_schemas_still_compile() -> None:
    compiled = compile_rnc(FIXTURES / "resolve" / "site" / "schemas" / "letter.rnc")
    assert compiled.schema.endswith("letter.rnc")


def test_findings_name_the_schema_as_given_not_its_compiled_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each finding's schema (the JSON report's ``schema``) was the cached .rng converted
    from the .rnc for a compact schema, and an absolute path for a .rng given relative:
    it is now the schema as the project names it, shown as files are."""
    _write(
        tmp_path,
        {
            "s.rnc": "start = element TEI { element p { text }* }\n",
            "t.xml": "<TEI><p>x</p><q/></TEI>",
        },
    )
    (tmp_path / "s.rng").write_text(
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0"><start><element name="TEI">'
        '<zeroOrMore><element name="p"><text/></element></zeroOrMore></element></start>'
        "</grammar>",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    for schema in ("s.rnc", "s.rng"):
        run = validate("t.xml", ValidateOptions(schemas=(Path(schema),)))
        found = [d for r in run.results for d in r.diagnostics if d.code.startswith("rng.")]
        assert found and {d.schema for d in found} == {schema}
