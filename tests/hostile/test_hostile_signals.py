"""No data lost: an interrupted ``teikit build`` leaves only whole outputs, never an input
written, and says it was interrupted.

A corpus of 300 letters is built once to a reference folder; then the same build is
started again and sent SIGINT (or SIGTERM) once some outputs exist. Every output file that
exists afterwards must equal its reference byte for byte (no half-written file under a
final name), no temporary file may be left over, the inputs must hash as before, and the
exit is non-zero with a message and no traceback.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_support import assert_no_traceback, run_cli

ROOT = Path(__file__).resolve().parents[2]
LETTER = ROOT / "tei" / "frus1964-68v29p2-d62.xml"
FILES = 300


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """300 letters (each a little different) and their complete reference build."""
    base = tmp_path_factory.mktemp("interrupt")
    corpus = base / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / "b").mkdir()
    text = LETTER.read_text("utf-8")
    for i in range(FILES):
        sub = "a" if i % 2 else "b"
        (corpus / sub / f"letter-{i:03d}.xml").write_text(
            text.replace("Sincerely,", f"Sincerely ({i}),"), "utf-8"
        )
    reference = base / "reference"
    proc = run_cli("build", corpus, "-o", reference, timeout=600)
    assert_no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode in (0, 1), proc.stderr
    return corpus, reference


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _interrupt(corpus: Path, out: Path, sig: signal.Signals) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUTF8": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "teikit", "build", str(corpus), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and sum(1 for _ in out.rglob("*.txt")) >= 20:
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        proc.communicate()
        pytest.skip("the build finished before it could be interrupted")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _check_outputs(corpus: Path, reference: Path, out: Path, before: dict[str, str]) -> int:
    expected = _hashes(reference)
    found = _hashes(out)
    leftovers = [name for name in found if name.endswith(".tmp") or "/." in f"/{name}"]
    assert leftovers == [], leftovers
    for name, digest in found.items():
        assert expected.get(name) == digest, f"{name} is not a whole output"
    assert 0 < len(found) < len(expected), (len(found), len(expected))
    assert _hashes(corpus) == before  # the inputs were never written
    return len(found)


def test_sigint_leaves_only_whole_outputs(letters: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, reference = letters
    before = _hashes(corpus)
    out = tmp_path / "out"
    proc = _interrupt(corpus, out, signal.SIGINT)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted" in proc.stderr
    assert_no_traceback(proc.stdout, proc.stderr)
    _check_outputs(corpus, reference, out, before)


def test_sigterm_leaves_only_whole_outputs(letters: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, reference = letters
    before = _hashes(corpus)
    out = tmp_path / "out"
    proc = _interrupt(corpus, out, signal.SIGTERM)
    assert proc.returncode != 0
    assert_no_traceback(proc.stdout, proc.stderr)
    # Whatever is under a final name is whole (the rename is atomic); temporary files a
    # default SIGTERM could strand are checked by the test below once the CLI handles it.
    expected = _hashes(reference)
    for name, digest in _hashes(out).items():
        if not name.endswith(".tmp"):
            assert expected.get(name) == digest, f"{name} is not a whole output"
    assert _hashes(corpus) == before


@pytest.mark.xfail(
    strict=True,
    reason="cli.py: SIGTERM should run the same cleanup as SIGINT and both should say "
    "what was done (files done of total, outputs written)",
)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_says_what_was_done(
    letters: tuple[Path, Path], tmp_path: Path, sig: signal.Signals
) -> None:
    corpus, reference = letters
    before = _hashes(corpus)
    out = tmp_path / "out"
    proc = _interrupt(corpus, out, sig)
    assert proc.returncode == 128 + sig.value
    assert "interrupted" in proc.stderr
    written = _check_outputs(corpus, reference, out, before)
    assert f"{written} " in proc.stderr  # "... wrote 57 files ..."
    assert str(FILES) in proc.stderr  # "... of 300 files ..."


def test_output_option_never_overwrites_an_input(letters: tuple[Path, Path]) -> None:
    """``-o`` pointing into the inputs: the inputs still hash as before."""
    corpus, _ = letters
    before = _hashes(corpus)
    one = next(iter(sorted((corpus / "a").iterdir())))
    proc = run_cli("convert", one, "--to", "text", "-o", one)
    assert proc.returncode != 0
    assert_no_traceback(proc.stdout, proc.stderr)
    assert _hashes(corpus) == before
