"""Runs over odd paths and runs that are stopped, through the Python API.

* A symbolic link loop, a dangling link, a FIFO or a folder with no XML in it, named or
  found, is a finding of its own in ``validate``, ``build`` and ``convert`` runs; the
  other files are still done, and nothing raises.
* ``build`` walks folders the way ``validate`` does (``--suffix``, ``--no-gitignore``, the
  project's ``ignore``).
* Signals: :func:`teikit.output.holding_signals` holds a signal back until an output is
  in place; an interrupted run raises :class:`teikit.output.Interrupted` with exact
  counts; temporary files a killed process left are removed.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from teikit.batch import BatchOptions, run_batch
from teikit.build import BuildOptions, build
from teikit.discovery import discover_files, names_one_file
from teikit.errors import OutputError
from teikit.output import (
    Interrupted,
    check_signals,
    holding_signals,
    remove_stale_temporaries,
    safe_keyboard_interrupt,
    stop_on_signals,
    write_atomic,
)
from teikit.parallel import map_files, write_output
from teikit.runner import ValidateOptions, find_inputs, validate

TEI_NS = "http://www.tei-c.org/ns/1.0"
LETTER = (
    f'<TEI xmlns="{TEI_NS}"><teiHeader><fileDesc><titleStmt><title>A letter</title>'
    "</titleStmt></fileDesc></teiHeader><text><body><p>Dear friend.</p></body></text></TEI>"
)
NO_SCHEMAS = ValidateOptions(use_xml_model=False, use_config=False)


@pytest.fixture
def odd(tmp_path: Path) -> dict[str, Path]:
    """A good letter, a link loop, a dangling link, a FIFO and a folder with no XML."""
    folder = tmp_path / "in"
    folder.mkdir()
    paths = {
        "good": folder / "good.xml",
        "loop": folder / "loop.xml",
        "dangling": folder / "dangling.xml",
        "fifo": folder / "fifo.xml",
        "empty": folder / "empty.xml",
    }
    paths["good"].write_text(LETTER, "utf-8")
    paths["loop"].symlink_to(folder / "loop-other.xml")
    (folder / "loop-other.xml").symlink_to(paths["loop"])
    paths["dangling"].symlink_to(folder / "missing.xml")
    os.mkfifo(paths["fifo"])
    paths["empty"].mkdir()
    (paths["empty"] / "notes.txt").write_text("not xml", "utf-8")
    return paths


CODES = {
    "loop": "io.dangling-symlink",
    "dangling": "io.dangling-symlink",
    "fifo": "io.not-a-file",
    "empty": "io.no-files",
}


@pytest.mark.parametrize("name", sorted(CODES))
def test_validate_names_the_odd_path_and_checks_the_rest(odd: dict[str, Path], name: str) -> None:
    run = validate([odd[name], odd["good"]], NO_SCHEMAS)
    by_name = {Path(r.path).name: r for r in run.results}
    assert [d.code for d in by_name["good.xml"].diagnostics] == ["schema.none"]  # checked
    (diag,) = by_name[odd[name].name].diagnostics
    assert diag.code == CODES[name] and diag.file.endswith(odd[name].name)
    assert not run.ok


@pytest.mark.parametrize("name", sorted(CODES))
def test_build_names_the_odd_path_and_builds_the_rest(
    odd: dict[str, Path], name: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = build([odd[name], odd["good"]], out, BuildOptions(validate=NO_SCHEMAS))
    assert (out / "good.txt").is_file() and (out / "good.html").is_file()
    codes = {d.code for r in result.run.results for d in r.diagnostics}
    assert CODES[name] in codes
    assert not result.run.ok


def test_a_walked_folder_reports_its_loops_and_dangling_links(
    odd: dict[str, Path], tmp_path: Path
) -> None:
    """Found by a walk (not named), links that lead nowhere are reported by build too."""
    odd["fifo"].unlink()  # a walk never takes a FIFO: only regular files are found
    out = tmp_path / "out"
    result = run_batch([odd["good"].parent], out, BatchOptions(formats=("text",)))
    found = {Path(r.path).name: [d.code for d in r.diagnostics] for r in result.run.results}
    assert found["good.xml"] == []
    assert found["loop.xml"] == ["io.dangling-symlink"]
    assert found["dangling.xml"] == ["io.dangling-symlink"]
    assert [p.name for p in result.written] == ["good.txt"]


def test_an_empty_named_folder_is_a_finding_and_a_full_one_is_not(tmp_path: Path) -> None:
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    full.mkdir()
    (full / "a.xml").write_text(LETTER, "utf-8")
    found = discover_files([empty, full])
    assert [p.name for p in found.files] == ["a.xml"]
    (problem,) = found.problems
    assert problem.code == "io.no-files" and problem.file.endswith("empty")
    assert discover_files([full]).problems == ()
    # hidden or ignored files do not count as XML files the folder holds
    (empty / ".hidden.xml").write_text(LETTER, "utf-8")
    assert [d.code for d in discover_files([empty]).problems] == ["io.no-files"]


def test_find_inputs_never_resolves_a_loop(odd: dict[str, Path], tmp_path: Path) -> None:
    """The project's ignore patterns are looked up without following a link loop."""
    (odd["good"].parent / ".teikit.toml").write_text('ignore = ["drafts/"]\n', "utf-8")
    found = find_inputs([odd["loop"], odd["good"]])
    assert [p.name for p in found.files] == ["loop.xml", "good.xml"]


def test_names_one_file() -> None:
    assert names_one_file(["/dev/null"])  # not a regular file: loading says so
    assert not names_one_file(["/"])  # a folder
    assert not names_one_file(["no/such/*.xml"])  # a pattern
    assert not names_one_file(["/dev/null", "/dev/null"])


def test_build_walks_folders_as_validate_does(tmp_path: Path) -> None:
    """--suffix, --no-gitignore and the project's ignore apply to build's walk too."""
    corpus = tmp_path / "corpus"
    (corpus / "drafts").mkdir(parents=True)
    (corpus / "a.xml").write_text(LETTER, "utf-8")
    (corpus / "b.tei").write_text(LETTER, "utf-8")
    (corpus / "skipped.xml").write_text(LETTER, "utf-8")
    (corpus / "drafts" / "d.xml").write_text(LETTER, "utf-8")
    (corpus / ".gitignore").write_text("skipped.xml\n", "utf-8")
    (corpus / ".teikit.toml").write_text('ignore = ["drafts/"]\n', "utf-8")

    def built(options: ValidateOptions) -> set[str]:
        out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
        result = build([corpus], out, BuildOptions(formats=("text",), validate=options))
        return {p.relative_to(out).as_posix() for p in result.written}

    plain = ValidateOptions(use_xml_model=False)
    assert built(plain) == {"a.txt", "b.txt"}
    assert built(ValidateOptions(use_xml_model=False, gitignore=False)) == {
        "a.txt",
        "b.txt",
        "skipped.txt",
    }
    assert built(ValidateOptions(use_xml_model=False, suffixes=(".tei",))) == {"b.txt"}


# -- signals and outputs -------------------------------------------------------------------


def test_interrupted_says_what_was_done() -> None:
    stopped = Interrupted(signal.SIGTERM, done=57, total=300, written=114)
    assert str(stopped) == (
        "interrupted (SIGTERM): 57 of 300 files done, 114 outputs written; run again to finish"
    )
    assert stopped.exit_code == 143
    assert isinstance(stopped, KeyboardInterrupt)
    assert Interrupted(signal.SIGINT).exit_code == 130
    assert str(Interrupted(signal.SIGINT)) == "interrupted (SIGINT)"
    assert "written" not in str(Interrupted(signal.SIGINT, done=1, total=2))
    assert str(Interrupted(signal.SIGINT, done=2, total=2, written=1)).endswith("1 output written")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_signal_waits_until_the_output_is_in_place(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with stop_on_signals():
        with pytest.raises(Interrupted) as stopped, holding_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            write_atomic(target, "whole")  # not cut short by the signal
            assert target.read_text("utf-8") == "whole"
        assert stopped.value.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # stopping already: a second signal is ignored
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
    with stop_on_signals(), pytest.raises(Interrupted), holding_signals():
        os.kill(os.getpid(), signal.SIGINT)
        check_signals()  # a safe point: raises here
        pytest.fail("check_signals did not raise")
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: Path, target: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", full)
    with pytest.raises(OutputError, match=r"cannot write .*out\.txt: No space left on device"):
        write_atomic(tmp_path / "out.txt", "text")
    assert list(tmp_path.iterdir()) == []


def _write_then_stop(path: Path) -> str:
    """Work for map_files: two outputs per file; the third file is interrupted."""
    if path.name == "f2.xml":
        raise KeyboardInterrupt
    for suffix in (".txt", ".html"):
        write_output(path.with_suffix(suffix), path.name)
    return path.name


def test_an_interrupted_run_counts_exactly(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}.xml" for i in range(5)]
    with pytest.raises(Interrupted) as stopped:
        map_files(_write_then_stop, files, 1, crashed=lambda p, r: r)
    assert (stopped.value.done, stopped.value.total, stopped.value.written) == (2, 5, 4)
    assert stopped.value.signum == signal.SIGINT


def test_safe_keyboard_interrupt_restores_the_default_handler() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with safe_keyboard_interrupt():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        with pytest.raises(KeyboardInterrupt), holding_signals():
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_stale_temporaries_of_the_targets_are_removed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    stale = [tmp_path / ".a.txt.x1y2z3.tmp", tmp_path / "sub" / ".b.html.q_9.tmp"]
    kept = [tmp_path / ".other.txt.x1.tmp", tmp_path / "a.txt", tmp_path / ".a.txt"]
    for path in stale + kept:
        path.write_text("x", "utf-8")
    targets = [tmp_path / "a.txt", tmp_path / "sub" / "b.html", tmp_path / "gone" / "c.txt"]
    assert remove_stale_temporaries(targets) == 2
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
