"""Converting (and, for ``build``, validating) many files into a mirrored output tree.

``a/b.xml`` under an input folder becomes ``OUT/a/b.txt`` (``.html``, ``.md``...). Each
file is parsed once, in worker processes when ``jobs`` asks for it; a file that cannot be
converted is reported and the others still convert, and so are what the walk could not
look at (a dangling link, an unreadable folder, a named folder with no XML in it). CMIF is
one file for the whole run (``OUT/letters.cmif.xml``) and HTML runs get an ``index.html``
linking every page.

Every output is written whole (see :mod:`teikit.output`). A run that is interrupted
raises :class:`teikit.output.Interrupted` saying how many files were done and how many
outputs written, after removing any temporary file a stopped or killed worker left.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

from lxml import etree

from teikit.checks import id_findings
from teikit.convert import FORMATS, ConvertOptions, convert_document, output_name
from teikit.convert.cmif import to_cmif_many
from teikit.convert.html import E
from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.discovery import XML_SUFFIXES, normalise_suffixes
from teikit.document import TeiDocument
from teikit.errors import OutputError, TeikitError, UsageError
from teikit.info import classify
from teikit.loading import display_name, load
from teikit.output import (
    Interrupted,
    Placed,
    ensure_folder,
    holding_signals,
    remove_stale_temporaries,
    write_atomic,
)
from teikit.parallel import Executor, Progress, load_input, map_files, write_output
from teikit.paths import RealPaths
from teikit.runner import (
    Paths,
    Run,
    ValidateOptions,
    check_loaded,
    find_inputs,
    path_list,
    with_resolve,
)
from teikit.xmlutil import TEI_NS

CMIF_NAME = "letters.cmif.xml"


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """Which formats, how to convert, and whether to validate first (``build``)."""

    formats: tuple[str, ...] = ("text", "html")
    convert: ConvertOptions = field(default_factory=ConvertOptions)
    #: None converts only; otherwise every file is validated too (its findings reported).
    validate: ValidateOptions | None = None
    jobs: int = 1
    #: Write ``index.html`` when HTML is among the formats.
    index: bool = True
    #: Where files are converted: None is ``validate.executor`` when validating, else
    #: the local process pool of ``jobs`` workers (see :class:`ValidateOptions`).
    executor: Executor | None = None
    #: Told of every converted file (None: ``validate.progress`` when validating).
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One result per input file (input order) and every output of the run, in place;
    ``unchanged`` lists those among them that already held what the run would write, and
    were left as they were (see :func:`teikit.output.write_atomic`)."""

    run: Run
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class _Done:
    result: FileResult
    written: tuple[Path, ...] = ()
    title: str | None = None
    failed: bool = False
    #: those of ``written`` that were there already, unchanged
    unchanged: tuple[Path, ...] = ()


def _pairs(
    paths: Sequence[str | os.PathLike[str]],
    suffixes: Sequence[str],
    gitignore: bool,
    out: Path,
    real: RealPaths,
) -> tuple[list[tuple[Path, Path]], list[Diagnostic]]:
    """Each input file with the path its outputs take under the output folder, and what
    the walks could not look at.

    A file found in a folder argument keeps its path below that folder. Files named one
    by one or by a pattern keep their paths below the deepest folder they all share, so
    ``x/doc.xml`` and ``y/doc.xml`` become ``x/doc.*`` and ``y/doc.*``, not one ``doc.*``.
    A walk passes over the output folder, where it lies inside an input folder: what an
    earlier run wrote there (``letters.cmif.xml``) is not an input of this one.
    """
    pairs: list[tuple[Path, Path | None]] = []
    problems: list[Diagnostic] = []
    seen: set[str] = set()
    outputs = os.path.realpath(out).rstrip(os.sep) + os.sep
    for raw in paths:
        base = Path(raw)
        walked = base.is_dir()
        found = find_inputs([base], suffixes, gitignore=gitignore)
        for file in found.files:
            key = real(file)  # never raises, not even for a link loop
            if key in seen or (walked and key.startswith(outputs)):
                continue
            seen.add(key)
            pairs.append((file, file.relative_to(base) if walked else None))
        problems.extend(d for d in found.problems if d not in problems)
    # abspath, not resolve(): a file reached through a link keeps the place it is named by.
    loose = [os.path.abspath(file.parent) for file, rel in pairs if rel is None]  # noqa: PTH100
    try:
        shared = os.path.commonpath(loose) if loose else ""
    except ValueError:  # on different drives (Windows): nothing is shared
        shared = ""

    def place(file: Path) -> Path:
        return Path(os.path.relpath(file, shared)) if shared else Path(file.name)

    return [(file, rel if rel is not None else place(file)) for file, rel in pairs], problems


def _targets(pairs: list[tuple[Path, Path]], formats: Sequence[str], out: Path) -> list[Path]:
    """Every file the run may write for its inputs; a run in which two inputs would write
    the same one (``doc.xml`` and ``doc.tei`` side by side) is refused, since one would
    silently replace the other."""
    owner: dict[Path, Path] = {}
    for file, rel in pairs:
        for fmt in formats:
            if fmt == "cmif":
                continue
            target = _target(out, rel, fmt)
            first = owner.setdefault(target, file)
            if first is not file:
                raise UsageError(
                    f"{first} and {file} would both be written to {target}: "
                    "convert them in separate runs, or rename one"
                )
    return list(owner)


def _target(out: Path, rel: Path, fmt: str) -> Path:
    return out / rel.parent / output_name(rel, fmt)


def _one(
    path: Path,
    *,
    rels: dict[Path, Path],
    out: Path,
    options: BatchOptions,
    inputs: frozenset[Path],
    run: str,
) -> _Done:
    """Load once; validate (when asked); write every format; never raise for the file."""
    loaded = load_input(path, options.convert.load)
    diags: list[Diagnostic] = list(loaded.diagnostics)
    doc = loaded.document
    if doc is None:
        return _Done(
            FileResult(diags[0].file if diags else display_name(path), tuple(diags)), failed=True
        )
    kind, description = classify(doc.root)
    if kind not in ("tei", "tei-corpus", "tei-fragment"):
        diags.append(
            Diagnostic(
                doc.display,
                doc.root.sourceline or 1,
                0,
                Severity.WARNING,
                "tei.not-tei",
                f"{description}; converted as generic XML",
            )
        )
    if options.validate is not None:
        diags.extend(check_loaded(doc, options.validate))
        diags.extend(id_findings(doc))
    tei_doc = TeiDocument(doc)
    placed = Placed()
    failed = False
    for fmt in options.formats:
        if fmt == "cmif":
            continue  # one file for the whole run, written afterwards
        try:
            text = convert_document(tei_doc, fmt, options.convert)
            target = _target(out, rels[path], fmt)
            placed.add(target, write_output(target, text, protect=inputs, real=_output_paths(run)))
        except OutputError as exc:
            failed = True
            diags.append(
                Diagnostic(doc.display, 0, 0, Severity.ERROR, "output.unwritable", str(exc))
            )
        except TeikitError as exc:
            failed = True
            diags.append(
                Diagnostic(
                    doc.display,
                    0,
                    0,
                    Severity.ERROR,
                    "convert.failed",
                    f"cannot convert to {fmt}: {exc}",
                )
            )
    title = tei_doc.title if str(doc.root.tag).startswith(f"{{{TEI_NS}}}") else None
    return _Done(
        FileResult(doc.display, tuple(sorted(diags))),
        tuple(placed.paths),
        title,
        failed,
        tuple(placed.unchanged),
    )


@functools.lru_cache(maxsize=1)
def _output_paths(run: str) -> RealPaths:
    """The resolver of one run's outputs in this process (a worker's, or the run's own):
    each output folder resolved once, not every folder above every output. Made where
    the writing happens, so a worker on another machine never uses the client's answers;
    a new run (a new ``run`` id) starts afresh."""
    return RealPaths()


def _crashed(path: Path, reason: str) -> _Done:
    shown = display_name(path)
    diag = Diagnostic(
        shown,
        0,
        0,
        Severity.ERROR,
        "internal.worker-crashed",
        f"{reason}; run with --jobs 1 to see the error",
    )
    return _Done(FileResult(shown, (diag,)), failed=True)


def run_batch(
    paths: Paths,
    out_dir: str | os.PathLike[str],
    options: BatchOptions = BatchOptions(),
) -> BatchResult:
    """Convert (and with ``options.validate``, validate) every file under ``paths`` (one
    path or several)."""
    started = time.perf_counter()
    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    walk = options.validate
    out = Path(out_dir)
    real = RealPaths()  # _pairs resolves every input; the inputs to protect are those again
    pairs, problems = _pairs(
        path_list(paths),
        normalise_suffixes(walk.suffixes if walk else XML_SUFFIXES),
        walk.gitignore if walk else True,
        out,
        real,
    )
    if not pairs and not problems:
        raise UsageError("no XML files found in the given paths")
    if options.validate is not None:
        options = replace(options, validate=with_resolve(options.validate))
    targets = [*_targets(pairs, options.formats, out), out / "index.html", out / CMIF_NAME]
    ensure_folder(out)
    files = [p for p, _ in pairs]
    inputs = frozenset(Path(real(f)) for f in files)
    checking = options.validate
    executor, progress = options.executor, options.progress
    if checking is not None:
        executor = executor if executor is not None else checking.executor
        progress = progress if progress is not None else checking.progress
    # What workers get: the options without where and how the run itself is done.
    work_options = replace(
        options,
        executor=None,
        progress=None,
        validate=replace(checking, executor=None, progress=None) if checking else None,
    )
    work = functools.partial(
        _one,
        rels=dict(pairs),
        out=out,
        options=work_options,
        inputs=inputs,
        run=os.urandom(8).hex(),
    )
    try:
        done = map_files(
            work, files, options.jobs, crashed=_crashed, executor=executor, progress=progress
        )
    except Interrupted:
        remove_stale_temporaries(targets)  # what a worker killed mid-write left
        raise
    placed = Placed([w for d in done for w in d.written], [u for d in done for u in d.unchanged])
    try:
        results = _finish(done, pairs, out, options, inputs, placed)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        raise Interrupted(
            signum, done=len(files), total=len(files), written=len(placed.paths)
        ) from exc
    finally:
        # A worker that died (killed outright) may have left a temporary file, and so
        # may an earlier run that was killed: none survives a run.
        remove_stale_temporaries(targets)
    minimum = options.validate.min_severity if options.validate else Severity.INFO
    results.extend(FileResult(d.file, (d,)) for d in problems if d.severity >= minimum)
    threshold = Severity.ERROR
    kept = [
        FileResult(
            r.path,
            tuple(
                d
                for d in r.diagnostics
                if options.validate is None or d.severity >= options.validate.min_severity
            ),
        )
        for r in results
    ]
    summary = Summary.of(kept, time.perf_counter() - started, threshold)
    return BatchResult(Run(tuple(kept), summary), tuple(placed.paths), tuple(placed.unchanged))


def _finish(
    done: list[_Done],
    pairs: list[tuple[Path, Path]],
    out: Path,
    options: BatchOptions,
    inputs: frozenset[Path],
    placed: Placed,
) -> list[FileResult]:
    """Write what needs the whole run (CMIF, the index); ``placed`` grows as they are."""
    results = [d.result for d in done]
    if "cmif" in options.formats:
        files = [p for p, _ in pairs]
        extra = _write_cmif(files, out, options, inputs, placed)
        results = _merge(results, extra)
    pages = [
        (d.title or d.result.path, _target(out, rel, "html"))
        for d, (_, rel) in zip(done, pairs, strict=True)
        if not d.failed
    ]
    if "html" in options.formats and options.index and pages:
        index = out / "index.html"
        with holding_signals():  # in place and counted, or neither
            placed.add(index, write_atomic(index, _index_page(pages, out), protect=inputs))
    return results


def _write_cmif(
    files: list[Path],
    out: Path,
    options: BatchOptions,
    inputs: frozenset[Path],
    placed: Placed,
) -> dict[str, list[Diagnostic]]:
    docs: list[TeiDocument] = []
    for file in files:
        loaded = load(file, options.convert.load)
        if loaded.document is not None:
            docs.append(TeiDocument(loaded.document))
    cmif = options.convert.cmif
    if cmif.url is None:  # where this run writes it, not a cmif.xml beside the letters
        cmif = replace(cmif, url=(out / CMIF_NAME).resolve().as_uri())
    result = to_cmif_many(docs, cmif)
    # Asked for CMIF and given none (no file holds a letter): an error, as for one file.
    none = not result.letters
    notes: dict[str, list[Diagnostic]] = {}
    for skipped in result.skipped:
        notes.setdefault(skipped.source, []).append(
            Diagnostic(
                skipped.source,
                0,
                0,
                Severity.ERROR if none else Severity.INFO,
                "cmif.skipped",
                f"not in {CMIF_NAME}"
                + (" (not written: no file has a letter)" if none else "")
                + f": {skipped.reason}",
            )
        )
    if result.letters:
        target = out / CMIF_NAME
        with holding_signals():
            placed.add(target, write_atomic(target, result.xml, protect=inputs))
    return notes


def _merge(results: list[FileResult], extra: dict[str, list[Diagnostic]]) -> list[FileResult]:
    return [
        FileResult(r.path, tuple(sorted((*r.diagnostics, *extra.get(r.path, []))))) for r in results
    ]


def _index_page(pages: list[tuple[str, Path]], out: Path) -> str:
    """A page linking every converted document, by title, in input order."""
    # A path is not a URL: "#", "?", "%" and spaces in file names must be escaped.
    items = [
        E.li(E.a(title, href=quote(target.relative_to(out).as_posix()))) for title, target in pages
    ]
    page = E.html(
        E.head(
            E.meta(charset="utf-8"),
            E.meta(name="viewport", content="width=device-width, initial-scale=1"),
            E.title("Documents"),
            E.style(
                "body{font:1rem/1.5 system-ui,sans-serif;max-width:44rem;"
                "margin:2rem auto;padding:0 1rem}li{margin:.3rem 0}"
            ),
        ),
        E.body(E.main(E.h1("Documents"), E.p(f"{len(pages)} documents"), E.ul(*items))),
        lang="en",
    )
    return etree.tostring(page, doctype="<!DOCTYPE html>", encoding="unicode", method="html") + "\n"
