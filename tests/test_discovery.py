"""Finding files: folders, globs, .gitignore, symbolic links, and what changed in git.

Trees are built in a temporary folder; a ``.git`` folder is enough to mark a repository
root for the walk, and the ``--changed-since`` tests run the real ``git``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from teikit import UsageError, ValidateOptions, validate
from teikit.discovery import (
    XML_SUFFIXES,
    changed_files,
    discover_files,
    is_glob,
    normalise_suffixes,
)
from teikit.runner import discover

TEI = '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>x</p></body></text></TEI>'


def _tree(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text(TEI, "utf-8")


def _rel(files: tuple[Path, ...] | list[Path], root: Path) -> list[str]:
    return [Path(f).absolute().relative_to(root).as_posix() for f in files]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    _tree(
        tmp_path,
        "b.xml",
        "a.tei",
        "notes.txt",
        "sub/c.xml",
        "sub/deeper/d.XML",
        ".hidden/e.xml",
        ".venv/lib/f.xml",
        "sub/.g.xml",
    )
    return tmp_path


# -- folders, files, globs ----------------------------------------------------------------


def test_a_folder_gives_its_xml_and_tei_files_sorted_hidden_ones_skipped(corpus: Path) -> None:
    found = discover_files([corpus])
    assert _rel(found.files, corpus) == ["a.tei", "b.xml", "sub/c.xml", "sub/deeper/d.XML"]
    assert found.problems == ()


def test_paths_keep_the_form_they_were_given_in(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus)
    assert [str(p) for p in discover(["sub"])] == ["sub/c.xml", "sub/deeper/d.XML"]


def test_suffixes_are_configurable(corpus: Path) -> None:
    found = discover_files([corpus], ["txt", ".XML"])
    assert _rel(found.files, corpus) == ["b.xml", "notes.txt", "sub/c.xml", "sub/deeper/d.XML"]
    assert normalise_suffixes(["xml", ".TEI", ".xml"]) == (".xml", ".tei")
    with pytest.raises(UsageError):
        normalise_suffixes([""])


def test_a_named_file_is_taken_whatever_its_suffix(corpus: Path) -> None:
    assert _rel(discover_files([corpus / "notes.txt"]).files, corpus) == ["notes.txt"]


def test_arguments_keep_their_order_and_duplicates_go(corpus: Path) -> None:
    found = discover_files([corpus / "sub", corpus / "b.xml", corpus, corpus / "sub" / "c.xml"])
    assert _rel(found.files, corpus) == [
        "sub/c.xml",
        "sub/deeper/d.XML",
        "b.xml",
        "a.tei",
    ]


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        discover_files([tmp_path / "nope.xml"])


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("**/*.xml", ["b.xml", "sub/c.xml"]),  # suffixes compare case-blind; *.xml does not
        ("*.xml", ["b.xml"]),
        ("sub/**/*.[xX][mM][lL]", ["sub/c.xml", "sub/deeper/d.XML"]),
        ("s?b/*.xml", ["sub/c.xml"]),
        ("*", ["a.tei", "b.xml", "sub/c.xml", "sub/deeper/d.XML"]),  # folders walked whole
        ("**", ["a.tei", "b.xml", "sub/c.xml", "sub/deeper/d.XML"]),
    ],
)
def test_globs_are_expanded_by_teikit(corpus: Path, pattern: str, expected: list[str]) -> None:
    assert _rel(discover_files([f"{corpus}/{pattern}"]).files, corpus) == expected


def test_a_relative_glob_works_from_the_current_folder(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus)
    assert [str(p) for p in discover_files(["**/c.xml"]).files] == ["sub/c.xml"]


def test_a_glob_that_matches_nothing_is_a_usage_error(corpus: Path) -> None:
    with pytest.raises(UsageError, match="matches no files"):
        discover_files([f"{corpus}/**/*.json"])
    with pytest.raises(UsageError, match="matches no files"):
        discover_files([f"{corpus}/nowhere/*.xml"])


def test_an_existing_name_with_glob_characters_is_a_path(tmp_path: Path) -> None:
    _tree(tmp_path, "odd[1].xml", "odd1.xml")
    name = str(tmp_path / "odd[1].xml")
    assert not is_glob(name)
    assert _rel(discover_files([name]).files, tmp_path) == ["odd[1].xml"]


# -- .gitignore -----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _tree(
        tmp_path,
        ".git/info/",
        "tei/a.xml",
        "tei/a.draft.xml",
        "tei/keep.draft.xml",
        "tei/local.xml",
        "tei/sub/local.xml",
        "tei/sub/b.xml",
        "tei/scratch/c.xml",
        "build/out.xml",
        "excluded/x.xml",
    )
    (tmp_path / ".gitignore").write_text("/build/\n*.draft.xml\n!keep.draft.xml\n")
    (tmp_path / "tei" / "sub" / ".gitignore").write_text("local.xml\n")
    (tmp_path / "tei" / ".gitignore").write_text("scratch/\n")
    (tmp_path / ".git" / "info" / "exclude").write_text("excluded/\n")
    return tmp_path


def test_gitignore_files_and_info_exclude_are_honoured(repo: Path) -> None:
    assert _rel(discover_files([repo]).files, repo) == [
        "tei/a.xml",
        "tei/keep.draft.xml",
        "tei/local.xml",
        "tei/sub/b.xml",
    ]


def test_parent_gitignore_files_apply_below_the_walked_folder(repo: Path) -> None:
    assert _rel(discover_files([repo / "tei" / "sub"]).files, repo) == ["tei/sub/b.xml"]
    assert _rel(discover_files([f"{repo}/tei/**/*.xml"]).files, repo) == [
        "tei/a.xml",
        "tei/keep.draft.xml",
        "tei/local.xml",
        "tei/sub/b.xml",
    ]


def test_named_ignored_paths_are_still_taken(repo: Path) -> None:
    assert _rel(discover_files([repo / "build"]).files, repo) == ["build/out.xml"]
    assert _rel(discover_files([repo / "tei" / "a.draft.xml"]).files, repo) == ["tei/a.draft.xml"]


def test_gitignore_can_be_turned_off(repo: Path) -> None:
    assert len(discover_files([repo], gitignore=False).files) == 9


def test_outside_a_repository_only_the_walked_trees_own_gitignore_applies(
    tmp_path: Path,
) -> None:
    _tree(tmp_path, "top/a.xml", "top/inner/b.xml", "top/inner/c.xml")
    (tmp_path / "top" / ".gitignore").write_text("a.xml\n")
    (tmp_path / "top" / "inner" / ".gitignore").write_text("b.xml\n")
    assert _rel(discover_files([tmp_path / "top"]).files, tmp_path) == ["top/inner/c.xml"]
    assert _rel(discover_files([tmp_path / "top" / "inner"]).files, tmp_path) == ["top/inner/c.xml"]


def test_a_nested_repository_uses_its_own_rules(repo: Path) -> None:
    _tree(repo, "vendor/other/.git/", "vendor/other/draft.xml", "vendor/other/y.draft.xml")
    (repo / "vendor" / "other" / ".gitignore").write_text("draft.xml\n")
    assert _rel(discover_files([repo / "vendor"]).files, repo) == ["vendor/other/y.draft.xml"]


# -- symbolic links and unreadable folders ---------------------------------------------------


needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")


@needs_symlinks
def test_a_symlink_loop_ends_and_each_file_comes_once(tmp_path: Path) -> None:
    _tree(tmp_path, "a/x.xml", "a/b/y.xml")
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "self").symlink_to(tmp_path / "a" / "self")
    (tmp_path / "a" / "self.xml").symlink_to(tmp_path / "a" / "self.xml")
    (tmp_path / "a" / "z-alias.xml").symlink_to(tmp_path / "a" / "x.xml")
    found = discover_files([tmp_path])
    # The alias is the same file: kept once, under the name met first.
    assert _rel(found.files, tmp_path) == ["a/b/y.xml", "a/x.xml"]
    # "self" has no XML suffix: not our business; "self.xml" can never be read.
    assert [(d.code, Path(d.file).name) for d in found.problems] == [
        ("io.dangling-symlink", "self.xml")
    ]


@needs_symlinks
def test_a_dangling_link_is_a_finding_not_an_exception(tmp_path: Path) -> None:
    _tree(tmp_path, "ok.xml")
    (tmp_path / "gone.xml").symlink_to(tmp_path / "nowhere.xml")
    found = discover_files([tmp_path])
    assert _rel(found.files, tmp_path) == ["ok.xml"]
    (problem,) = found.problems
    assert problem.code == "io.dangling-symlink"
    assert problem.file.endswith("gone.xml") and "nowhere.xml" in problem.message
    run = validate([tmp_path], ValidateOptions(use_xml_model=False, use_config=False))
    assert [(r.path.rsplit("/", 1)[-1], [d.code for d in r.diagnostics]) for r in run.results] == [
        ("ok.xml", ["schema.none"]),
        ("gone.xml", ["io.dangling-symlink"]),
    ]
    assert run.ok  # a warning: the rest of the corpus decides


def test_an_unreadable_folder_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, "ok.xml", "locked/x.xml")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover_files([tmp_path])
    assert _rel(found.files, tmp_path) == ["ok.xml"]
    (problem,) = found.problems
    assert (problem.code, problem.severity.name) == ("io.unreadable-dir", "ERROR")
    assert "Permission denied" in problem.message


# -- --changed-since --------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _tree(tmp_path, "tei/a.xml", "tei/b.xml", "tei/c.xml", "tei/same.xml", "other/o.xml")
    (tmp_path / ".gitignore").write_text("*.tmp.xml\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "start")
    (tmp_path / "tei" / "a.xml").write_text(TEI + "\n")  # modified
    (tmp_path / "tei" / "c.xml").unlink()  # deleted
    _git(tmp_path, "mv", "tei/b.xml", "tei/b2.xml")  # renamed
    _tree(tmp_path, "tei/new.xml", "tei/x.tmp.xml", "tei/notes.txt", "other/p.xml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@needs_git
def test_changed_files_since_a_revision(git_repo: Path) -> None:
    assert [str(p) for p in changed_files("HEAD", ["tei"])] == [
        "tei/a.xml",
        "tei/b2.xml",
        "tei/new.xml",
    ]
    assert [str(p) for p in changed_files("HEAD", ["other", "tei/a.xml", "tei"])] == [
        "other/p.xml",
        "tei/a.xml",
        "tei/b2.xml",
        "tei/new.xml",
    ]
    assert [str(p) for p in changed_files("HEAD", ["*/n*.xml"])] == ["tei/new.xml"]


@needs_git
def test_validate_checks_only_changed_files_and_none_is_fine(git_repo: Path) -> None:
    opts = ValidateOptions(changed_since="HEAD", use_xml_model=False, use_config=False)
    assert [r.path for r in validate(["."], opts).results] == [
        "other/p.xml",
        "tei/a.xml",
        "tei/b2.xml",
        "tei/new.xml",
    ]
    _git(git_repo, "add", ".")
    _git(git_repo, "commit", "-q", "-m", "more")
    run = validate(["tei"], opts)
    assert run.results == () and run.ok


@needs_git
def test_git_errors_are_usage_errors(
    git_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(UsageError, match="no-such-ref"):
        changed_files("no-such-ref", ["."])
    with pytest.raises(UsageError, match="cannot start with"):
        changed_files("--output=x", ["."])
    os.chdir(tmp_path_factory.mktemp("not-a-repo"))
    with pytest.raises(UsageError, match=r"(?i)not a git repository"):
        changed_files("HEAD", ["."])


# -- pre-commit ----------------------------------------------------------------------------


def test_the_pre_commit_hooks_select_the_suffixes_a_folder_walk_takes() -> None:
    manifest = (Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)$", manifest, re.MULTILINE)
    assert ids == ["teikit-validate", "teikit-validate-tei-all"]
    patterns = re.findall(r"^  files: (\S+)$", manifest, re.MULTILINE)
    assert len(patterns) == len(ids)
    for pattern in patterns:
        for suffix in XML_SUFFIXES:
            assert re.search(pattern, f"tei/letter{suffix}")
        assert not re.search(pattern, "schemas/tei_all.rng")
    assert manifest.count("entry: teikit validate\n") == len(ids)
