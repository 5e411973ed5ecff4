"""The main job: validate every letter and write its text and HTML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from teikit import build

from conftest import ROOT


def test_build_writes_text_and_html_for_each_letter(tmp_path: Path) -> None:
    result = build([ROOT / "tei"], tmp_path / "out")
    assert result.run.ok, [d for r in result.run.results for d in r.diagnostics]
    names = sorted(p.name for p in result.written)
    assert names == ["frus1964-68v29p2-d62.html", "frus1964-68v29p2-d62.txt", "index.html"]
    index = (tmp_path / "out" / "index.html").read_text("utf-8")
    assert 'href="frus1964-68v29p2-d62.html"' in index and "Dean Rusk" in index
    text = (tmp_path / "out" / "frus1964-68v29p2-d62.txt").read_text("utf-8")
    assert text.startswith("62. Letter From Secretary of State Rusk")


def test_build_command_exit_code_and_mirrored_tree(tmp_path: Path) -> None:
    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "ok.xml").write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>Hello</p></body></text></TEI>'
    )
    (src / "bad.xml").write_text("<TEI>")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "teikit", "build", str(tmp_path / "src"), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (out / "a" / "ok.txt").read_text() == "Hello\n"
    assert (out / "a" / "ok.html").exists()
    assert not (out / "a" / "bad.txt").exists()
    assert "bad.xml:1:" in proc.stdout and "xml.syntax" in proc.stdout
