"""Cross-references across a corpus: every pointer must reach an ``xml:id``.

Two halves, so that each file is parsed once:

* :func:`collect` runs where the file was parsed (in a worker, beside the schemas): it
  indexes the file's ``xml:id`` values, checks same-file pointers (``#id``) and repeated
  ids at once, and keeps the pointers into other files as plain, picklable values.
* :func:`check_links` runs once the whole run is done: a pointer into a file of the run
  uses that file's index; a file not in the run is read from disk (once) if it lies under
  the same root (the git work tree, else the folder common to the run's files).

Pointers are the tokens of ``@ref``, ``@corresp``, ``@target``, ``@sameAs``, ``@who``,
``@source`` and ``@facs`` on TEI elements. Checked forms: ``#id`` (same file) and
``relative/path.xml#id`` or ``relative/path.xml`` (another file; the suffix must be one
of the run's XML suffixes, so ``../chapter-9#fn17`` web links and ``page1.jpg`` images are
left alone). Never followed: URLs with a scheme (``http:``, ``https:``, ``mailto:``...),
site-absolute paths (``/history/x#d1``), XPointer schemes (``#xpointer(...)``), and
prefixed pointers (``wd:Q1``) unless the file's ``prefixDef`` maps the prefix to a
relative path or ``#id``. ``egXML`` examples are skipped. ``xml:base`` is honoured.

Codes: ``ref.unresolved`` (``#id`` with no such id in the file), ``xref.unresolved`` (the
other file has no such id), ``xref.missing-file``, ``id.duplicate`` (an ``xml:id`` used
twice in one file), ``xref.outside-root`` (info: a target outside the root is not read).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.loading import Document, LoadOptions, load
from teikit.xmlutil import TEI_NS, XML_ID, readable_path

#: Attributes whose tokens are pointers.
POINTER_ATTRIBUTES = ("ref", "corresp", "target", "sameAs", "who", "source", "facs")
#: Suffixes of files a relative pointer may name (the run's suffixes are added).
XML_SUFFIXES = (".xml", ".tei")

EXAMPLES_NS = "http://www.tei-c.org/ns/Examples"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)
_DOLLAR = re.compile(r"\$(\d)")
_TEI = f"{{{TEI_NS}}}"
_EXAMPLES = f"{{{EXAMPLES_NS}}}"


if os.name == "nt":
    from nturl2path import url2pathname
else:

    def url2pathname(url: str) -> str:
        """What ``urllib.request.url2pathname`` does here, without importing that module
        (it brings http.client, email and ssl into every command's start-up)."""
        return unquote(url)


@dataclass(frozen=True, slots=True)
class Pointer:
    """A pointer into another file, as found in one file."""

    line: int
    xpath: str
    attribute: str
    token: str
    #: Absolute path of the file pointed at.
    target: str
    #: The id after ``#``; None when the pointer names the whole file.
    fragment: str | None


@dataclass(frozen=True, slots=True)
class FileRefs:
    """What one parsed file contributes to the corpus-wide check."""

    #: Real (symlink-free) absolute path: the key other files' pointers are matched on.
    path: str
    display: str
    ids: frozenset[str]
    pointers: tuple[Pointer, ...]
    #: Findings known from this file alone: ``ref.unresolved``, ``id.duplicate``.
    diagnostics: tuple[Diagnostic, ...]


def collect(doc: Document, suffixes: Sequence[str] = XML_SUFFIXES) -> FileRefs:
    """Index ``doc``'s ids, check its same-file pointers, keep its cross-file ones."""
    real = os.path.realpath(doc.path)
    root = doc.root
    ids: dict[str, int] = {}
    diags: list[Diagnostic] = []
    for el in _elements(root):
        ident = el.get(XML_ID)
        if ident is None:
            continue
        if ident in ids:
            diags.append(
                _diag(
                    doc.display,
                    el,
                    "id.duplicate",
                    f'xml:id "{ident}" is already used on line {ids[ident]}',
                )
            )
        else:
            ids[ident] = el.sourceline or 0
    prefixes = _prefix_defs(root)
    wanted = tuple({s.lower() for s in (*XML_SUFFIXES, *suffixes)})
    fallback_base = Path(real).as_uri()
    pointers: list[Pointer] = []
    for el in _elements(root):
        if not str(el.tag).startswith(_TEI):
            continue
        for attr in POINTER_ATTRIBUTES:
            value = el.get(attr)
            if not value:
                continue
            for token in value.split():
                found = _classify(token, prefixes, el.base or fallback_base, real, wanted)
                if found is None:
                    continue
                target, fragment = found
                if target == real:
                    if fragment is not None and fragment not in ids:
                        diags.append(
                            _diag(
                                doc.display,
                                el,
                                "ref.unresolved",
                                f'@{attr} "{token}": no element has xml:id "{fragment}" '
                                "in this file",
                            )
                        )
                    continue
                pointers.append(
                    Pointer(el.sourceline or 0, readable_path(el), attr, token, target, fragment)
                )
    return FileRefs(real, doc.display, frozenset(ids), tuple(pointers), tuple(diags))


def check_links(
    files: Sequence[FileRefs],
    *,
    unparsed: Iterable[str | os.PathLike[str]] = (),
    load_options: LoadOptions | None = None,
    root: str | os.PathLike[str] | None = None,
) -> dict[str, list[Diagnostic]]:
    """Check every cross-file pointer of ``files``; findings keyed by ``FileRefs.path``.

    ``unparsed`` are files of the run that could not be parsed (already reported):
    pointers into them are not checked. ``root`` bounds which files outside the run may
    be read; by default, each pointing file's git work tree, else the folder common to
    ``files``.
    """
    known: dict[str, frozenset[str] | None] = {f.path: f.ids for f in files}
    skip = {os.path.realpath(p) for p in unparsed} - set(known)
    common = _common_folder([f.path for f in files])
    fixed_root = os.path.realpath(root) if root is not None else None
    opts = load_options or LoadOptions()
    found: dict[str, list[Diagnostic]] = {}
    for f in files:
        bound = fixed_root or _repo_top(Path(f.path).parent) or common
        for ptr in f.pointers:
            if os.path.realpath(ptr.target) in skip:
                continue
            diag = _check_pointer(f, ptr, known, bound, opts)
            if diag is not None:
                found.setdefault(f.path, []).append(diag)
    return found


def _check_pointer(
    f: FileRefs,
    ptr: Pointer,
    known: dict[str, frozenset[str] | None],
    bound: str,
    load_options: LoadOptions,
) -> Diagnostic | None:
    real = os.path.realpath(ptr.target)
    where = f'@{ptr.attribute} "{ptr.token}"'
    if real not in known:
        try:
            there = Path(real).is_file()
        except (OSError, ValueError):  # a name too long, or a NUL byte: no such file either
            there = False
        if not there:
            missing = f"{where}: file {_shown(ptr.target)} does not exist"
            return _at(f, ptr, "xref.missing-file", missing)
        if ptr.fragment is None:
            return None
        if not _inside(real, bound):
            return _at(
                f,
                ptr,
                "xref.outside-root",
                f"{where}: {ptr.target} is outside {bound}; not read",
                Severity.INFO,
            )
        known[real] = _ids_on_disk(real, load_options)
    ids = known[real]
    if ptr.fragment is None:
        return None
    if ids is None:
        return _at(
            f,
            ptr,
            "xref.unresolved",
            f"{where}: {ptr.target} could not be parsed, so #{ptr.fragment} cannot be found",
        )
    if ptr.fragment not in ids:
        return _at(
            f,
            ptr,
            "xref.unresolved",
            f'{where}: {_shown(ptr.target)} has no element with xml:id "{ptr.fragment}"',
        )
    return None


# -- helpers ----------------------------------------------------------------------------


def _elements(root: etree._Element) -> Iterator[etree._Element]:
    """Elements outside TEI examples (``egXML`` content is illustration, not data)."""
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and not tag.startswith(_EXAMPLES):
            yield el


def _prefix_defs(root: etree._Element) -> dict[str, list[tuple[re.Pattern[str], str]]]:
    """``prefixDef/@ident`` -> (``@matchPattern``, ``@replacementPattern``) pairs."""
    found: dict[str, list[tuple[re.Pattern[str], str]]] = {}
    for el in root.iter(f"{_TEI}prefixDef"):
        ident, match, repl = (
            el.get("ident"),
            el.get("matchPattern"),
            el.get("replacementPattern"),
        )
        if not ident or match is None or repl is None:
            continue
        try:
            pattern = re.compile(match)
        except re.error:
            continue
        found.setdefault(ident, []).append((pattern, repl))
    return found


def _expand(rest: str, rules: list[tuple[re.Pattern[str], str]]) -> str | None:
    """Apply the first ``prefixDef`` whose pattern matches (TEI writes groups as $1)."""
    for pattern, repl in rules:
        m = pattern.fullmatch(rest)
        if m is not None:
            return _DOLLAR.sub(functools.partial(_group, (m.group(0), *m.groups())), repl)
    return None


def _group(groups: tuple[str | None, ...], ref: re.Match[str]) -> str:
    n = int(ref.group(1))
    return (groups[n] or "") if n < len(groups) else ""


def _classify(
    token: str,
    prefixes: dict[str, list[tuple[re.Pattern[str], str]]],
    base: str,
    this: str,
    suffixes: tuple[str, ...],
) -> tuple[str, str | None] | None:
    """(target file, fragment) for a checkable pointer, else None."""
    if token.startswith("#"):
        frag = token[1:]
        return (this, frag) if _is_id(frag) else None
    m = _SCHEME.match(token)
    if m is not None:
        rules = prefixes.get(m.group(1))
        expanded = _expand(m.group(2), rules) if rules else None
        if expanded is None or _SCHEME.match(expanded):
            return None  # a URL, or a prefix with no local meaning
        token = expanded
        if token.startswith("#"):
            frag = token[1:]
            return (this, frag) if _is_id(frag) else None
    if token.startswith(("/", "\\")):
        return None  # site-absolute: a web path, not a file
    path_part, sep, frag_part = token.partition("#")
    fragment = frag_part if sep else None
    if fragment is not None and not _is_id(fragment):
        fragment = None
    if not path_part.lower().endswith(suffixes):
        return None
    url = urljoin(base, unquote(path_part))
    parts = urlsplit(url)
    if parts.scheme not in ("file", ""):
        return None  # xml:base made it a web address
    target = os.path.normpath(url2pathname(parts.path))
    return target, fragment


def _is_id(fragment: str) -> bool:
    """A bare id, not an XPointer scheme such as ``xpointer(...)`` or ``range(...)``."""
    return bool(fragment) and "(" not in fragment and "/" not in fragment


def _ids_on_disk(path: str, options: LoadOptions) -> frozenset[str] | None:
    loaded = load(path, options)
    if loaded.document is None:
        return None
    return frozenset(
        v for el in _elements(loaded.document.root) if (v := el.get(XML_ID)) is not None
    )


def _repo_top(folder: Path) -> str | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists() or (candidate / ".git").is_symlink():
            return str(candidate)
    return None


def _common_folder(paths: Sequence[str]) -> str:
    folders = [str(Path(p).parent) for p in paths]
    try:
        return os.path.commonpath(folders) if folders else os.sep
    except ValueError:  # different drives
        return os.sep


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:
        return False


def _shown(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _diag(
    file: str, el: etree._Element, code: str, message: str, severity: Severity = Severity.ERROR
) -> Diagnostic:
    return Diagnostic(file, el.sourceline or 0, 0, severity, code, message, xpath=readable_path(el))


def _at(
    f: FileRefs, ptr: Pointer, code: str, message: str, severity: Severity = Severity.ERROR
) -> Diagnostic:
    return Diagnostic(f.display, ptr.line, 0, severity, code, message, xpath=ptr.xpath)
