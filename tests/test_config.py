"""Project configuration: finding it, checking it strictly, patterns, ignores, severities."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import UsageError
from teikit.runner import ValidateOptions, validate, validate_file
from teikit.schemas import (
    ERROR_ONLY_CODES,
    ProjectConfig,
    ResolveOptions,
    apply_severity,
    find_config,
    is_ignored,
    load_config,
    match_pattern,
)

from conftest import ROOT


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _diag(code: str, severity: Severity = Severity.ERROR) -> Diagnostic:
    return Diagnostic("f.xml", 1, 1, severity, code, "m")


# -- finding


def test_nearest_configuration_wins(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[tool.teikit]\nignore = ["top/"]\n')
    _write(tmp_path / "a" / "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.teikit]
    _write(tmp_path / "a" / "b" / ".teikit.toml", 'ignore = ["b-only/"]\n')
    _write(tmp_path / "a" / "b" / "pyproject.toml", '[tool.teikit]\nignore = ["never/"]\n')
    doc = _write(tmp_path / "a" / "b" / "c" / "x.xml", "<x/>")
    config = find_config(doc)
    assert config is not None
    assert config.ignore == ("b-only/",)  # .teikit.toml before pyproject.toml
    assert config.root == (tmp_path / "a" / "b").resolve()
    assert config.source == (tmp_path / "a" / "b" / ".teikit.toml").resolve()
    other = _write(tmp_path / "a" / "y.xml", "<y/>")
    found = find_config(other)
    assert found is not None and found.ignore == ("top/",)  # a/pyproject.toml is passed over


def test_no_configuration(tmp_path: Path) -> None:
    assert find_config(_write(tmp_path / "x.xml", "<x/>")) in (None, find_config(tmp_path))


def test_the_projects_own_configuration() -> None:
    config = find_config(ROOT / "tei" / "frus1964-68v29p2-d62.xml")
    assert config is not None
    refs = config.schemas_for(ROOT / "tei" / "frus1964-68v29p2-d62.xml")
    assert [Path(r.location).name for r in refs] == [
        "teikit-letter.rng",
        "teikit-letter.xsd",
        "teikit-letter.sch",
    ]
    assert all(r.origin == "config" for r in refs)


# -- reading strictly


FULL = """
ignore = ["drafts/", "**/*.bak.xml"]
catalogs = ["catalog.xml"]
allow-network = true

[severity]
"sch.report" = "warning"
rng = "error"
"xml.external-dtd" = "off"

[[schemas]]
files = ["letters/*.xml", "misc/**/*.xml"]
use = ["schemas/letter.rng", "https://example.org/letter.sch"]

[[schemas]]
files = "*.xml"
use = "schemas/any.rng"
"""


def test_full_configuration(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / ".teikit.toml", FULL))
    assert config.ignore == ("drafts/", "**/*.bak.xml")
    assert config.catalogs == ((tmp_path / "catalog.xml").resolve(),)
    assert config.allow_network is True
    assert config.severity == (
        ("sch.report", Severity.WARNING),
        ("rng", Severity.ERROR),
        ("xml.external-dtd", None),
    )
    letter = config.schemas_for(tmp_path / "letters" / "a.xml")
    assert [r.location for r in letter] == [
        str(tmp_path.resolve() / "schemas" / "letter.rng"),
        "https://example.org/letter.sch",
    ]
    deep = config.schemas_for(tmp_path / "misc" / "x" / "y" / "b.xml")
    assert len(deep) == 2
    other = config.schemas_for(tmp_path / "elsewhere" / "c.xml")
    assert [Path(r.location).name for r in other] == ["any.rng"]
    assert config.schemas_for(Path("/somewhere/else.xml")) == []


def test_pyproject_section(tmp_path: Path) -> None:
    text = "[tool.teikit]\n" + FULL.replace("[severity]", "[tool.teikit.severity]").replace(
        "[[schemas]]", "[[tool.teikit.schemas]]"
    )
    config = load_config(_write(tmp_path / "pyproject.toml", text))
    assert config.allow_network is True and len(config.schemas) == 2


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 'blue'\n", "colour"),
        ("ignore = 'drafts/'\n", "ignore"),
        ("ignore = [1]\n", "ignore"),
        ("catalogs = 'c.xml'\n", "catalogs"),
        ("allow-network = 'yes'\n", "allow-network"),
        ("allow_network = true\n", "allow_network"),
        ("[severity]\nrng = 'fatal'\n", "severity.rng"),
        ("[severity]\nrng = 3\n", "severity.rng"),
        ("[severity]\n'not a code!' = 'error'\n", "severity.'not a code!'"),
        ("severity = 'error'\n", "severity"),
        ("schemas = 'x'\n", "schemas"),
        ("[[schemas]]\nfiles = '*.xml'\n", "schemas[0]"),
        ("[[schemas]]\nfiles = '*.xml'\nuse = 'a.rng'\nphase = 'p'\n", "schemas[0].phase"),
        ("[[schemas]]\nfiles = []\nuse = 'a.rng'\n", "schemas[0].files"),
        ("[[schemas]]\nfiles = '*.xml'\nuse = [2]\n", "schemas[0].use"),
    ],
)
def test_bad_configuration_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = _write(tmp_path / ".teikit.toml", text)
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path.resolve()) in message
    assert key in message


def test_bad_configuration_in_pyproject_names_the_section(tmp_path: Path) -> None:
    path = _write(tmp_path / "pyproject.toml", "[tool.teikit]\nignored = []\n")
    with pytest.raises(UsageError, match=r"tool\.teikit\.ignored: unknown key"):
        load_config(path)


def test_unreadable_toml(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read configuration"):
        load_config(_write(tmp_path / ".teikit.toml", "ignore = [\n"))


# -- patterns


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("tei/*.xml", "tei/a.xml", True),
        ("tei/*.xml", "tei/sub/a.xml", False),  # * stops at /
        ("tei/**/*.xml", "tei/a.xml", True),  # ** matches zero folders
        ("tei/**/*.xml", "tei/x/y/a.xml", True),
        ("**/a.xml", "a.xml", True),
        ("**/a.xml", "x/y/a.xml", True),
        ("tei/**", "tei/x/y/a.xml", True),
        ("tei/**", "other/a.xml", False),
        ("drafts/", "drafts/a.xml", True),  # a folder: everything under it
        ("drafts/", "x/drafts/a.xml", False),
        ("*.bak.xml", "x/y/old.bak.xml", True),  # no slash: the name, in any folder
        ("*.bak.xml", "old.bak.xml", True),
        ("/index.xml", "index.xml", True),  # a leading slash anchors it
        ("/index.xml", "sub/index.xml", False),
        ("index.xml", "sub/index.xml", True),
        ("v?.xml", "v1.xml", True),
        ("v?.xml", "v10.xml", False),
        ("[ab].xml", "b.xml", True),
        ("[!ab].xml", "b.xml", False),
        ("[!ab].xml", "c.xml", True),
        ("a.xml", "a_xml", False),  # . is literal
    ],
)
def test_patterns(pattern: str, path: str, expected: bool) -> None:
    assert match_pattern(pattern, path) is expected


def test_is_ignored(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / ".teikit.toml", 'ignore = ["drafts/", "*.bak.xml"]\n'))
    assert is_ignored(tmp_path / "drafts" / "a.xml", config)
    assert is_ignored(tmp_path / "x" / "b.bak.xml", config)
    assert not is_ignored(tmp_path / "x" / "b.xml", config)
    assert not is_ignored(Path("/elsewhere/drafts/a.xml"), config)
    assert not is_ignored(tmp_path / "drafts" / "a.xml", None)


# -- severities


def test_apply_severity_longest_key_wins_and_off_drops() -> None:
    config = ProjectConfig(
        root=Path("/"),
        severity=(
            ("sch", Severity.WARNING),
            ("sch.report", Severity.INFO),
            ("rng", Severity.ERROR),
            ("xml.external-dtd", None),
        ),
    )
    diags = [
        _diag("sch.assert"),
        _diag("sch.report", Severity.WARNING),
        _diag("rng.invalid", Severity.WARNING),
        _diag("xml.external-dtd", Severity.WARNING),
        _diag("xml.syntax"),
        _diag("schema.unavailable"),  # "sch" is a prefix at a dot boundary only
    ]
    got = apply_severity(diags, config)
    assert [(d.code, d.severity) for d in got] == [
        ("sch.assert", Severity.WARNING),
        ("sch.report", Severity.INFO),
        ("rng.invalid", Severity.ERROR),
        ("xml.syntax", Severity.ERROR),
        ("schema.unavailable", Severity.ERROR),
    ]
    assert apply_severity(diags, None) == diags


# -- the configuration feeds the resolver's options


def test_resolve_options_from_configuration(tmp_path: Path) -> None:
    catalog = _write(
        tmp_path / "catalog.xml", '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog"/>'
    )
    cli = _write(
        tmp_path / "cli.xml", '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog"/>'
    )
    config = load_config(
        _write(tmp_path / ".teikit.toml", 'catalogs = ["catalog.xml"]\nallow-network = true\n')
    )
    options = ResolveOptions.build(catalogs=[cli], config=config, env={})
    assert options.catalogs == (cli.resolve(), catalog.resolve())
    assert options.allow_network is True
    assert ResolveOptions.build(allow_network=False, config=config, env={}).allow_network is False
    missing = load_config(_write(tmp_path / "m" / ".teikit.toml", 'catalogs = ["absent.xml"]\n'))
    with pytest.raises(UsageError, match=r"absent\.xml"):
        ResolveOptions.build(config=missing, env={})


def test_malformed_catalog_is_a_usage_error_up_front(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.xml", "<notACatalog/>")
    with pytest.raises(UsageError, match="expected"):
        ResolveOptions.build(catalogs=[bad], env={})


def test_a_malformed_catalog_url_names_the_file_and_key(tmp_path: Path) -> None:
    """It ended in 'internal error: ValueError: Invalid IPv6 URL'."""
    config = _write(tmp_path / ".teikit.toml", 'catalogs = ["file://[::1/c.xml"]\n')
    with pytest.raises(UsageError, match=r"\.teikit\.toml: catalogs: .*malformed URL"):
        load_config(config)


# -- severity keys must be codes teikit emits


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("sch.asert", "did you mean 'sch.assert'"),
        ("xml.sytax", "did you mean 'xml.syntax'"),
        ("shc", "did you mean 'sch'"),
        ("foo", "not a diagnostic code teikit reports"),
        ("rng.invalid.extra", "not a diagnostic code teikit reports"),
    ],
)
def test_unknown_severity_code_is_a_usage_error(tmp_path: Path, key: str, hint: str) -> None:
    path = _write(tmp_path / ".teikit.toml", f'[severity]\n"{key}" = "warning"\n')
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path.resolve()) in message and f"severity.{key}:" in message
    assert hint in message


def test_pattern_in_a_severity_key_suggests_the_prefix(tmp_path: Path) -> None:
    path = _write(tmp_path / ".teikit.toml", '[severity]\n"sch.*" = "off"\n')
    with pytest.raises(UsageError, match=r"did you mean 'sch'"):
        load_config(path)


def test_every_documented_code_and_prefix_is_accepted(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    table = readme[readme.index("| code | meaning |") :].split("\n\n", 1)[0]
    codes = sorted(set(re.findall(r"`([a-z]+\.[a-z.-]+)`", table)))
    assert "sch.assert" in codes and "xml.syntax" in codes
    keys = [c for c in codes if c not in ERROR_ONLY_CODES] + ["sch", "xsd", "rng", "xml", "io"]
    text = "[severity]\n" + "".join(f'"{k}" = "warning"\n' for k in keys)
    config = load_config(_write(tmp_path / ".teikit.toml", text))
    assert len(config.severity) == len(keys)


@pytest.mark.parametrize("level", ["off", "warning", "info"])
def test_not_well_formed_cannot_be_lowered(tmp_path: Path, level: str) -> None:
    path = _write(tmp_path / ".teikit.toml", f'[severity]\n"xml.syntax" = "{level}"\n')
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path.resolve()) in message and "severity.xml.syntax:" in message
    assert "ignore" in message  # how to leave such a file out instead
    text = '[severity]\n"xml.syntax" = "error"\n'
    assert load_config(_write(tmp_path / "e" / ".teikit.toml", text)).severity


def test_severity_applies_to_every_finding_of_a_run(tmp_path: Path) -> None:
    _write(
        tmp_path / ".teikit.toml",
        '[severity]\n"xml" = "off"\n"id.duplicate" = "warning"\n',
    )
    dtd = _write(tmp_path / "dtd.xml", '<!DOCTYPE a SYSTEM "x.dtd">\n<a/>\n')
    dup = _write(tmp_path / "dup.xml", '<a><b xml:id="x"/><b xml:id="x"/></a>\n')
    bad = _write(tmp_path / "bad.xml", "<a><b></a>\n")
    options = ValidateOptions(use_xml_model=False)
    # "xml" = "off" drops the DTD note; what is left says no schema was applied
    assert [d.code for d in validate_file(dtd, options).diagnostics] == ["schema.none"]
    assert [(d.code, d.severity) for d in validate_file(dup, options).diagnostics] == [
        ("id.duplicate", Severity.WARNING),
        ("schema.none", Severity.WARNING),
    ]
    # ... but a file that is not well-formed still fails: the prefix does not lower it
    assert [(d.code, d.severity) for d in validate_file(bad, options).diagnostics] == [
        ("xml.syntax", Severity.ERROR)
    ]


def test_off_drops_a_finding_about_a_folder(tmp_path: Path) -> None:
    _write(tmp_path / ".teikit.toml", '[severity]\n"io.no-files" = "off"\n')
    (tmp_path / "empty").mkdir()
    run = validate([_write(tmp_path / "a.xml", "<a/>"), tmp_path / "empty"])
    assert run.ok and [d.code for r in run.results for d in r.diagnostics] == ["schema.none"]


def test_every_code_the_source_reports_is_known() -> None:
    """A code added to teikit without adding it to KNOWN_CODES could not be configured."""
    import re

    from teikit.schemas import KNOWN_CODES

    families = {code.split(".")[0] for code in KNOWN_CODES}
    literal = re.compile(r'"([a-z]+(?:\.[a-z-]+)+)"')
    found = {
        code
        for path in (ROOT / "src" / "teikit").rglob("*.py")
        for code in literal.findall(path.read_text("utf-8"))
        if code.split(".")[0] in families and not code.endswith((".xml", ".gov"))
    }
    assert found <= KNOWN_CODES, sorted(found - KNOWN_CODES)


def test_schema_none_can_be_turned_off(tmp_path: Path) -> None:
    """A project that knowingly checks files without schemas can drop the warning."""
    _write(tmp_path / ".teikit.toml", '[severity]\n"schema.none" = "off"\n')
    run = validate(_write(tmp_path / "a.xml", "<a/>"))
    assert run.ok and [d for r in run.results for d in r.diagnostics] == []


def test_tool_teikit_section_in_dotfile_says_keys_go_at_top_level(tmp_path: Path) -> None:
    """A pyproject.toml section pasted into .teikit.toml: say where the keys belong."""
    path = _write(tmp_path / ".teikit.toml", '[tool.teikit]\nignore = ["drafts/"]\n')
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path.resolve()) in message and "tool: unknown key" in message
    assert "in .teikit.toml the keys stand at the top level, without [tool.teikit]" in message
