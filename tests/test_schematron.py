"""The Schematron engine: each feature on a small fixture, then TEI's own constraints."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.engines.schematron import (
    SCH,
    CompiledSchematron,
    compile_schematron,
    extract_embedded_schematron,
    severity_of,
)
from teikit.errors import SchemaError
from teikit.loading import Document, load
from teikit.runner import validate, validate_file

from conftest import FIXTURES, shared_path

SCHEMAS = FIXTURES / "schematron"
SAMPLE = SCHEMAS / "sample.xml"


def _load(path: Path) -> Document:
    result = load(path)
    assert result.document is not None, result.diagnostics
    return result.document


def _run(schema: str, phase: str | None = None, doc: Path = SAMPLE) -> list[Diagnostic]:
    compiled = compile_schematron(SCHEMAS / schema, phase=phase)
    return list(compiled.check(_load(doc)))


def _summary(diags: list[Diagnostic]) -> list[tuple[int, str, str, str]]:
    return [(d.line, str(d.severity), d.code, d.message) for d in diags]


# -- the default binding (xslt): assert/report, lets, first-matching rule, roles, ids


@pytest.fixture(scope="module")
def basic() -> list[Diagnostic]:
    return _run("basic.sch")


def test_assert_and_report_with_value_of_name_emph(basic: list[Diagnostic]) -> None:
    assert (12, "info", "sch.report", "Styled paragraph two (p) of 3. [styled-p]") in _summary(
        basic
    )
    assert (13, "warning", "sch.assert", "Paragraph without @n. [p-has-n]") in _summary(basic)


def test_first_matching_rule_of_a_pattern_fires(basic: list[Diagnostic]) -> None:
    # p[2] has @rend: the "styled-p" rule takes it, so "plain-p" never sees it.
    on_p2 = [d for d in basic if d.xpath == "/t:TEI[1]/t:text[1]/t:body[1]/t:p[2]"]
    assert [d.message for d in on_p2] == ["Styled paragraph two (p) of 3. [styled-p]"]


def test_schema_pattern_and_rule_lets(basic: list[Diagnostic]) -> None:
    # $paragraphs (schema), $first-note (pattern, declared twice -> tunnel), $number (rule)
    assert (
        11,
        "error",
        "sch.report",
        "Paragraph 1 shares its number with the first note. [plain-p]",
    ) in _summary(basic)
    # $list-type (pattern, unique -> global) is used in a rule context.
    assert (18, "info", "sch.report", "Simple list (first-note is not a number here).") in (
        _summary(basic)
    )


def test_attribute_context_reports_parent_line_and_attribute_path(
    basic: list[Diagnostic],
) -> None:
    found = [d for d in basic if d.xpath and d.xpath.endswith("/@rend")]
    assert len(found) == 1
    assert found[0].line == 12
    assert found[0].severity is Severity.WARNING  # role="warn"
    assert found[0].message == "The rend value 'bold' is deprecated."


def test_diagnostics_follow_the_assertion_text(basic: list[Diagnostic]) -> None:
    note = next(d for d in basic if "Notes must be numbered" in d.message)
    assert note.message == 'Notes must be numbered 1..n in order. Found n="3", expected 2.'
    assert note.severity is Severity.ERROR  # role="fatal"
    assert note.line == 17
    assert note.column == 0
    assert note.xpath == "/t:TEI[1]/t:text[1]/t:body[1]/t:note[2]"


def test_roles_map_to_severities(basic: list[Diagnostic]) -> None:
    by_message = {d.message: d.severity for d in basic}
    assert by_message["A list of one item."] is Severity.INFO  # information
    assert by_message["List type simple."] is Severity.ERROR  # unknown role


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (None, Severity.ERROR),
        ("error", Severity.ERROR),
        ("FATAL", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("warn", Severity.WARNING),
        ("nonfatal", Severity.WARNING),
        ("info", Severity.INFO),
        ("information", Severity.INFO),
        ("something-else", Severity.ERROR),
    ],
)
def test_severity_of(role: str | None, expected: Severity) -> None:
    assert severity_of(role) is expected


def test_diagnostic_fields(basic: list[Diagnostic]) -> None:
    for diag in basic:
        assert diag.file == load(SAMPLE).document.display  # type: ignore[union-attr]
        assert diag.schema == str(SCHEMAS / "basic.sch")


# -- xslt2: phases, abstract patterns and rules, include, xsl:function/key/param


def test_default_phase_runs_only_its_patterns() -> None:
    assert _summary(_run("advanced.sch")) == [
        (14, "error", "sch.assert", "Date '1965-13-01' is not an ISO date. [iso-date]"),
        (
            13,
            "info",
            "sch.report",
            "A date in September: 25 September 1965. [september]",
        ),
    ]


def test_named_phase_with_xsl_key() -> None:
    assert _summary(_run("advanced.sch", phase="pointers")) == [
        (15, "error", "sch.assert", "Pointer #nowhere does not resolve. [target-resolves]"),
    ]


def test_abstract_pattern_parameters_substituted_in_context_and_role() -> None:
    # Instantiated for tei:note (role error) and tei:p (role warning); only p[2] is bad.
    assert _summary(_run("advanced.sch", phase="numbers")) == [
        (12, "warning", "sch.assert", "<p> @n 'two' is not a number."),
    ]


def test_all_phases() -> None:
    assert len(_run("advanced.sch", phase="#ALL")) == 4


def test_unknown_phase_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="no phase 'nope'"):
        compile_schematron(SCHEMAS / "advanced.sch", phase="nope")


PHASED = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2"
        defaultPhase="a">
  <phase id="a"><active pattern="pa"/></phase>
  <phase id="b"><active pattern="pb"/></phase>
  <pattern id="pa"><rule context="/*"><report test="true()">pattern a ran</report></rule></pattern>
  <pattern id="pb"><rule context="/*"><report test="true()">pattern b ran</report></rule></pattern>
</schema>
"""


def _phased_file(tmp_path: Path, phase: str | None) -> Path:
    """A file whose xml-model names ``PHASED`` with ``phase`` (none when None)."""
    (tmp_path / "p.sch").write_text(PHASED, encoding="utf-8")
    attr = "" if phase is None else f' phase="{phase}"'
    doc = tmp_path / f"{''.join(c for c in str(phase) if c.isalnum())}.xml"
    doc.write_text(
        '<?xml-model href="p.sch" schematypens="http://purl.oclc.org/dsdl/schematron"'
        f"{attr}?>\n<doc/>\n",
        encoding="utf-8",
    )
    return doc


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (None, ["pattern a ran"]),
        ("#DEFAULT", ["pattern a ran"]),
        ("a", ["pattern a ran"]),
        ("b", ["pattern b ran"]),
        ("#ALL", ["pattern a ran", "pattern b ran"]),
    ],
)
def test_xml_model_phase_selects_the_patterns(
    tmp_path: Path, phase: str | None, expected: list[str]
) -> None:
    result = validate_file(_phased_file(tmp_path, phase))
    assert sorted(d.message for d in result.diagnostics) == expected
    assert {d.code for d in result.diagnostics} == {"sch.report"}


def test_xml_model_phase_the_schema_lacks_is_a_finding(tmp_path: Path) -> None:
    result = validate_file(_phased_file(tmp_path, "zzz"))
    (diag,) = result.diagnostics
    assert diag.code == "schema.unusable" and diag.line == 1
    assert "'zzz'" in diag.message and "a, b" in diag.message


def test_one_schema_in_two_phases_in_one_run(tmp_path: Path) -> None:
    # The compile cache keys on the phase: the second file must not reuse the first's.
    first, second = _phased_file(tmp_path, "a"), _phased_file(tmp_path, "b")
    run = validate([first, second])
    assert [[d.message for d in r.diagnostics] for r in run.results] == [
        ["pattern a ran"],
        ["pattern b ran"],
    ]


def test_generated_stylesheet_carries_embedded_xslt() -> None:
    compiled = compile_schematron(SCHEMAS / "advanced.sch")
    tree = etree.fromstring(compiled.xslt.encode())
    xsl = {"xsl": "http://www.w3.org/1999/XSL/Transform"}
    assert tree.xpath("xsl:function/@name", namespaces=xsl) == ["f:year"]
    assert tree.xpath("xsl:key/@name", namespaces=xsl) == ["ids"]
    assert tree.xpath("xsl:param/@name", namespaces=xsl) == ["min-year"]


# -- run-time and compile-time failures


def test_runtime_error_is_reported_not_swallowed() -> None:
    found = _run("runtime.sch")
    errors = [d for d in found if d.code == "sch.error"]
    assert len(errors) == 1
    assert errors[0].line == 9
    assert "pattern 'lookup', rule 'missing-doc'" in errors[0].message
    assert "no-such-file.xml" in errors[0].message


def test_document_base_uri_is_the_file() -> None:
    found = _run("runtime.sch")
    assert (3, "error", "sch.report", "Sibling of sample.xml resolved. [sibling-doc]") in (
        _summary(found)
    )


def test_broken_xpath_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match=r"broken\.sch.*XPST0003"):
        compile_schematron(SCHEMAS / "broken.sch")


def test_not_schematron_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match="not an ISO Schematron schema"):
        compile_schematron(SAMPLE)


def test_schema_with_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    sch = tmp_path / "xxe.sch"
    sch.write_text(
        f'<!DOCTYPE schema [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        f'<schema xmlns="{SCH}"><pattern><rule context="*">'
        '<report test="true()">&x;</report></rule></pattern></schema>'
    )
    with pytest.raises(SchemaError, match="Entity 'x' not defined"):
        compile_schematron(sch)


def test_document_doctype_is_not_fetched(tmp_path: Path) -> None:
    doc = tmp_path / "doc.xml"
    doc.write_text(
        '<!DOCTYPE TEI SYSTEM "no-such.dtd">\n'
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>x</p></body></text></TEI>'
    )
    found = list(compile_schematron(SCHEMAS / "basic.sch").check(_load(doc)))
    assert all(d.code != "sch.error" for d in found)
    assert [d.line for d in found] == [2]  # paragraph without @n


# -- Schematron embedded in RELAX NG


def test_extract_embedded_schematron() -> None:
    schema = extract_embedded_schematron(SCHEMAS / "embedded.rng")
    assert schema.tag == f"{{{SCH}}}schema"
    assert schema.get("queryBinding") == "xslt2"
    assert len(schema.findall(f"{{{SCH}}}pattern")) == 1


def test_compile_rng_with_embedded_patterns() -> None:
    found = _run("embedded.rng")
    assert _summary(found) == [
        (12, "error", "sch.assert", "An element with @rend needs @xml:id (p). [rend-needs-id]")
    ]
    assert found[0].xpath == "/tei:TEI[1]/tei:text[1]/tei:body[1]/tei:p[2]"


# -- TEI's own constraints on a real FRUS document


@pytest.fixture(scope="module")
def tei_all_sch() -> tuple[CompiledSchematron, float]:
    start = time.perf_counter()
    compiled = compile_schematron(shared_path("schemas", "tei_all", "tei_all.embedded.sch"))
    return compiled, time.perf_counter() - start


def test_tei_all_embedded_schematron_runs_on_frus(
    tei_all_sch: tuple[CompiledSchematron, float],
) -> None:
    compiled, compile_seconds = tei_all_sch
    assert compiled.xslt.count('mode="teikit-start-') >= 93
    doc = _load(shared_path("corpus", "frus", "frus1964-68v29p2-d62.xml"))
    start = time.perf_counter()
    found = list(compiled.check(doc))
    check_seconds = time.perf_counter() - start
    assert [d for d in found if d.code == "sch.error"] == []
    assert compile_seconds < 30
    assert check_seconds < 10


def test_tei_all_constraints_fire(
    tei_all_sch: tuple[CompiledSchematron, float], tmp_path: Path
) -> None:
    compiled, _ = tei_all_sch
    doc = tmp_path / "bad.xml"
    doc.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader/><text><body>\n'
        '<p subtype="x">no type</p>\n'
        '<p><date when="1965" from="1964">both</date></p>\n'
        "</body></text></TEI>"
    )
    found = _summary(list(compiled.check(_load(doc))))
    assert (2, "error", "sch.assert") in [f[:3] for f in found]
    assert (3, "warning", "sch.report") in [f[:3] for f in found]  # role="nonfatal"


_BROKEN = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="tei" uri="http://www.tei-c.org/ns/1.0"/>
  <let name="fine" value="1"/>
  <pattern>
    <rule context="tei:p">
      <assert test="count(tei:hi) &lt; 3">ok</assert>
    </rule>
    <rule context="{context}">
      <let name="x" value="{value}"/>
      <assert test="{test}">broken <value-of select="{select}"/></assert>
    </rule>
  </pattern>
</schema>
"""


@pytest.mark.parametrize(
    ("where", "shown"),
    [
        ({"test": "tei:head["}, '10: cannot compile Schematron: <assert test="tei:head[">'),
        ({"context": "tei:div[["}, '8: cannot compile Schematron: <rule context="tei:div[[">'),
        ({"value": "1 +"}, '9: cannot compile Schematron: <let value="1 +">'),
        ({"select": "name(("}, '10: cannot compile Schematron: <value-of select="name((">'),
    ],
)
def test_an_expression_saxon_cannot_compile_is_named_at_its_line(
    tmp_path: Path, where: dict[str, str], shown: str
) -> None:
    """Saxon compiles the stylesheet written from the schema, and named neither line nor
    expression: 'bad.sch: cannot compile Schematron: Error in bad.sch: XPST0003 Unexpected
    token ) before ...'. The message now names the schema's line and the expression."""
    fields = {"context": "tei:div", "value": "1", "test": "true()", "select": "."} | where
    schema = tmp_path / "bad.sch"
    schema.write_text(_BROKEN.format(**fields), encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        compile_schematron(schema)
    message = str(caught.value)
    assert message.startswith(f"{schema}:{shown}: X"), message  # XPST0003, XTSE0340
    assert "Unexpected token" in message
