from __future__ import annotations

from pathlib import Path

import pytest

from teikit import Severity
from teikit.loading import load


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [
        (b"<TEI>\n<p>unclosed</TEI>", "xml.syntax", 2),
        (b"", "xml.empty", 0),
        (
            b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<a>&x;</a>',
            "xml.external-entity",
            2,
        ),
        (b"<a>\x00</a>", "xml.syntax", 1),
    ],
)
def test_bad_input_is_a_diagnostic_not_an_exception(
    tmp_path: Path, content: bytes, code: str, line: int
) -> None:
    f = tmp_path / "bad.xml"
    f.write_bytes(content)
    result = load(f)
    assert result.document is None
    (d,) = result.diagnostics
    assert (d.code, d.line, d.severity) == (code, line, Severity.ERROR)
    assert d.file.endswith("bad.xml")


def test_external_entity_content_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    f = tmp_path / "x.xml"
    f.write_text(f'<!DOCTYPE a [<!ENTITY x SYSTEM "{secret.as_uri()}">]><a>&x;</a>')
    result = load(f)
    assert all("TOPSECRET" not in d.message for d in result.diagnostics)
    if result.document is not None:
        assert "TOPSECRET" not in "".join(result.document.root.itertext())


def test_internal_entities_expand(tmp_path: Path) -> None:
    f = tmp_path / "x.xml"
    f.write_text('<!DOCTYPE a [<!ENTITY who "Rusk">]><a>&who;</a>')
    result = load(f)
    assert result.document is not None and result.document.root.text == "Rusk"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert load(tmp_path / "nope.xml").diagnostics[0].code == "io.unreadable"
    assert load(tmp_path).diagnostics[0].code == "io.not-a-file"


def test_size_limit(tmp_path: Path) -> None:
    from teikit import LoadOptions

    f = tmp_path / "big.xml"
    f.write_text("<a>" + "x" * 100 + "</a>")
    assert load(f, LoadOptions(max_bytes=10)).diagnostics[0].code == "io.too-large"


def test_whitespace_in_mixed_content_is_kept(tmp_path: Path) -> None:
    f = tmp_path / "x.xml"
    f.write_text("<p>a <hi>b</hi> <hi>c</hi></p>")
    doc = load(f).document
    assert doc is not None and "".join(doc.root.itertext()) == "a b c"


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_a_file_that_reports_no_size_is_read_whole_and_still_bounded(tmp_path: Path) -> None:
    # /proc files say they are empty: the reader asks for the size first, so it must go
    # on reading past it, and the byte limit must still hold.
    from teikit.loading import _read, _TooLarge

    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    data = _read(status, 1_000_000)
    assert b"\nPid:" in data and data.endswith(b"\n")
    with pytest.raises(_TooLarge):
        _read(status, 10)
    exact = tmp_path / "exact.xml"
    exact.write_bytes(b"<a/>")
    assert _read(exact, 4) == b"<a/>"
    with pytest.raises(_TooLarge):
        _read(exact, 3)


def test_an_include_with_a_malformed_url_is_refused_with_a_reason(tmp_path: Path) -> None:
    """With xinclude on, it ended in 'internal error: ValueError: Invalid IPv6 URL'."""
    from teikit.loading import LoadOptions

    f = tmp_path / "u.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0" xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<text><body><xi:include href="http://[::1/y.xml"/></body></text></TEI>'
    )
    (diag,) = load(f, LoadOptions(xinclude=True)).diagnostics
    assert diag.code == "xml.xinclude" and "malformed URL" in diag.message
