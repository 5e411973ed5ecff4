"""Running validation over files: discovery, schema selection, ordered results.

Everything here returns values; nothing prints. The CLI and the Python API share it.
A run is: find the files (:mod:`teikit.discovery`: folders, globs, ``.gitignore``, or
only what changed since a git revision), check each one (in worker processes with
:mod:`teikit.parallel` when ``jobs`` asks for it), then, with ``xref``, check pointers
across the files (:mod:`teikit.xref`). Results come back in input order.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from teikit.checks import id_findings
from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.discovery import (
    XML_SUFFIXES,
    Discovery,
    changed_files,
    discover_files,
    normalise_suffixes,
)
from teikit.engines import clear_compiled, compile_schema
from teikit.errors import SchemaError, UsageError
from teikit.loading import (
    STDIN_NAME,
    Document,
    LoadOptions,
    LoadResult,
    display_name,
    load_stream,
)
from teikit.output import Interrupted
from teikit.parallel import Executor, Progress, load_input, map_files
from teikit.paths import RealPaths
from teikit.schemas import (
    ResolveOptions,
    SchemaRef,
    SchemaUnavailable,
    apply_severity,
    default_options,
    document_refs,
    find_config,
    is_ignored,
    prepare_ref,
    set_default_options,
)
from teikit.schemas.config import clear_configs
from teikit.xref import FileRefs, check_links, collect

__all__ = [
    "XML_SUFFIXES",
    "Run",
    "ValidateOptions",
    "check_document",
    "clear_caches",
    "discover",
    "find_inputs",
    "schemas_for",
    "validate",
    "validate_file",
    "validate_stream",
]


#: What the functions below take as ``paths``: one path, or any number of them.
Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def path_list(paths: Paths) -> list[str | os.PathLike[str]]:
    """``paths`` as a list; a single str or PathLike is one path, not its characters."""
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    """What ``validate`` does; the CLI fills this from its options."""

    #: Schemas to use for every file: paths, or URLs resolved offline (catalog, cache).
    schemas: tuple[str | Path, ...] = ()
    #: OASIS XML catalogs (before the configuration's and XML_CATALOG_FILES).
    catalogs: tuple[Path, ...] = ()
    #: Fetch schemas named by URL that no catalog or cache has (None: the config decides).
    allow_network: bool | None = None
    #: Filled in by :func:`validate` from the above, the configuration and the environment.
    resolve: ResolveOptions | None = None
    use_xml_model: bool = True
    use_config: bool = True
    load: LoadOptions = field(default_factory=LoadOptions)
    #: Diagnostics below this severity are left out of results.
    min_severity: Severity = Severity.INFO
    #: Worker processes: 1 checks in this process, 0 uses one per core.
    jobs: int = 1
    #: Where files are checked: None is the local process pool of ``jobs`` workers;
    #: a :class:`teikit.parallel.DaskExecutor` sends them to a Dask cluster.
    executor: Executor | None = None
    #: Told of every checked file as the run goes (:func:`teikit.parallel.progress_for`).
    progress: Progress | None = None
    #: Check ``#id`` and ``file.xml#id`` pointers across the run (see teikit.xref).
    xref: bool = False
    #: Only files changed since this git revision (plus untracked ones).
    changed_since: str | None = None
    #: Suffixes taken when a folder or glob is expanded (named files are always taken).
    suffixes: tuple[str, ...] = XML_SUFFIXES
    #: Honour .gitignore and .git/info/exclude when walking folders.
    gitignore: bool = True


@dataclass(frozen=True, slots=True)
class Run:
    """The outcome of a run: one result per file, in input order, and the counts."""

    results: tuple[FileResult, ...]
    summary: Summary

    @property
    def ok(self) -> bool:
        return self.summary.failed_files == 0


def discover(paths: Paths, suffixes: Sequence[str] = XML_SUFFIXES) -> list[Path]:
    """Expand files, folders and globs into files (see :mod:`teikit.discovery`).

    ``paths`` is one path or several. A missing path is a usage error. Dangling links and
    unreadable folders met on the way are left out here; :func:`validate` reports them.
    """
    return list(discover_files(path_list(paths), suffixes).files)


def find_inputs(
    paths: Paths,
    suffixes: Sequence[str] = XML_SUFFIXES,
    *,
    gitignore: bool = True,
) -> Discovery:
    """The files a run works on, and what could not be looked at (see :mod:`teikit.discovery`).

    The project's ``ignore`` patterns apply to the files a walk or a glob found, never to
    a file named as it is. Nothing here follows a symbolic link loop into an error: such
    a file is kept, and loading it says what it is. ``paths`` is one path or several.
    """
    paths = path_list(paths)
    found = discover_files(paths, suffixes, gitignore=gitignore)
    real = RealPaths()
    named = {real(p) for p in paths if os.path.lexists(p) and not Path(p).is_dir()}
    files = [f for f in found.files if (named and real(f) in named) or not _configured_out(f)]
    return Discovery(tuple(files), found.problems)


def _configured_out(path: Path) -> bool:
    """Whether the configuration of ``path``'s project ignores it."""
    try:
        return is_ignored(path, find_config(path))
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python 3.11, 3.12)
        return False


def schemas_for(doc: Document, options: ValidateOptions) -> list[SchemaRef]:
    """The schemas that apply to ``doc``: explicit ones, else xml-model, else config."""
    if options.schemas:
        return [SchemaRef(str(p), None, "option") for p in options.schemas]
    if options.use_xml_model:
        refs = document_refs(doc.tree, doc.path.resolve().parent)
        if refs:
            return refs
    if options.use_config:
        config = find_config(doc.path)
        if config is not None:
            return config.schemas_for(doc.path)
    return []


def check_document(
    doc: Document, refs: Sequence[SchemaRef], resolve: ResolveOptions | None = None
) -> Iterator[Diagnostic]:
    """Run each schema on ``doc``; a schema a file names but that cannot be had is a finding.

    Schemas named by URL resolve through catalogs and the cache (the network only when
    ``resolve`` allows it). A schema the caller named that cannot be used raises, since
    no file can be checked; one a file names is that file's finding.
    """
    for ref in refs:
        # Findings name the schema as the project does (a path shown as files are, or
        # the URL), never the copy an engine compiled (a cached .rng converted from .rnc).
        shown = ref.location if ref.is_remote else display_name(Path(ref.location))
        if ref.origin != "option" and not ref.is_remote and not ref.path.is_file():
            yield Diagnostic(
                doc.display,
                ref.line,
                0,
                Severity.ERROR,
                "schema.unavailable",
                f"schema {ref.location} named by {ref.origin} does not exist",
                schema=shown,
            )
            continue
        try:
            path, language = _prepared(ref, resolve or default_options())
            compiled = compile_schema(path, language, ref.phase)
        except SchemaUnavailable as exc:
            if ref.origin == "option":
                raise
            yield Diagnostic(
                doc.display,
                ref.line,
                0,
                Severity.ERROR,
                "schema.unavailable",
                str(exc),
                schema=shown,
            )
            continue
        except SchemaError as exc:
            if ref.origin == "option":
                raise
            yield Diagnostic(
                doc.display,
                ref.line,
                0,
                Severity.ERROR,
                "schema.unusable",
                str(exc),
                schema=shown,
            )
            continue
        for diag in compiled.check(doc):
            yield diag if diag.schema == shown else replace(diag, schema=shown)


def _prepared(ref: SchemaRef, resolve: ResolveOptions) -> tuple[Path, str]:
    """:func:`prepare_ref`, once per process for each schema (and its file's mtime)."""
    try:
        stamp = ref.path.stat().st_mtime_ns if not ref.is_remote else 0
    except OSError:
        stamp = -1
    return _prepared_cached(ref.location, ref.language, resolve, stamp)


def clear_caches() -> None:
    """Forget the schemas compiled and the project configurations read in this process.

    Each is read once per process and known by its own file's path and modification
    time, so an edited file that a schema includes, or a configuration file added or
    edited since, is not seen again. A command-line run never needs this; a process
    that lives on while the files change (a notebook, a watcher, a server) calls it
    after they change.
    """
    _prepared_cached.cache_clear()
    clear_compiled()
    clear_configs()


@functools.lru_cache(maxsize=128)
def _prepared_cached(
    location: str, language: str | None, resolve: ResolveOptions, stamp: int
) -> tuple[Path, str]:
    return prepare_ref(SchemaRef(location, language, "option"), resolve)


def check_loaded(doc: Document, options: ValidateOptions) -> list[Diagnostic]:
    """Every schema finding for a parsed document, with the project's severities applied.

    A file no schema applies to gets a ``schema.none`` warning: without it such a file
    would pass as "valid" though only well-formedness and ids were checked.
    """
    set_default_options(options.resolve)
    refs = schemas_for(doc, options)
    found = list(check_document(doc, refs, options.resolve)) if refs else [_no_schema(doc)]
    return apply_severity(found, find_config(doc.path))


#: Why a file without schema is not simply "valid", and how to give it one.
NO_SCHEMA_MESSAGE = (
    "no schema applies to this file: only well-formedness and ids were checked; "
    "name one with --schema, an <?xml-model?> or [tool.teikit.schemas]"
)


def _no_schema(doc: Document) -> Diagnostic:
    """The ``schema.none`` warning, on the root element's line."""
    line = doc.root.sourceline or 1
    return Diagnostic(doc.display, line, 0, Severity.WARNING, "schema.none", NO_SCHEMA_MESSAGE)


def _configured(path: Path, diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    """``diags`` with the severities of ``path``'s project, so that ``off`` drops any code."""
    if not diags:
        return []
    try:
        config = find_config(path)
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python 3.11, 3.12)
        return list(diags)
    return apply_severity(diags, config)


@dataclass(frozen=True, slots=True)
class _Checked:
    """One file's findings (unfiltered) and, with ``xref``, what its pointers need."""

    result: FileResult
    refs: FileRefs | None = None
    parsed: bool = True


def _check(path: Path, options: ValidateOptions, loaded: LoadResult | None = None) -> _Checked:
    """Parse once (unless ``loaded`` is given), run the schemas, and collect ids and
    pointers from the same tree."""
    if loaded is None:
        loaded = load_input(path, options.load)
    doc = loaded.document
    # A file that could not be parsed keeps its findings: configured away, it would pass.
    diags = list(loaded.diagnostics) if doc is None else _configured(path, loaded.diagnostics)
    refs = None
    if doc is not None:
        diags.extend(check_loaded(doc, options))
        # xref reports duplicate ids itself, with the pointers that depend on them
        diags.extend(_configured(path, id_findings(doc, duplicates=not options.xref)))
        if options.xref:
            refs = collect(doc, options.suffixes)
            diags.extend(_configured(path, refs.diagnostics))
    shown = doc.display if doc else (diags[0].file if diags else display_name(path))
    return _Checked(FileResult(shown, tuple(diags)), refs, doc is not None)


def _crashed(path: Path, reason: str) -> _Checked:
    shown = display_name(path)
    message = f"{reason}; run with --jobs 1 to see the error"
    diag = Diagnostic(shown, 0, 0, Severity.ERROR, "internal.worker-crashed", message)
    return _Checked(FileResult(shown, (diag,)), None, False)


def _warm(schemas: Sequence[str | Path], resolve: ResolveOptions | None) -> None:
    """Compile the schemas named by the caller: once per process, before any file."""
    set_default_options(resolve)
    for schema in schemas:
        path, language = prepare_ref(
            SchemaRef(str(schema), None, "option"), resolve or default_options()
        )
        compile_schema(path, language)


def _kept(result: FileResult, extra: Sequence[Diagnostic], options: ValidateOptions) -> FileResult:
    diags = [*result.diagnostics, *extra]
    kept = sorted(d for d in diags if d.severity >= options.min_severity)
    return replace(result, diagnostics=tuple(kept))


def with_resolve(options: ValidateOptions) -> ValidateOptions:
    """Fill ``options.resolve`` from the catalogs and network choice, the project
    configuration (found from the working directory) and ``XML_CATALOG_FILES``."""
    if options.resolve is not None:
        return options
    resolve = ResolveOptions.build(
        catalogs=options.catalogs,
        allow_network=options.allow_network,
        config=find_config(Path.cwd()),
    )
    return replace(options, resolve=resolve)


def validate_file(
    path: str | os.PathLike[str], options: ValidateOptions = ValidateOptions()
) -> FileResult:
    """Parse and validate one file; never raises for problems in the file itself.

    With ``options.xref`` its pointers into other files are checked against those files
    on disk.
    """
    options = with_resolve(options)
    return _validate_one(Path(path), options)


def validate_stream(
    stream: BinaryIO,
    options: ValidateOptions = ValidateOptions(),
    *,
    name: str | os.PathLike[str] | None = None,
) -> Run:
    """Validate the document ``stream`` holds (standard input), as the file ``name``.

    For editors that check an unsaved buffer: the file's ``<?xml-model?>`` and its
    configuration apply, from its folder, and findings name it (``<stdin>`` without a
    name: references then resolve from the working folder). See :func:`load_stream`.
    """
    started = time.perf_counter()
    options = with_resolve(options)
    _check_named_schemas(options)
    loaded = load_stream(stream, options.load, name=name)
    path = loaded.document.path if loaded.document is not None else Path(name or STDIN_NAME)
    result = _validate_one(path, options, loaded)
    return Run((result,), Summary.of([result], time.perf_counter() - started))


def _validate_one(
    path: Path, options: ValidateOptions, loaded: LoadResult | None = None
) -> FileResult:
    checked = _check(path, options, loaded)
    extra: list[Diagnostic] = []
    if checked.refs is not None:
        links = check_links([checked.refs], load_options=options.load)
        extra = _configured(path, links.get(checked.refs.path, []))
    return _kept(checked.result, extra, options)


def validate(
    paths: Paths,
    options: ValidateOptions = ValidateOptions(),
) -> Run:
    """Validate every file under ``paths``; results come back in input order.

    ``paths`` may be files, folders or globs, or a single one (``validate("a.xml")``).
    With ``options.changed_since`` only files changed since that git revision are checked,
    and finding none is not an error.
    """
    started = time.perf_counter()
    paths = path_list(paths)
    suffixes = normalise_suffixes(options.suffixes)
    options = with_resolve(options)
    problems: tuple[Diagnostic, ...] = ()
    if options.changed_since is not None:
        files = changed_files(options.changed_since, paths, suffixes)
    else:
        found = find_inputs(paths, suffixes, gitignore=options.gitignore)
        files, problems = list(found.files), found.problems
        if not files and not problems:
            raise UsageError("no XML files found in the given paths")
    _check_named_schemas(options)
    # What workers get: the options without where and how the run itself is done.
    work_options = replace(options, executor=None, progress=None)
    try:
        checked = _check_all(files, options, work_options)
    except Interrupted as exc:  # nothing is written: say how many files were checked
        raise exc.with_counts(done=exc.done, total=exc.total, written=None) from exc
    links: dict[str, list[Diagnostic]] = {}
    if options.xref:
        links = check_links(
            [c.refs for c in checked if c.refs is not None],
            unparsed=[f for f, c in zip(files, checked, strict=True) if not c.parsed],
            load_options=options.load,
        )
    results = [
        _kept(c.result, _configured(Path(c.refs.path), links.get(c.refs.path, [])), options)
        if c.refs
        else _kept(c.result, [], options)
        for c in checked
    ]
    # Dangling links and unreadable folders: a result of their own, after the files.
    for problem in problems:
        for d in _configured(Path(problem.file), [problem]):
            if d.severity >= options.min_severity:
                results.append(FileResult(d.file, (d,)))
    return Run(tuple(results), Summary.of(results, time.perf_counter() - started))


def _check_named_schemas(options: ValidateOptions) -> None:
    """Before any work: a named schema must exist (offline) and be of a known language;
    compiling happens once per process in _warm."""
    for schema in options.schemas:
        ref = SchemaRef(str(schema), None, "option")
        if not ref.is_remote and not ref.path.is_file():
            what = (
                "it is a folder"
                if ref.path.is_dir()
                else "it is not a regular file"
                if ref.path.exists()
                else "no such file"
            )
            raise SchemaError(f"{schema}: cannot read schema ({what})")
        prepare_ref(ref, options.resolve or default_options())


def _check_all(
    files: list[Path], options: ValidateOptions, work_options: ValidateOptions
) -> list[_Checked]:
    """Every file checked, where ``options`` says, in input order."""
    return (
        map_files(
            functools.partial(_check, options=work_options),
            files,
            options.jobs,
            executor=options.executor,
            progress=options.progress,
            crashed=_crashed,
            warm=functools.partial(_warm, options.schemas, options.resolve),
            # Forked workers inherit these; Schematron (SaxonC threads) is never compiled
            # before a fork.
            share=functools.partial(
                _warm,
                [s for s in options.schemas if not str(s).lower().endswith(".sch")],
                options.resolve,
            ),
        )
        if files
        else []
    )
