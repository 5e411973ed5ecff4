"""Progress while files run, and what keeps a long local run's memory flat.

The functions given to workers live at module level, so that workers started by
``forkserver`` can import them by name.
"""

from __future__ import annotations

import io
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from teikit import ValidateOptions, validate
from teikit.batch import BatchOptions, run_batch
from teikit.loading import LoadOptions
from teikit.parallel import (
    _SHIPMENT,
    LocalExecutor,
    TerminalProgress,
    _Shipment,
    load_input,
    map_files,
    progress_for,
    write_output,
)

from conftest import FIXTURES, LETTER, ROOT

PROJECT = tuple(ROOT / "schemas" / f"teikit-letter.{s}" for s in ("rng", "xsd", "sch"))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, total: int, total_bytes: int) -> None:
        self.calls.append(("start", (total, total_bytes)))

    def advance(self, path: Path, size: int) -> None:
        self.calls.append(("advance", path.name))

    def finish(self) -> None:
        self.calls.append(("finish", None))


def name(path: Path) -> str:
    return path.name


def nap(path: Path) -> str:
    time.sleep(0.05)
    return path.name


def _files(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        p = tmp_path / f"f{i:02}.xml"
        p.write_bytes(b"x" * (i + 1))
        out.append(p)
    return out


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_hears_of_every_file_once_between_start_and_finish(
    tmp_path: Path, jobs: int
) -> None:
    files = _files(tmp_path, 7)
    seen = Recorder()
    assert map_files(name, files, jobs, crashed=lambda p, r: "", progress=seen) == [
        f.name for f in files
    ]
    assert seen.calls[0] == ("start", (7, sum(range(1, 8))))
    assert seen.calls[-1] == ("finish", None)
    assert sorted(str(c[1]) for c in seen.calls[1:-1]) == sorted(f.name for f in files)


def test_progress_finishes_when_the_run_fails(tmp_path: Path) -> None:
    seen = Recorder()

    def boom(path: Path) -> str:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        map_files(boom, _files(tmp_path, 2), 1, crashed=lambda p, r: "", progress=seen)
    assert seen.calls[-1] == ("finish", None)


def test_the_status_line_shows_files_rate_and_time_left_then_goes() -> None:
    now = [100.0]
    out = io.StringIO()
    bar = TerminalProgress(out, interval=0.0, clock=lambda: now[0])
    bar.start(total=4, total_bytes=4_000_000)
    now[0] = 102.0
    bar.advance(Path("a.xml"), 1_000_000)
    assert out.getvalue().endswith("1/4 files (25%) · 0.5 files/s · 0.5 MB/s · about 0:06 left")
    assert out.getvalue().startswith("\r\x1b[K")
    for f in "bcd":
        bar.advance(Path(f"{f}.xml"), 1_000_000)
    assert "4/4 files (100%)" in out.getvalue() and "left" not in out.getvalue().split("\r")[-1]
    bar.finish()
    assert out.getvalue().endswith("\r\x1b[K")


def test_the_status_line_is_not_redrawn_more_often_than_asked() -> None:
    out = io.StringIO()
    bar = TerminalProgress(out, interval=10.0, clock=lambda: 5.0)
    bar.start(total=100, total_bytes=100)
    for i in range(50):
        bar.advance(Path(f"{i}.xml"), 1)
    assert out.getvalue().count("\r") == 1  # drawn for the first file only


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert progress_for(io.StringIO()) is None  # not a terminal
    assert isinstance(progress_for(Tty()), TerminalProgress)
    assert isinstance(progress_for(io.StringIO(), True), TerminalProgress)  # --progress
    assert progress_for(Tty(), False) is None  # --no-progress
    monkeypatch.setenv("CI", "true")
    assert progress_for(Tty()) is None


def test_validate_and_build_report_progress(tmp_path: Path) -> None:
    seen = Recorder()
    run = validate([FIXTURES / "letters"], ValidateOptions(schemas=PROJECT[:1], progress=seen))
    assert len([c for c in seen.calls if c[0] == "advance"]) == len(run.results)
    seen = Recorder()
    done = run_batch([LETTER], tmp_path, BatchOptions(progress=seen))
    assert seen.calls[1] == ("advance", LETTER.name) and done.run.ok is not None


def test_an_executor_in_the_options_is_used(tmp_path: Path) -> None:
    here = validate([FIXTURES / "letters"], ValidateOptions(schemas=PROJECT[:2]))
    pool = validate(
        [FIXTURES / "letters"], ValidateOptions(schemas=PROJECT[:2], executor=LocalExecutor(2))
    )
    assert pool.results == here.results


def test_files_are_handed_to_workers_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the parent holds must not grow with the corpus: 40 files on 2 workers are
    # not all submitted before the first result is back.
    submitted: list[float] = []
    original = ProcessPoolExecutor.submit

    def counting(self: ProcessPoolExecutor, *args: object, **kwargs: object) -> object:
        submitted.append(time.monotonic())
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting)
    files = _files(tmp_path, 40)
    first_result: list[float] = []
    seen = Recorder()
    seen.advance = lambda path, size: first_result.append(time.monotonic())  # type: ignore[method-assign]
    assert map_files(nap, files, 2, crashed=lambda p, r: "", progress=seen) == [
        f.name for f in files
    ]
    assert len(submitted) == 40
    assert sum(1 for t in submitted if t < first_result[0]) <= 6


def test_shipped_bytes_are_parsed_and_outputs_kept_for_the_client(tmp_path: Path) -> None:
    ghost = tmp_path / "elsewhere" / "letter.xml"
    token = _SHIPMENT.set(_Shipment({ghost: ("shown.xml", LETTER.read_bytes())}, str(tmp_path)))
    try:
        loaded = load_input(ghost)
        assert loaded.document is not None and loaded.document.display == "shown.xml"
        assert load_input(LETTER).document is not None  # not shipped: read from disk
        write_output(Path("out/a.txt"), "text", protect=frozenset())
        with pytest.raises(Exception, match="refusing to overwrite an input"):
            write_output(Path("in.xml"), "x", protect=frozenset({tmp_path / "in.xml"}))
        shipment = _SHIPMENT.get()
        assert shipment is not None and shipment.outputs == [(Path("out/a.txt"), "text")]
    finally:
        _SHIPMENT.reset(token)
    assert not (tmp_path / "out").exists()


def test_a_file_too_large_to_ship_is_refused_as_load_refuses_it(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<a>" + b" " * 200 + b"</a>")
    local = load_input(big, LoadOptions(max_bytes=100))
    size = big.stat().st_size
    token = _SHIPMENT.set(_Shipment({big: (local.diagnostics[0].file, size)}, str(tmp_path)))
    try:
        shipped = load_input(big, LoadOptions(max_bytes=100))
    finally:
        _SHIPMENT.reset(token)
    assert shipped == local


def span(path: Path) -> tuple[float, float]:
    started = time.monotonic()
    time.sleep(0.1)
    return started, time.monotonic()


def test_big_files_wait_for_memory_instead_of_running_at_once(tmp_path: Path) -> None:
    files = []
    for i in range(4):
        p = tmp_path / f"big{i}.xml"
        p.write_bytes(b"x" * 1000)  # needs 8,000 bytes each: only one fits 10,000
        files.append(p)
    spans = LocalExecutor(2, memory_budget=10_000).map_files(
        span, files, crashed=lambda p, r: (0.0, 0.0)
    )
    ordered = sorted(spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))
    both = LocalExecutor(2, memory_budget=100_000).map_files(
        span, files, crashed=lambda p, r: (0.0, 0.0)
    )
    ordered = sorted(both)
    assert any(a[1] > b[0] for a, b in itertools.pairwise(ordered))
