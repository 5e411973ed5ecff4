"""No data lost: an interrupted ``teikit build`` leaves only whole outputs, never an input
written, and says what it did.

A corpus of 300 letters is built once to a reference folder; then the same build is
started again and sent SIGINT (or SIGTERM) once some outputs exist, in one process and
with worker processes. Every output file that exists afterwards must equal its reference
byte for byte (no half-written file under a final name), no temporary file may be left
over, the inputs must hash as before, and the exit is 128 + the signal with a message that
counts exactly the outputs in place, and no traceback. A worker killed outright costs
nothing either: the run finishes, whole, without a temporary file left.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
import threading
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


def _interrupt(
    corpus: Path, out: Path, sig: signal.Signals, *args: str
) -> subprocess.CompletedProcess[str]:
    """``teikit build corpus -o out ARGS``, sent ``sig`` once 20 text outputs exist."""
    env = {**os.environ, "PYTHONUTF8": "1", "NO_COLOR": "1"}
    env.pop("TEIKIT_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "teikit", "build", str(corpus), "-o", str(out), *args],
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


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
STOPPED = re.compile(r"interrupted \((SIG\w+)\): (\d+) of (\d+) files done, (\d+) outputs? written")


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["one-process", "two-workers"])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_interrupt_leaves_whole_outputs_and_says_what_was_done(
    letters: tuple[Path, Path], tmp_path: Path, sig: signal.Signals, jobs: str
) -> None:
    corpus, reference = letters
    before = _hashes(corpus)
    out = tmp_path / "out"
    started = time.monotonic()
    proc = _interrupt(corpus, out, sig, "--jobs", jobs)
    assert time.monotonic() - started < 60  # stopping never hangs
    assert proc.returncode == 128 + sig.value, proc.stderr
    assert_no_traceback(proc.stdout, proc.stderr)
    written = _check_outputs(corpus, reference, out, before)
    m = STOPPED.search(proc.stderr)
    assert m is not None, proc.stderr
    assert m.group(1) == sig.name
    assert int(m.group(3)) == FILES
    assert int(m.group(4)) == written  # exactly the outputs in place
    assert int(m.group(2)) <= FILES
    assert "run again to finish" in proc.stderr


def test_interrupted_validation_says_how_far_it_got(letters: tuple[Path, Path]) -> None:
    """``validate`` stopped by SIGTERM: 143, files checked of the total, no traceback.

    The status line (``--progress``) says when the run is under way.
    """
    corpus, _ = letters
    env = {**os.environ, "PYTHONUTF8": "1", "NO_COLOR": "1"}
    rng = str(ROOT / "schemas" / "teikit-letter.rng")
    command = ["validate", str(corpus), "--jobs", "2", "--progress", "--schema", rng]
    proc = subprocess.Popen(
        [sys.executable, "-m", "teikit", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    errors = proc.stderr
    assert errors is not None
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: errors.read(1), "")))
    reader.start()
    deadline = time.monotonic() + 120
    progress = re.compile(r"(\d+)/300 files")
    while proc.poll() is None and time.monotonic() < deadline:
        counts = [int(n) for n in progress.findall("".join(seen))]
        if counts and max(counts) >= 20:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    reader.join(timeout=60)
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = "".join(seen)
    assert proc.returncode == 143, stderr
    assert_no_traceback(stdout, stderr)
    m = re.search(rf"interrupted \(SIGTERM\): (\d+) of {FILES} files done; run again", stderr)
    assert m is not None, stderr[-500:]
    assert 20 <= int(m.group(1)) < FILES
    assert "written" not in stderr  # validation writes nothing


def test_a_killed_worker_costs_no_output(letters: tuple[Path, Path], tmp_path: Path) -> None:
    """SIGKILL to a worker mid-run (the out-of-memory killer): the run still finishes
    every output, whole, and leaves no temporary file; nothing hangs."""
    corpus, reference = letters
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUTF8": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "teikit", "build", str(corpus), "-o", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and len(killed) < 2:
        if out.is_dir() and sum(1 for _ in out.rglob("*.txt")) >= 20 * (len(killed) + 1):
            workers = _workers(proc.pid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
        time.sleep(0.005)
    stdout, stderr = proc.communicate(timeout=300)
    if not killed:
        pytest.skip("the build finished before a worker could be killed")
    assert_no_traceback(stdout, stderr)
    assert proc.returncode in (0, 1), stderr  # the letters' own findings: 1
    found = _hashes(out)
    assert not [n for n in found if n.endswith(".tmp")]
    assert found == _hashes(reference)  # every output, each whole


def _workers(parent: int) -> list[int]:
    """Worker processes of ``parent``: its grandchildren through the forkserver, or its
    children (fork), except multiprocessing's own helpers."""
    found: list[int] = []
    for child in _children(parent):
        command = Path(f"/proc/{child}/cmdline").read_bytes() if _alive(child) else b""
        if b"forkserver" in command:
            found.extend(_children(child))
        elif b"resource_tracker" not in command:
            found.append(child)
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_a_stale_temporary_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """What a run killed outright (SIGKILL) left beside an output is gone after a run."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "letter.xml").write_bytes(LETTER.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".letter.txt.k1ll3d_x.tmp"
    stale.write_text("half a lett")
    unrelated = out / ".notes.txt.abc.tmp"  # not one of this run's outputs: kept
    unrelated.write_text("x")
    proc = run_cli("build", corpus, "-o", out)
    assert proc.returncode in (0, 1), proc.stderr
    assert (out / "letter.txt").is_file()
    assert not stale.exists()
    assert unrelated.exists()


def test_outputs_get_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    """Written through a temporary file, an output still gets 0666 less the umask (not
    mkstemp's 0600), and a replaced output keeps its mode."""
    out = tmp_path / "letter.txt"
    proc = run_cli("convert", LETTER, "--to", "text", "-o", out)
    assert proc.returncode == 0, proc.stderr
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    out.chmod(0o640)
    proc = run_cli("convert", LETTER, "--to", "text", "-o", out)
    assert proc.returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_output_option_never_overwrites_an_input(letters: tuple[Path, Path]) -> None:
    """``-o`` pointing into the inputs: the inputs still hash as before."""
    corpus, _ = letters
    before = _hashes(corpus)
    one = next(iter(sorted((corpus / "a").iterdir())))
    proc = run_cli("convert", one, "--to", "text", "-o", one)
    assert proc.returncode != 0
    assert_no_traceback(proc.stdout, proc.stderr)
    assert _hashes(corpus) == before
