"""Finding the files a run checks: files, folders and globs, the way git sees the tree.

* A **file** argument is taken as it is (whatever its suffix, even if ignored).
* A **folder** is walked recursively for files whose suffix is one of ``suffixes``
  (``.xml`` and ``.tei`` by default). Hidden entries (``.git``, ``.venv``, ``.draft.xml``)
  are skipped; ``.gitignore`` files in the tree and in its parents up to the repository
  root are honoured, and so is ``.git/info/exclude``, with git's precedence (a deeper file
  wins; within a file the last matching pattern wins; an ignored folder is not entered).
  Outside a git repository only the ``.gitignore`` files inside the walked folder apply.
  A folder named on the command line is walked even if its parents' rules ignore it.
* A **glob** (``'corpus/**/*.xml'``) is expanded here, not by the shell, so quoting works
  the same everywhere: ``*``, ``?`` and ``[...]`` match within one path segment, ``**``
  matches any number of folders. It is walked by the same rules as a folder (hidden and
  ignored entries skipped, suffix filter applied); a folder the glob matches is walked
  whole. A path that exists is never taken for a glob.

Symbolic links are followed; a folder already visited (a link loop, or two links to one
place) is not walked twice. A dangling link or a folder that cannot be read becomes a
:class:`~teikit.Diagnostic` in :attr:`Discovery.problems`, never an exception, and so
does a folder named as an argument that holds no file to take (``io.no-files``: a
folder given where a file was meant, or the wrong folder). A path that does not exist,
or a glob that matches no file, is a :class:`~teikit.UsageError`.

Order is deterministic: arguments in the order given, each one's files sorted by path;
a file found twice (by real path) is kept at its first place.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import UsageError
from teikit.loading import display_name
from teikit.paths import RealPaths

if TYPE_CHECKING:
    import pathspec

#: Suffixes taken when a folder is walked (compared case-insensitively).
XML_SUFFIXES: tuple[str, ...] = (".xml", ".tei")

_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Discovery:
    """The files to check, in order, and what could not be looked at."""

    files: tuple[Path, ...]
    problems: tuple[Diagnostic, ...] = ()


def normalise_suffixes(suffixes: Iterable[str]) -> tuple[str, ...]:
    """``["xml", ".TEI"]`` -> ``(".xml", ".tei")``; an empty suffix is a usage error."""
    out: list[str] = []
    for raw in suffixes:
        s = raw.strip().lower()
        if not s or s == ".":
            raise UsageError(f"invalid suffix {raw!r}: expected something like .xml")
        s = s if s.startswith(".") else "." + s
        if s not in out:
            out.append(s)
    return tuple(out)


def is_glob(raw: str | os.PathLike[str]) -> bool:
    """True when ``raw`` has glob characters and is not the name of an existing path."""
    text = os.fspath(raw)
    return bool(_MAGIC.search(text)) and not os.path.lexists(text)


def names_one_file(paths: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether ``paths`` is one argument naming something other than a folder or a glob.

    That is a file, or an entry that loading refuses with a reason of its own (a FIFO, a
    device, a dangling symbolic link or a link loop): ``teikit convert`` converts it to
    standard output rather than walking it. Nothing is opened or followed to a loop.
    """
    if len(paths) != 1:
        return False
    text = os.fspath(paths[0])
    return os.path.lexists(text) and not Path(text).is_dir()


def discover_files(
    paths: Iterable[str | os.PathLike[str]],
    suffixes: Sequence[str] = XML_SUFFIXES,
    *,
    gitignore: bool = True,
) -> Discovery:
    """Expand ``paths`` (files, folders, globs) into the files to check; see the module doc."""
    sfx = normalise_suffixes(suffixes)
    files: list[Path] = []
    problems: list[Diagnostic] = []
    seen: set[str] = set()
    seen_problems: set[str] = set()
    real = RealPaths()
    for raw in paths:
        found, trouble = _expand(raw, sfx, gitignore)
        for f in found:
            key = real(f)
            if key not in seen:
                seen.add(key)
                files.append(f)
        for d in trouble:
            if d.file not in seen_problems:
                seen_problems.add(d.file)
                problems.append(d)
    return Discovery(tuple(files), tuple(problems))


def _expand(
    raw: str | os.PathLike[str], suffixes: tuple[str, ...], gitignore: bool
) -> tuple[list[Path], list[Diagnostic]]:
    path = Path(raw)
    if path.is_dir():
        walk = _Walk(suffixes, gitignore)
        walk.run(path, accept_all=True)
        if not walk.files and not walk.problems:
            rules = " and not ignored by .gitignore" if gitignore else ""
            walk._problem(
                path,
                "io.no-files",
                Severity.ERROR,
                f"is a folder with no XML files in it (none ending in {', '.join(suffixes)} "
                f"that is not hidden{rules}); name a file or a folder that holds some",
            )
        return sorted(walk.files), sorted(walk.problems)
    if os.path.lexists(path):
        # A file (or a dangling link, which loading reports): named, so taken as it is.
        return [path], []
    text = os.fspath(raw)
    if text == "-":
        raise UsageError("'-' (standard input) is read by 'validate -' and 'convert -' only")
    if not _MAGIC.search(text):
        raise UsageError(f"{text}: no such file or directory")
    base, pattern = _split_glob(text)
    walk = _Walk(suffixes, gitignore, pattern)
    if base.is_dir():
        walk.run(base, accept_all=False)
    if not walk.files:
        wanted = ", ".join(suffixes)
        raise UsageError(f"{text}: the pattern matches no files (suffixes {wanted})")
    return sorted(walk.files), sorted(walk.problems)


# -- globs ------------------------------------------------------------------------------

#: A glob after its literal base: one compiled regex per segment, None for ``**``.
_Pattern = tuple[re.Pattern[str] | None, ...]


def _split_glob(text: str) -> tuple[Path, _Pattern]:
    parts = PurePath(text).parts
    n = 0
    while n < len(parts) and not _MAGIC.search(parts[n]):
        n += 1
    base = Path(*parts[:n]) if n else Path()
    pattern = tuple(None if p == "**" else re.compile(fnmatch.translate(p)) for p in parts[n:])
    return base, pattern


def _glob_match(pattern: _Pattern, parts: tuple[str, ...], *, prefix: bool) -> bool:
    """Whether ``parts`` match ``pattern`` whole, or (``prefix``) may lead to a match."""

    @cache
    def go(i: int, j: int) -> bool:
        if j == len(parts):
            if prefix:
                return i < len(pattern)
            return all(p is None for p in pattern[i:])
        if i == len(pattern):
            return False
        seg = pattern[i]
        if seg is None:
            return go(i + 1, j) or go(i, j + 1)
        return seg.fullmatch(parts[j]) is not None and go(i + 1, j + 1)

    return go(0, 0)


# -- ignore rules -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Level:
    """One ignore file: its patterns and the path from its folder to the current one."""

    spec: pathspec.GitIgnoreSpec
    prefix: tuple[str, ...]

    def below(self, name: str) -> _Level:
        return _Level(self.spec, (*self.prefix, name))


def _read_spec(file: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = file.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    import pathspec  # here: a tenth of start-up, and only walks with ignore files need it

    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    return spec if len(spec) else None


def _git_dir(top: Path) -> Path | None:
    """The git directory of the work tree ``top`` (``.git`` may be a ``gitdir:`` file)."""
    dotgit = top / ".git"
    if dotgit.is_dir():
        return dotgit
    try:
        text = dotgit.read_text("utf-8", errors="replace").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = (top / text[len("gitdir:") :].strip()).resolve()
    try:  # a linked work tree keeps info/ in the common directory
        common = (gitdir / "commondir").read_text("utf-8").strip()
        return (gitdir / common).resolve()
    except OSError:
        return gitdir


def _repo_levels(top: Path, prefix: tuple[str, ...] = ()) -> list[_Level]:
    """``.git/info/exclude`` of the repository at ``top`` (lowest precedence)."""
    gitdir = _git_dir(top)
    spec = _read_spec(gitdir / "info" / "exclude") if gitdir else None
    return [_Level(spec, prefix)] if spec else []


def _ignored(levels: Sequence[_Level], name: str, is_dir: bool) -> bool:
    """Git's answer for ``name`` in the current folder: the deepest deciding file wins."""
    for level in reversed(levels):
        rel = "/".join((*level.prefix, name)) + ("/" if is_dir else "")
        verdict = level.spec.check_file(rel).include
        if verdict is not None:
            return verdict
    return False


def _initial_levels(root: Path) -> list[_Level]:
    """Rules that apply inside ``root``: its parents' up to the repository root, and its own."""
    absolute = _absolute(root)
    chain = [absolute, *absolute.parents]
    top = next((d for d in chain if os.path.lexists(d / ".git")), None)
    own = _read_spec(absolute / ".gitignore")
    own_levels = [_Level(own, ())] if own else []
    if top is None:
        return own_levels
    levels = _repo_levels(top, absolute.relative_to(top).parts)
    # Folders from the repository root down to root's parent, outermost first.
    between = list(reversed(chain[1 : chain.index(top) + 1])) if absolute != top else []
    for folder in between:
        spec = _read_spec(folder / ".gitignore")
        if spec:
            levels.append(_Level(spec, absolute.relative_to(folder).parts))
    parent_view = [_Level(lv.spec, lv.prefix[:-1]) for lv in levels]
    if between and _ignored(parent_view, absolute.name, is_dir=True):
        # Named explicitly: walked even though its parents ignore it.
        levels = _repo_levels(top, absolute.relative_to(top).parts)
    return levels + own_levels


# -- the walk ---------------------------------------------------------------------------


class _Walk:
    """One folder walk; collects files and problems (unsorted)."""

    def __init__(
        self, suffixes: tuple[str, ...], gitignore: bool, pattern: _Pattern | None = None
    ) -> None:
        self.suffixes = suffixes
        self.gitignore = gitignore
        self.pattern = pattern
        self.files: list[Path] = []
        self.problems: list[Diagnostic] = []
        self._visited: set[tuple[int, int]] = set()

    def run(self, root: Path, *, accept_all: bool) -> None:
        levels = _initial_levels(root) if self.gitignore else []
        # (folder, path segments below root, ignore levels, whole folder accepted?)
        stack: list[tuple[Path, tuple[str, ...], list[_Level], bool]] = [
            (root, (), levels, accept_all)
        ]
        while stack:
            folder, rel, levels, whole = stack.pop()
            try:
                st = folder.stat()
                key = (st.st_dev, st.st_ino)
                if key in self._visited:
                    continue
                self._visited.add(key)
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self._problem(folder, "io.unreadable-dir", Severity.ERROR, _reason(exc))
                continue
            for entry in entries:
                self._visit(entry, folder, rel, levels, whole, stack)

    def _visit(
        self,
        entry: os.DirEntry[str],
        folder: Path,
        rel: tuple[str, ...],
        levels: list[_Level],
        whole: bool,
        stack: list[tuple[Path, tuple[str, ...], list[_Level], bool]],
    ) -> None:
        name = entry.name
        if name.startswith("."):
            return
        path = folder / name
        parts = (*rel, name)
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError as exc:
            if not entry.is_symlink():
                self._problem(path, "io.unreadable-dir", Severity.ERROR, _reason(exc))
                return
            is_dir = is_file = False  # a link in a loop: reported below as dangling
        if self.gitignore and _ignored(levels, name, is_dir):
            return
        if is_dir:
            full = whole or (self.pattern is not None and self._matches(parts, prefix=False))
            if not full and self.pattern is not None and not self._matches(parts, prefix=True):
                return
            below = [lv.below(name) for lv in levels]
            if self.gitignore:
                if os.path.lexists(path / ".git"):  # a nested repository: its own rules
                    below = _repo_levels(path)
                spec = _read_spec(path / ".gitignore")
                if spec:
                    below.append(_Level(spec, ()))
            stack.append((path, parts, below, full))
            return
        if not self._wanted(name, parts, whole):
            return
        if is_file:
            self.files.append(path)
        elif entry.is_symlink() and not path.exists():
            target = _readlink(path)
            self._problem(
                path,
                "io.dangling-symlink",
                Severity.WARNING,
                f"symbolic link to {target} leads nowhere (missing target or a loop); not checked",
            )

    def _wanted(self, name: str, parts: tuple[str, ...], whole: bool) -> bool:
        if not name.lower().endswith(self.suffixes):
            return False
        return whole or (self.pattern is not None and self._matches(parts, prefix=False))

    def _matches(self, parts: tuple[str, ...], *, prefix: bool) -> bool:
        assert self.pattern is not None
        return _glob_match(self.pattern, parts, prefix=prefix)

    def _problem(self, path: Path, code: str, severity: Severity, message: str) -> None:
        try:
            shown = display_name(path)
        except (OSError, RuntimeError):  # resolving a link loop
            shown = str(path)
        self.problems.append(Diagnostic(shown, 0, 0, severity, code, message))


def _absolute(path: str | os.PathLike[str]) -> Path:
    """Absolute and normalised, without resolving symbolic links."""
    return Path(os.path.normpath(Path(path).absolute()))


def _reason(exc: OSError) -> str:
    return f"cannot read folder: {exc.strerror or exc}"


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "?"


#: Kept for callers that want a predicate over paths (``changed_files`` uses it).
PathFilter = Callable[[Path], bool]


def selector(
    paths: Iterable[str | os.PathLike[str]], suffixes: Sequence[str] = XML_SUFFIXES
) -> PathFilter:
    """A predicate: would ``path`` be taken by one of ``paths`` (ignore rules aside)?

    Files match themselves; folders match the files with a wanted suffix below them
    (hidden entries excluded); globs match as in a walk. Missing, non-glob paths are a
    usage error, as in :func:`discover_files`.
    """
    sfx = normalise_suffixes(suffixes)
    tests: list[PathFilter] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            tests.append(_under(_absolute(path), None, sfx))
        elif os.path.lexists(path):
            tests.append(_same(_absolute(path)))
        elif _MAGIC.search(os.fspath(raw)):
            base, pattern = _split_glob(os.fspath(raw))
            tests.append(_under(_absolute(base), pattern, sfx))
        else:
            raise UsageError(f"{os.fspath(raw)}: no such file or directory")

    def test(candidate: Path) -> bool:
        return any(t(candidate) for t in tests)

    return test


def _same(target: Path) -> PathFilter:
    real = os.path.realpath(target)
    return lambda p: _absolute(p) == target or os.path.realpath(p) == real


def _under(base: Path, pattern: _Pattern | None, suffixes: tuple[str, ...]) -> PathFilter:
    real_base = Path(os.path.realpath(base))

    def test(candidate: Path) -> bool:
        try:
            rel = _absolute(candidate).relative_to(base).parts
        except ValueError:
            try:  # git reports real paths; the argument may go through a link
                rel = Path(os.path.realpath(candidate)).relative_to(real_base).parts
            except ValueError:
                return False
        if not rel or any(p.startswith(".") for p in rel):
            return False
        if not rel[-1].lower().endswith(suffixes):
            return False
        if pattern is None:
            return True
        # A file matches, or lies below a folder that matches.
        return any(_glob_match(pattern, rel[:n], prefix=False) for n in range(1, len(rel) + 1))

    return test


# -- changed files ----------------------------------------------------------------------


def changed_files(
    ref: str,
    paths: Iterable[str | os.PathLike[str]],
    suffixes: Sequence[str] = XML_SUFFIXES,
) -> list[Path]:
    """Files under ``paths`` changed since ``ref``, for ``--changed-since``.

    Changed means added, copied, modified or renamed between ``ref`` and the working tree
    (``git diff --diff-filter=ACMR REF``), plus untracked files git does not ignore;
    deleted files are left out. Only files that ``paths`` would select are kept (folders
    and globs by suffix, files by name), in discovery order. Git runs in the current
    folder; a folder outside a repository or an unknown ``ref`` is a usage error carrying
    git's message.
    """
    raws = list(paths)
    if ref.startswith("-"):
        raise UsageError(f"--changed-since {ref!r}: a git revision cannot start with '-'")
    top = Path(_git("rev-parse", "--show-toplevel").strip())
    names = _git("-C", str(top), "diff", "--name-only", "-z", "--diff-filter=ACMR", ref, "--")
    untracked = _git("-C", str(top), "ls-files", "--others", "--exclude-standard", "-z")
    changed = [top / name for name in {*names.split("\0"), *untracked.split("\0")} if name.strip()]
    changed = [p for p in changed if p.is_file()]
    cwd = Path.cwd()
    out: list[Path] = []
    seen: set[str] = set()
    for raw in raws:
        wanted = selector([raw], suffixes)
        for p in sorted(p for p in changed if wanted(p)):
            key = os.path.realpath(p)
            if key in seen:
                continue
            seen.add(key)
            try:
                out.append(p.relative_to(cwd))
            except ValueError:
                out.append(p)
    return out


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, encoding="utf-8"
        )
    except OSError as exc:
        raise UsageError(f"--changed-since needs git: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        message = proc.stderr.strip() or f"git {' '.join(args)} failed"
        raise UsageError(f"--changed-since: {message}")
    return proc.stdout
