"""The hostile corpus through the command line: a message naming the file, a non-zero exit,
never a traceback, and the other files of the run still processed.

``validate``, ``info`` and ``build`` run once over the whole folder (``python -m teikit`` in
a subprocess); ``convert`` runs for every case in-process (through ``teikit.cli.main``,
exit code and streams as a shell sees them) and, for one case of each group, in a
subprocess too. Cases whose manifest entry changes a limit are left out where the CLI runs
with its defaults. The unreadable file is made unreadable in the child process (tests run
as root, which reads a ``chmod 000`` file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import hostile_support
import pytest
from hostile_cases import TOKEN, Case, cases
from hostile_support import (
    Corpus,
    RecordingServer,
    assert_no_secret,
    assert_no_traceback,
    run_cli,
    unreadable,
)

from teikit.cli import main

corpus = hostile_support.corpus
server = hostile_support.server

#: What the CLI sees with its default limits: cases that do not change a limit.
CLI_CASES = [c for c in cases() if c.cli and not c.options and c.make != "fifo"]
WALKED = [c for c in CLI_CASES if c.walked]


def _unreadable(corpus: Corpus) -> tuple[Path, ...]:
    return (corpus.folder / "unreadable.xml",)


@pytest.fixture(scope="module")
def validated(corpus: Corpus) -> tuple[int, dict[str, list[dict[str, object]]], str]:
    proc = run_cli(
        "validate", corpus.folder, "--format", "json", unreadable_files=_unreadable(corpus)
    )
    assert_no_traceback(proc.stdout, proc.stderr)
    report = json.loads(proc.stdout)
    by_name = {Path(f["path"]).name: f["diagnostics"] for f in report["files"]}
    return proc.returncode, by_name, proc.stdout + proc.stderr


def test_validate_reports_every_file_and_fails(
    validated: tuple[int, dict[str, list[dict[str, object]]], str],
) -> None:
    code, by_name, output = validated
    assert code == 1
    assert by_name["good.xml"] == []
    assert_no_secret(output)


@pytest.mark.parametrize("case", WALKED, ids=lambda c: c.id)
def test_validate_names_each_file_and_construct(
    validated: tuple[int, dict[str, list[dict[str, object]]], str], case: Case
) -> None:
    _, by_name, _ = validated
    assert case.file_name in by_name, sorted(by_name)
    found = by_name[case.file_name]
    codes = {d["code"] for d in found}
    assert {*case.codes, *case.validate_codes} <= codes, found
    for d in found:
        assert str(d["file"]).endswith(case.file_name)
    walk_warns = case.make in ("dangling_symlink", "symlink_loop")  # found, not named
    if (case.error or case.validate_codes) and not walk_warns:
        assert any(d["severity"] == "error" for d in found)


def test_validate_human_output_names_files(corpus: Corpus) -> None:
    proc = run_cli("validate", corpus.folder, "--format", "human", unreadable_files=())
    assert proc.returncode == 1
    assert_no_traceback(proc.stdout, proc.stderr)
    for case in WALKED:
        if case.make != "unreadable" and (case.codes or case.validate_codes):
            assert case.file_name in proc.stdout, case.id


def test_info_describes_every_file(corpus: Corpus) -> None:
    proc = run_cli("info", corpus.folder, "--format", "json", unreadable_files=_unreadable(corpus))
    assert proc.returncode == 1
    assert_no_traceback(proc.stdout, proc.stderr)
    assert_no_secret(proc.stdout, proc.stderr)
    by_name = {Path(f["path"]).name: f for f in json.loads(proc.stdout)}
    assert by_name["good.xml"]["kind"] == "tei"
    for case in WALKED:
        entry = by_name[case.file_name]
        codes = {d["code"] for d in entry["diagnostics"]}
        assert set(case.codes) <= codes, (case.id, entry)
        assert (entry["kind"] == "unreadable") == case.error, (case.id, entry)


def test_build_writes_the_good_files_and_fails(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _digests(corpus.folder)
    proc = run_cli("build", corpus.folder, "-o", out, unreadable_files=_unreadable(corpus))
    assert proc.returncode == 1
    assert_no_traceback(proc.stdout, proc.stderr)
    written = {p.name for p in out.rglob("*") if p.is_file()}
    assert {"good.txt", "good.html"} <= written
    for case in WALKED:
        stem = case.file_name.removesuffix(".xml")
        if case.error:
            assert f"{stem}.txt" not in written, case.id
        elif not case.validate_codes:
            assert {f"{stem}.txt", f"{stem}.html"} <= written, case.id
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for path in out.rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_text("utf-8", "replace"))
    assert _digests(corpus.folder) == before  # inputs never written


def _digests(folder: Path) -> dict[str, int]:
    """Size and mtime of every regular file (the 300 MB sparse one is not hashed)."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            out[path.name] = hash((st.st_size, st.st_mtime_ns))
    return out


#: What the command line still gets wrong (the fixes belong to cli.py and runner.py).
NEEDS_CLI_FIX = {
    "symlink-loop": "runner.validate calls Path.resolve() on a symlink loop (RuntimeError)",
    "directory": "convert treats a folder argument as a folder to walk: exit 2, not 1",
}


def _marked(ids: dict[str, str], selected: list[Case]) -> list[object]:
    return [
        pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=ids[c.id]))
        if c.id in ids
        else pytest.param(c, id=c.id)
        for c in selected
    ]


@pytest.mark.parametrize("case", _marked(NEEDS_CLI_FIX, CLI_CASES))
def test_convert_in_process(
    corpus: Corpus, case: Case, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = corpus.path(case)
    for fmt in ("text",) if case.heavy else ("text", "html", "markdown", "json"):
        target = tmp_path / f"out.{fmt}"
        with pytest.raises(SystemExit) as exit_info:
            if case.make == "unreadable":
                with unreadable(path):
                    main(["convert", str(path), "--to", fmt, "-o", str(target)])
            else:
                main(["convert", str(path), "--to", fmt, "-o", str(target)])
        captured = capsys.readouterr()
        assert_no_traceback(captured.out, captured.err)
        assert_no_secret(captured.out, captured.err)
        if case.error:
            assert exit_info.value.code == 1, (case.id, captured.err)
            assert case.file_name in captured.out + captured.err
            assert not target.is_file()
        else:
            assert exit_info.value.code == 0, (case.id, captured.err)
            assert_no_secret(target.read_text("utf-8"))


#: One case of each kind through the real command line, in a subprocess.
SUBPROCESS = ["billion-laughs", "external-dtd-http-used", "deep-300", "binary", "unreadable"]


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_convert_subprocess(corpus: Corpus, case_id: str) -> None:
    (case,) = [c for c in cases() if c.id == case_id]
    proc = run_cli(
        "convert", corpus.path(case), "--to", "html", unreadable_files=_unreadable(corpus)
    )
    assert proc.returncode == 1
    assert case.file_name in proc.stderr
    assert proc.stdout == ""
    assert_no_traceback(proc.stdout, proc.stderr)
    assert_no_secret(proc.stdout, proc.stderr)


@pytest.mark.xfail(strict=True, reason="convert picks folder mode for a FIFO argument")
def test_a_fifo_never_blocks_the_cli(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    for command in (("convert", fifo, "--to", "text"), ("validate", fifo), ("info", fifo)):
        proc = run_cli(*command, timeout=60)
        assert proc.returncode in (1, 2), proc.stderr
        assert fifo.name in proc.stdout + proc.stderr
        assert_no_traceback(proc.stdout, proc.stderr)


def test_symlink_loop_in_a_walked_folder(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "letter.xml").write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader/><text><body><p>x</p></body>'
        "</text></TEI>"
    )
    (folder / "sub" / "up").symlink_to(folder)  # a folder loop
    (folder / "self.xml").symlink_to(folder / "self.xml")  # a file loop
    commands: list[tuple[str | Path, ...]] = [
        ("validate", folder),
        ("info", folder),
        ("build", folder, "-o", tmp_path / "o"),
    ]
    for command in commands:
        proc = run_cli(*command, timeout=60)
        assert_no_traceback(proc.stdout, proc.stderr)
        assert proc.returncode in (0, 1), proc.stderr
        if command[0] != "build":  # build leaves links that lead nowhere out silently
            assert "self.xml" in proc.stdout + proc.stderr  # the file loop, reported
    assert (tmp_path / "o" / "sub" / "letter.txt").is_file()  # and the letter, built


ODD_NEEDS_FIX = (
    "convert picks folder mode for an argument that is not a regular file "
    "('converting several files needs -o'), and runner resolves symlink loops"
)


@pytest.mark.parametrize(
    "case_id",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=ODD_NEEDS_FIX))
        for name in ("dangling-symlink", "symlink-loop", "directory")
    ],
)
def test_odd_paths_named_on_the_command_line(corpus: Corpus, case_id: str, tmp_path: Path) -> None:
    """Named as arguments (not found by a walk), each is an error that names it."""
    (case,) = [c for c in cases() if c.id == case_id]
    path = corpus.path(case)
    commands: list[tuple[str | Path, ...]] = [
        ("validate", path),
        ("convert", path, "--to", "text"),
        ("info", path),
        ("build", path, "-o", tmp_path / "out"),
    ]
    for command in commands:
        proc = run_cli(*command, timeout=60)
        assert_no_traceback(proc.stdout, proc.stderr)
        assert proc.returncode in (1, 2), (command, proc.returncode, proc.stderr)
        if case.make == "directory":  # a folder argument is walked: it holds no XML
            assert "no XML files" in proc.stderr
        else:
            assert case.file_name in proc.stdout + proc.stderr, (command, proc.stdout, proc.stderr)


def test_output_never_overwrites_an_input(corpus: Corpus, tmp_path: Path) -> None:
    copy = tmp_path / "letter.xml"
    copy.write_bytes(corpus.good.read_bytes())
    before = copy.read_bytes()
    proc = run_cli("convert", copy, "--to", "text", "-o", copy)
    assert proc.returncode != 0
    assert copy.read_bytes() == before
    assert_no_traceback(proc.stdout, proc.stderr)
    link = tmp_path / "link.txt"
    link.symlink_to(copy)
    proc = run_cli("convert", copy, "--to", "text", "-o", link)
    assert proc.returncode != 0
    assert copy.read_bytes() == before


def test_nothing_was_fetched_by_the_cli(
    validated: tuple[int, dict[str, list[dict[str, object]]], str], server: RecordingServer
) -> None:
    assert server.requests == []
    assert TOKEN not in validated[2]
