"""The command line: exit codes, outputs, messages instead of tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from teikit.cli import cli

from conftest import LETTER, ROOT, shared_path


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run the real command in a subprocess: exit codes and streams exactly as users see
    them (teikit writes UTF-8 whatever the locale), with ``stdin`` on standard input."""
    proc = subprocess.run(
        [sys.executable, "-m", "teikit", *args],
        input=stdin,
        capture_output=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    f = tmp_path / "bad.xml"
    f.write_text('<TEI xmlns="http://www.tei-c.org/ns/1.0">\n<text>\n</TEI>\n')
    return f


def test_convert_text_to_stdout() -> None:
    code, out, _ = run("convert", str(LETTER), "--to", "text")
    assert code == 0
    assert out.startswith("62. Letter From Secretary of State Rusk")
    assert "[4] In an October 11 letter to Rusk" in out


def test_convert_to_file_is_atomic_and_never_overwrites_input(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "letter.html"
    code, _, _ = run("convert", str(LETTER), "--to", "html", "-o", str(target))
    assert code == 0 and target.read_text().startswith("<!DOCTYPE html>")
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    copy = tmp_path / "in.xml"
    copy.write_bytes(LETTER.read_bytes())
    code, _, err = run("convert", str(copy), "--to", "text", "-o", str(copy))
    assert code == 2 and "refusing to overwrite an input" in err
    assert copy.read_bytes() == LETTER.read_bytes()


def test_convert_one_file_into_a_folder(tmp_path: Path) -> None:
    """``-o`` naming a folder (or ending with a slash) writes into it, named after the
    input; it used to end in an internal error trying to rename a file onto the folder."""
    folder = tmp_path / "site"
    folder.mkdir()
    code, _, err = run("convert", str(LETTER), "--to", "html", "-o", str(folder))
    assert code == 0, err
    assert (folder / f"{LETTER.stem}.html").read_text().startswith("<!DOCTYPE html>")
    fresh = tmp_path / "fresh"
    code, _, err = run("convert", str(LETTER), "--to", "markdown", "-o", f"{fresh}{os.sep}")
    assert code == 0, err
    assert [p.name for p in fresh.iterdir()] == [f"{LETTER.stem}.md"]


def test_an_output_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    """A file where a folder must go: one message naming it, exit 2, no traceback."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    code, _, err = run("convert", str(LETTER), "--to", "text", "-o", str(blocker / "x.txt"))
    assert code == 2
    assert f"cannot write {blocker / 'x.txt'}: {blocker} is a file, not a folder" in err
    assert "internal error" not in err and "Traceback" not in err
    code, _, err = run("convert", str(LETTER.parent), "--to", "text", "-o", str(blocker))
    assert code == 2
    assert f"cannot write to {blocker}: {blocker} is a file, not a folder" in err
    assert "internal error" not in err and blocker.read_text() == "mine"


def test_batch_reports_an_unwritable_output_and_converts_the_rest(tmp_path: Path) -> None:
    corpus = shared_path("corpus")
    out = tmp_path / "out"
    out.mkdir()
    (out / "frus").write_text("in the way")
    code, _, err = run("convert", str(corpus), "--to", "text", "-o", str(out), "--jobs", "2")
    assert code == 1
    unwritable = [line for line in err.splitlines() if line.endswith("[output.unwritable]")]
    assert len(unwritable) == len(list((corpus / "frus").glob("*.xml")))
    assert all(f"{out / 'frus'} is a file, not a folder" in line for line in unwritable)
    assert (out / "frus-history").is_dir() and "internal error" not in err


def test_standard_output_is_utf8_whatever_the_locale_says() -> None:
    """With an ASCII standard output the letter's curly quotes used to end in an internal
    error (UnicodeEncodeError); documents go out as UTF-8, as their markup declares."""
    proc = subprocess.run(
        [sys.executable, "-m", "teikit", "convert", str(LETTER), "--to", "html"],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout.decode("utf-8")
    assert 'charset="utf-8"' in page and any(ord(c) > 127 for c in page)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_or_closed_standard_output_is_a_message() -> None:
    for redirect in ("> /dev/full", ">&-"):
        proc = subprocess.run(
            f'"{sys.executable}" -m teikit convert "{LETTER}" --to text {redirect}',
            shell=True,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, (redirect, proc.stderr)
        assert "teikit: error: cannot write to standard output" in proc.stderr
        assert "internal error" not in proc.stderr


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    volume = shared_path("corpus", "frus", "frus1964-68v29p2.xml")
    proc = subprocess.run(
        f'"{sys.executable}" -m teikit convert "{volume}" --to text | head -c 10; '
        "exit ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_standard_input_converts_as_the_file_would() -> None:
    code, out, err = run("convert", "-", "--to", "text", stdin=LETTER.read_bytes())
    assert code == 0 and err == ""
    assert out == run("convert", str(LETTER), "--to", "text")[1]


def test_standard_input_validates_as_the_file_it_names() -> None:
    """An editor pipes its unsaved buffer: findings name the file, at their lines, and
    the file's <?xml-model?> schemas (relative to its folder) apply."""
    name = str(LETTER.relative_to(ROOT))
    code, out, _ = run("validate", "-", "--stdin-filename", name, stdin=LETTER.read_bytes())
    assert code == 0, out
    broken = LETTER.read_bytes().replace(b"<p>", b"<p><zzz/>", 1)
    code, out, _ = run("validate", "-", "--stdin-filename", name, stdin=broken)
    assert code == 1
    assert f"{name}:" in out and "[rng.invalid]" in out and "<stdin>" not in out


def test_standard_input_without_a_name_is_stdin() -> None:
    code, out, _ = run("validate", "-", stdin=b"<TEI>\n<text>\n</TEI>\n")
    assert code == 1 and "<stdin>:3:" in out and "not well-formed" in out
    code, _, err = run("convert", "-", "--to", "text", stdin=b"<TEI>\n<text>\n</TEI>\n")
    assert code == 1 and "<stdin>:3:" in err and "Traceback" not in err


def test_standard_input_is_bounded() -> None:
    code, out, _ = run(
        "validate", "-", "--max-bytes", "100", stdin=b"<TEI>" + b" " * 200 + b"</TEI>"
    )
    assert code == 1 and "[io.too-large]" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("validate", "-", "tei/"), "'-' (standard input) must be the only input"),
        (("convert", "-", "x.xml", "--to", "text", "-o", "out"), "must be the only input"),
        (("validate", "tei/", "--stdin-filename", "a.xml"), "--stdin-filename goes with '-'"),
        (("info", "-"), "'-' (standard input) is read by 'validate -' and 'convert -' only"),
    ],
)
def test_standard_input_misuse_is_a_usage_error(args: tuple[str, ...], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2 and message in err


def test_malformed_input_is_a_message_with_location(bad_file: Path) -> None:
    code, out, err = run("convert", str(bad_file), "--to", "text")
    assert code == 1
    assert "bad.xml:3:" in err and "not well-formed" in err and "Traceback" not in err
    code, out, _ = run("validate", str(bad_file))
    assert code == 1 and "bad.xml:3:" in out and "[xml.syntax]" in out


def test_usage_errors_exit_2() -> None:
    assert run("validate", "/no/such/file.xml")[0] == 2
    assert run("convert", str(LETTER), "--to", "pdf")[0] == 2
    assert run("frobnicate")[0] == 2
    code, _, err = run("validate", str(LETTER), "--schema", str(LETTER))
    assert code == 2 and "cannot tell the schema language" in err


def test_validate_with_explicit_schema_json(tmp_path: Path) -> None:
    rng = tmp_path / "s.rng"
    rng.write_text(
        '<element name="TEI" ns="http://www.tei-c.org/ns/1.0" '
        'xmlns="http://relaxng.org/ns/structure/1.0"><empty/></element>'
    )
    code, out, _ = run("validate", str(LETTER), "--schema", str(rng), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["version"] == 1 and data["summary"]["failed_files"] == 1
    (diag, *_) = data["files"][0]["diagnostics"]
    assert diag["code"] == "rng.invalid" and diag["line"] > 0 and diag["schema"].endswith("s.rng")


def test_xml_model_url_is_reported_not_fetched(tmp_path: Path) -> None:
    f = tmp_path / "x.xml"
    f.write_text(
        '<?xml-model href="https://tei-c.org/release/xml/tei/custom/schema/relaxng/'
        'tei_all.rng" schematypens="http://relaxng.org/ns/structure/1.0"?>\n'
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"/>'
    )
    code, out, _ = run("validate", str(f))
    assert code == 1 and "schema.unavailable" in out and "--catalog" in out


def test_every_command_has_help() -> None:
    for name, command in cli.commands.items():
        assert command.help and len(command.help) > 20, name
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_console_script_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "teikit", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "teikit" in proc.stdout


def test_validate_corpus_file_against_tei_all_rng() -> None:
    rng = shared_path("schemas", "tei_all", "tei_all.rng")
    excerpt = shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml")
    code, out, _ = run("validate", str(excerpt), "--schema", str(rng))
    assert code == 1
    assert "attribute frus:doc-dateTime-max is not allowed on <div>" in out
    assert "element <xi:include> is not allowed here inside <classDecl>" in out
    assert ROOT.exists()


def test_project_render_rules_apply_to_convert(tmp_path: Path) -> None:
    (tmp_path / "letter.xml").write_bytes(LETTER.read_bytes())
    (tmp_path / "pyproject.toml").write_text(
        '[tool.teikit.render]\n"note[@type=\'source\']" = { display = "omit" }\n'
    )
    code, out, _ = run("convert", str(tmp_path / "letter.xml"), "--to", "text")
    assert code == 0 and "Source: Washington" not in out and "[2] Document 55." in out
    (tmp_path / "pyproject.toml").write_text('[tool.teikit.render]\n"p" = { colour = "red" }\n')
    code, _, err = run("convert", str(tmp_path / "letter.xml"), "--to", "text")
    assert code == 2 and "unknown key" in err


def test_xinclude_only_on_request_and_only_inside(tmp_path: Path) -> None:
    (tmp_path / "part.xml").write_text('<p xmlns="http://www.tei-c.org/ns/1.0">Included words.</p>')
    main = tmp_path / "main.xml"
    main.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0" xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<text><body><xi:include href="part.xml"/></body></text></TEI>'
    )
    code, out, _ = run("convert", str(main), "--to", "text")
    assert code == 0 and "Included words." not in out
    code, out, _ = run("validate", str(main), "--xinclude", "--format", "json")
    assert code == 0, out
    outside = tmp_path / "sub" / "main.xml"
    outside.parent.mkdir()
    outside.write_text(main.read_text().replace("part.xml", "../part.xml"))
    code, out, _ = run("validate", str(outside), "--xinclude")
    assert code == 1 and "xml.xinclude" in out
