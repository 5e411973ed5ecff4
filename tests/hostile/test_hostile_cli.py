"""The hostile corpus through the command line: a message naming the file, a non-zero exit,
never a traceback, and the other files of the run still processed.

``validate``, ``info`` and ``build`` run once over the whole folder (``python -m teikit`` in
a subprocess); ``convert`` runs for every case in-process (through ``teikit.cli.main``,
exit code and streams as a shell sees them), a case whose manifest entry changes a limit
with the flags that change it (``--max-depth``...), and, for one case of each group, in a
subprocess too. The unreadable file is made unreadable in the child process (tests run
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
from teikit.loading import HARD_MAX_DEPTH, HARD_MAX_TEXT

corpus = hostile_support.corpus
server = hostile_support.server

#: What the CLI sees with its default limits: cases that do not change a limit.
CLI_CASES = [c for c in cases() if c.cli and not c.options and c.make != "fifo"]
WALKED = [c for c in CLI_CASES if c.walked]
#: Every case the command line can be pointed at, limits changed by flags where needed.
FLAGGED_CASES = [c for c in cases() if c.cli and c.make != "fifo"]


def limit_flags(options: dict[str, object]) -> list[str]:
    """The command-line flags that give a manifest entry's ``LoadOptions``."""
    flags: list[str] = []
    for name, value in options.items():
        if name == "huge_tree":  # the same as both ceilings
            assert value is True
            flags += ["--max-depth", str(HARD_MAX_DEPTH), "--max-text", str(HARD_MAX_TEXT)]
        elif name == "xinclude":
            assert value is True
            flags.append("--xinclude")
        else:
            assert name in ("max_bytes", "max_depth", "max_text", "max_elements"), name
            flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


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
    # checked, against no schema: the warning says so and does not fail it
    assert [d["code"] for d in by_name["good.xml"]] == ["schema.none"]
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


@pytest.mark.parametrize("case", FLAGGED_CASES, ids=lambda c: c.id)
def test_convert_in_process(
    corpus: Corpus, case: Case, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Each case converted with -o: a folder named like a file is walked (and holds no
    XML), everything else is one file; an error names the file and exits 1."""
    path = corpus.path(case)
    flags = limit_flags(case.options)
    for fmt in ("text",) if case.heavy else ("text", "html", "markdown", "json"):
        target = tmp_path / f"out.{fmt}"
        argv = ["convert", str(path), "--to", fmt, "-o", str(target), *flags]
        with pytest.raises(SystemExit) as exit_info:
            if case.make == "unreadable":
                with unreadable(path):
                    main(argv)
            else:
                main(argv)
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


def test_a_fifo_never_blocks_the_cli(tmp_path: Path) -> None:
    """Named on the command line, a FIFO is refused without being opened: every command
    names it and exits 1 (the human report does not open it to show a source line)."""
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    commands: list[tuple[str | Path, ...]] = [
        ("convert", fifo, "--to", "text"),
        ("convert", fifo, "--to", "text", "-o", tmp_path / "out.txt"),
        ("validate", fifo),
        ("validate", fifo, "--format", "human"),
        ("info", fifo),
        ("build", fifo, "-o", tmp_path / "out"),
        ("split", fifo, "-o", tmp_path / "split"),
    ]
    for command in commands:
        proc = run_cli(*command, timeout=60)
        assert proc.returncode == 1, (command, proc.stderr)
        assert fifo.name in proc.stdout + proc.stderr, command
        assert "io.not-a-file" in proc.stdout + proc.stderr or "not a regular file" in (
            proc.stdout + proc.stderr
        )
        assert_no_traceback(proc.stdout, proc.stderr)
    assert not (tmp_path / "out.txt").exists()


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
        assert "self.xml" in proc.stdout + proc.stderr  # the file loop, reported
    assert (tmp_path / "o" / "sub" / "letter.txt").is_file()  # and the letter, built


@pytest.mark.parametrize("case_id", ["dangling-symlink", "symlink-loop", "directory"])
def test_odd_paths_named_on_the_command_line(corpus: Corpus, case_id: str, tmp_path: Path) -> None:
    """Named as arguments (not found by a walk), each is an error that names it, exit 1.

    A folder is walked (it may hold XML); this one holds none, which is an error of its
    own (``io.no-files``). Converting a folder without -o is a usage error (exit 2)
    that names it too.
    """
    (case,) = [c for c in cases() if c.id == case_id]
    path = corpus.path(case)
    commands: list[tuple[str | Path, ...]] = [
        ("validate", path),
        ("validate", path, "--format", "json"),
        ("convert", path, "--to", "text"),
        ("convert", path, "--to", "text", "-o", tmp_path / "converted"),
        ("info", path),
        ("build", path, "-o", tmp_path / "out"),
        ("split", path, "-o", tmp_path / "split"),
    ]
    for command in commands:
        proc = run_cli(*command, timeout=60)
        output = proc.stdout + proc.stderr
        assert_no_traceback(proc.stdout, proc.stderr)
        assert case.file_name in output, (command, output)
        if case.make == "directory" and command[0] == "convert" and "-o" not in command:
            assert proc.returncode == 2, (command, output)
            assert "needs -o" in output
            continue
        assert proc.returncode == 1, (command, proc.returncode, output)
        if case.make == "directory" and command[0] != "split":
            assert "no XML files" in output and "io.no-files" in output, (command, output)
        elif case.make != "directory":
            assert "io.dangling-symlink" in output or "leads nowhere" in output, (command, output)
    assert not (tmp_path / "converted").exists()


@pytest.mark.parametrize("case_id", ["dangling-symlink", "symlink-loop", "directory", "binary"])
def test_odd_paths_do_not_stop_the_other_files(
    corpus: Corpus, case_id: str, tmp_path: Path
) -> None:
    """Named beside a good file: the odd one is reported by name, the good one done."""
    (case,) = [c for c in cases() if c.id == case_id]
    path, good = corpus.path(case), corpus.good
    proc = run_cli("validate", path, good, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    by_name = {Path(f["path"]).name: f for f in json.loads(proc.stdout)["files"]}
    assert by_name["good.xml"]["valid"] is True
    assert not by_name[case.file_name]["valid"]
    for command in ("convert", "build"):
        out = tmp_path / command
        args: tuple[str | Path, ...] = ("--to", "text") if command == "convert" else ()
        proc = run_cli(command, path, good, *args, "-o", out)
        assert proc.returncode == 1, (command, proc.stderr)
        assert case.file_name in proc.stdout + proc.stderr
        assert (out / "good.txt").is_file(), command
        assert_no_traceback(proc.stdout, proc.stderr)
    proc = run_cli("info", path, good, "--format", "json")
    assert proc.returncode == 1
    kinds = {Path(f["path"]).name: f["kind"] for f in json.loads(proc.stdout)}
    assert kinds["good.xml"] == "tei" and kinds[case.file_name] == "unreadable"


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
