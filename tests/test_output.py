"""Where outputs go, and what a user is told when they cannot go there."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from teikit.batch import BatchOptions, run_batch
from teikit.cli import cli
from teikit.convert import output_path
from teikit.errors import OutputError, UsageError
from teikit.output import ensure_folder, write_atomic

from conftest import LETTER


def test_output_path_is_the_file_named_or_a_file_inside_a_folder(tmp_path: Path) -> None:
    assert output_path(LETTER, "text", tmp_path / "a.txt") == tmp_path / "a.txt"
    assert output_path(LETTER, "html", tmp_path) == tmp_path / f"{LETTER.stem}.html"
    new = f"{tmp_path / 'new'}{os.sep}"  # not there yet: the trailing slash says folder
    assert output_path(LETTER, "json", new) == tmp_path / "new" / f"{LETTER.stem}.json"
    assert output_path("x/letter.tei.xml", "markdown", tmp_path) == tmp_path / "letter.tei.md"


def test_writing_onto_a_folder_is_refused_and_the_folder_kept(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("kept")
    with pytest.raises(OutputError, match="it is a folder"):
        write_atomic(tmp_path, "text")
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


def test_a_file_in_the_way_of_a_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(OutputError, match=f"{blocker} is a file, not a folder"):
        write_atomic(blocker / "deeper" / "out.txt", "text")
    with pytest.raises(OutputError, match=f"cannot write to {blocker / 'x'}: {blocker} is a"):
        ensure_folder(blocker / "x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        run_batch([LETTER], blocker, BatchOptions(formats=("text",)))
    assert blocker.read_text() == ""


def test_a_folder_that_cannot_be_written_stops_the_run_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Faked: the tests may run as root, for whom every folder is writable.)"""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    out = tmp_path / "out" / "deeper"
    with pytest.raises(OutputError, match=f"cannot write to {out}: {tmp_path} is not writable"):
        run_batch([LETTER], out, BatchOptions(formats=("text",)))
    assert list(tmp_path.iterdir()) == []


def _letter(path: Path, words: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader/><text><body>'
        f"<p>{words}</p></body></text></TEI>"
    )
    return path


def test_files_of_the_same_name_keep_their_folders(tmp_path: Path) -> None:
    """Named one by one or by a pattern, x/doc.xml and y/doc.xml used to write one
    doc.txt, the second replacing the first, with 'wrote 2 files' and exit 0."""
    first = _letter(tmp_path / "in" / "x" / "doc.xml", "from x")
    second = _letter(tmp_path / "in" / "y" / "doc.xml", "from y")
    out = tmp_path / "out"
    done = run_batch([first, second], out, BatchOptions(formats=("text", "html")))
    assert (out / "x" / "doc.txt").read_text().strip() == "from x"
    assert (out / "y" / "doc.txt").read_text().strip() == "from y"
    assert len(set(done.written)) == len(done.written) == 5  # two texts, two pages, index
    index = (out / "index.html").read_text()
    assert 'href="x/doc.html"' in index and 'href="y/doc.html"' in index
    globbed = run_batch([str(tmp_path / "in" / "*" / "doc.xml")], tmp_path / "g", BatchOptions())
    assert sorted(p.relative_to(tmp_path / "g").as_posix() for p in globbed.written) == [
        "index.html",
        "x/doc.html",
        "x/doc.txt",
        "y/doc.html",
        "y/doc.txt",
    ]


def test_two_inputs_for_one_output_stop_the_run(tmp_path: Path) -> None:
    _letter(tmp_path / "in" / "doc.xml", "one")
    _letter(tmp_path / "in" / "doc.tei", "two")
    with pytest.raises(UsageError, match=r"doc\.(xml|tei) and .*doc\.(xml|tei) would both"):
        run_batch([tmp_path / "in"], tmp_path / "out", BatchOptions(formats=("text",)))
    assert not (tmp_path / "out").exists()


def test_index_links_are_urls_not_paths(tmp_path: Path) -> None:
    """A file named 'a b%20c#x.xml' was linked as 'a b%20c#x.html': the '#' started a
    fragment and '%20' was read as a space."""
    _letter(tmp_path / "in" / "dir #1" / "a b%20c#x.xml", "odd")
    run_batch([tmp_path / "in"], tmp_path / "out", BatchOptions(formats=("html",)))
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'href="dir%20%231/a%20b%2520c%23x.html"' in index
    assert (tmp_path / "out" / "dir #1" / "a b%20c#x.html").is_file()


def test_cmif_of_files_without_letters_is_an_error(tmp_path: Path) -> None:
    """It wrote nothing and said nothing (exit 0); one such file alone is exit 1."""
    _letter(tmp_path / "in" / "a.xml", "no letter here")
    done = run_batch([tmp_path / "in"], tmp_path / "out", BatchOptions(formats=("cmif",)))
    assert not done.run.ok and done.written == ()
    (finding,) = done.run.results[0].diagnostics
    assert finding.code == "cmif.skipped" and "not written: no file has a letter" in finding.message


def test_one_path_is_one_path_and_options_are_checked(tmp_path: Path) -> None:
    """build('letters') used to read each character as a path ('l: no such file')."""
    from teikit import ConvertOptions, build

    done = build(str(LETTER), tmp_path / "out")
    assert sorted(p.name for p in done.written) == [
        "frus1964-68v29p2-d62.html",
        "frus1964-68v29p2-d62.txt",
        "index.html",
    ]
    with pytest.raises(UsageError, match="width must be 0"):
        ConvertOptions.from_flags(width=-5)
    with pytest.raises(UsageError, match="notes must be one of end, inline, omit"):
        ConvertOptions.from_flags(notes="sideways")  # type: ignore[arg-type]


def test_a_second_run_does_not_read_what_the_first_wrote(tmp_path: Path) -> None:
    """-o inside the input folder: the second run took its own letters.cmif.xml for an
    input and refused to overwrite it (exit 2)."""
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "letter.xml").write_bytes(LETTER.read_bytes())
    options = BatchOptions(formats=("cmif", "text"))
    first = run_batch([folder], folder / "out", options)
    again = run_batch([folder], folder / "out", options)
    assert first.run.ok and again.run.ok
    assert [r.path for r in again.run.results] == [str(folder / "letter.xml")]
    assert sorted(p.name for p in again.written) == ["letter.txt", "letters.cmif.xml"]


def test_the_library_defaults_are_the_command_lines(tmp_path: Path) -> None:
    """teikit.convert(p, 'markdown') wrote page comments the command line writes only
    with --pages; info('letter.xml') read each character as a path; output_path with an
    unknown format raised a bare KeyError."""
    from teikit import ConvertOptions, convert
    from teikit.info import info

    assert ConvertOptions() == ConvertOptions.from_flags()
    assert "<!-- page" not in convert(LETTER, "markdown")
    assert [i.kind for i in info(str(LETTER))] == ["tei"]
    assert [i.kind for i in info(LETTER)] == ["tei"]
    with pytest.raises(UsageError, match="unknown format 'pdf'"):
        output_path(LETTER, "pdf", tmp_path)


@pytest.mark.parametrize(
    ("kind", "values", "complaint"),
    [
        ("TextOptions", {"width": -5}, "width must be 0"),
        ("TextOptions", {"notes": "bogus"}, "notes must be one of end, inline, omit"),
        ("HtmlOptions", {"choice": "bogus"}, "choice must be one of source, edited"),
        ("MarkdownOptions", {"pages": "bogus"}, "pages must be one of comment, none"),
        ("MarkdownOptions", {"notes": "inline"}, "notes must be one of footnotes, omit"),
        ("JsonOptions", {"notes": "bogus"}, "notes must be one of end, inline, omit"),
        ("JsonOptions", {"indent": -1}, "indent must be 0 or more"),
        ("CmifOptions", {"date": "not a date"}, "date must be an ISO date"),
        ("CmifOptions", {"edition_type": "bogus"}, "edition type must be one of online"),
        ("CmifOptions", {"url": "not a url"}, "url must be an absolute URL"),
        ("CmifOptions", {"title": "a\x00b"}, "title holds a character XML cannot carry"),
    ],
)
def test_options_are_checked_when_made(kind: str, values: dict[str, Any], complaint: str) -> None:
    """Each was accepted and fell back to a default silently, or made CMIF that fails its
    schema, or (control characters) raised lxml's ValueError later."""
    formats = importlib.import_module("teikit.convert")  # teikit.convert is also a function
    with pytest.raises(UsageError, match=re.escape(complaint)):
        getattr(formats, kind)(**values)


def test_a_batch_cmif_names_itself_where_it_is_written(tmp_path: Path) -> None:
    """Its idno said file:///.../tei/cmif.xml: a file beside the letters that no run
    writes, while the batch wrote OUT/letters.cmif.xml."""
    run_batch([LETTER], tmp_path / "out", BatchOptions(formats=("cmif",)))
    written = tmp_path / "out" / "letters.cmif.xml"
    assert f'<idno type="url">{written.resolve().as_uri()}</idno>' in written.read_text()


def test_an_output_that_holds_the_text_already_is_left_as_it_was(tmp_path: Path) -> None:
    """Every write made a new file, even of the same text: its time changed for the
    tools that look at it (make, rsync), and on ext4 a run into the same folder again
    cost a fifth more, each new file searched past those just replaced."""
    target = tmp_path / "out" / "letter.txt"
    assert write_atomic(target, "Dear Bob,\n") is True
    target.chmod(0o640)
    os.utime(target, (1_000_000_000, 1_000_000_000))
    before = target.stat()
    assert write_atomic(target, "Dear Bob,\n") is False
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # The same length but other words, and other lengths, are written; the mode stays.
    assert write_atomic(target, "Dear Ann,\n") is True
    assert target.read_text() == "Dear Ann,\n"
    assert target.stat().st_ino != before.st_ino
    assert target.stat().st_mode & 0o777 == 0o640
    assert write_atomic(target, "Dear Ann,") is True
    assert target.read_bytes() == b"Dear Ann,"
    assert write_atomic(target, "Dear Ann, Sr.\n") is True
    assert target.read_text() == "Dear Ann, Sr.\n"
    assert [p.name for p in target.parent.iterdir()] == ["letter.txt"]  # no temporary left


def test_a_second_run_writes_only_what_changed(tmp_path: Path) -> None:
    """A run into the folder of an earlier one rewrites the outputs whose text changed
    and says how many it left; the others keep their files and times."""
    one = _letter(tmp_path / "in" / "one.xml", "first words")
    _letter(tmp_path / "in" / "two.xml", "second words")
    out = tmp_path / "out"
    options = BatchOptions(formats=("text", "html"))
    first = run_batch([tmp_path / "in"], out, options)
    assert len(first.written) == 5 and first.unchanged == ()
    times = {p: p.stat().st_mtime_ns for p in first.written}
    again = run_batch([tmp_path / "in"], out, options)
    assert sorted(again.unchanged) == sorted(again.written) == sorted(first.written)
    assert {p: p.stat().st_mtime_ns for p in again.written} == times
    _letter(one, "first words, revised")
    third = run_batch([tmp_path / "in"], out, options)
    changed = sorted(set(third.written) - set(third.unchanged))
    assert changed == [out / "one.html", out / "one.txt"]
    assert (out / "one.txt").read_text().strip() == "first words, revised"
    said = CliRunner().invoke(
        cli, ["convert", str(tmp_path / "in"), "-o", str(out), "--to", "text"]
    )
    assert said.exit_code == 0
    assert said.stderr.strip().endswith(f"wrote 0 file(s) to {out}; 2 already up to date")
