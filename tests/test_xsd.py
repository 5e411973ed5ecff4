"""W3C XML Schema through xmlschema: 1.0 and 1.1, and the official tei_all.xsd."""

from __future__ import annotations

from pathlib import Path

import pytest

from teikit import Diagnostic, ValidateOptions, validate_file
from teikit.engines import compile_schema
from teikit.loading import load

from conftest import LETTER, shared_path

XSD11 = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:vc="http://www.w3.org/2007/XMLSchema-versioning" vc:minVersion="1.1">
  <xs:element name="range">
    <xs:complexType>
      <xs:attribute name="from" type="xs:integer" use="required"/>
      <xs:attribute name="to" type="xs:integer" use="required"/>
      <xs:assert test="@from le @to"/>
    </xs:complexType>
  </xs:element>
</xs:schema>"""


def _check(schema: Path, xml: str, tmp_path: Path) -> list[str]:
    f = tmp_path / "doc.xml"
    f.write_text(xml)
    doc = load(f).document
    assert doc is not None
    return [d.code for d in compile_schema(schema).check(doc)]


def test_xsd_11_assertions(tmp_path: Path) -> None:
    schema = tmp_path / "range.xsd"
    schema.write_text(XSD11)
    assert _check(schema, '<range from="1" to="2"/>', tmp_path) == []
    assert _check(schema, '<range from="3" to="2"/>', tmp_path) == ["xsd.invalid"]


def test_xsd_10_line_and_reason(tmp_path: Path) -> None:
    schema = tmp_path / "s.xsd"
    schema.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a">'
        '<xs:complexType><xs:sequence><xs:element name="b" type="xs:integer"/>'
        "</xs:sequence></xs:complexType></xs:element></xs:schema>"
    )
    f = tmp_path / "doc.xml"
    f.write_text("<a>\n<b>x</b>\n</a>")
    doc = load(f).document
    assert doc is not None
    (d,) = compile_schema(schema).check(doc)
    assert d.line == 2 and "<b>" in d.message and d.code == "xsd.invalid"


@pytest.fixture(scope="module")
def tei_all_xsd() -> Path:
    path = shared_path("schemas", "tei_all", "tei_all.xsd")
    compile_schema(path)  # ~17 s, once for the module
    return path


def test_letter_valid_against_tei_all_xsd(tei_all_xsd: Path) -> None:
    result = validate_file(LETTER, ValidateOptions(schemas=(tei_all_xsd,)))
    assert result.diagnostics == ()


def test_broken_letter_against_tei_all_xsd(tei_all_xsd: Path, tmp_path: Path) -> None:
    text = LETTER.read_text("utf-8").replace("<p>My colleagues", "<p><foo/>My colleagues", 1)
    line = text[: text.index("<foo/>")].count("\n") + 1
    broken = tmp_path / "letter.xml"
    broken.write_text(text, "utf-8")
    result = validate_file(broken, ValidateOptions(schemas=(tei_all_xsd,)))
    assert {d.code for d in result.diagnostics} == {"xsd.invalid"}
    assert any(d.line == line and "foo" in d.message for d in result.diagnostics)


def test_messages_name_elements_as_an_encoder_writes_them(tmp_path: Path) -> None:
    """xmlschema names the element found in Clark notation and the ones expected with the
    schema's own prefixes (``'{http://www.tei-c.org/ns/1.0}p'``, ``'ns1:div'``): both are
    given with the TEI prefix instead. An unexpected element is reported on its own line,
    not its parent's."""
    schema = tmp_path / "s.xsd"
    schema.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:ns1="http://www.tei-c.org/ns/1.0"'
        ' targetNamespace="http://www.tei-c.org/ns/1.0" elementFormDefault="qualified">'
        '<xs:element name="body"><xs:complexType><xs:sequence>'
        '<xs:element ref="ns1:div" maxOccurs="unbounded"/></xs:sequence></xs:complexType>'
        '</xs:element><xs:element name="div" type="xs:string"/></xs:schema>'
    )
    compiled = compile_schema(schema)

    def finding(xml: str) -> Diagnostic:
        f = tmp_path / "doc.xml"
        f.write_text(xml)
        doc = load(f).document
        assert doc is not None
        (d,) = compiled.check(doc)
        return d

    d = finding('<body xmlns="http://www.tei-c.org/ns/1.0"><p>x</p></body>')
    assert "'tei:p'" in d.message and "'tei:div'" in d.message, d.message
    assert "{http" not in d.message and "ns1:" not in d.message
    # on the line of the unexpected element, not of <body> on line 1
    d = finding('<body xmlns="http://www.tei-c.org/ns/1.0">\n<div>a</div>\n\n<p>x</p>\n</body>')
    assert d.line == 4 and d.message.startswith("<body>"), (d.line, d.message)
