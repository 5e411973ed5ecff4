"""Running validation over files: discovery, schema selection, ordered results.

Everything here returns values; nothing prints. The CLI and the Python API share it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.engines import compile_schema, language_of
from teikit.errors import SchemaError, UsageError
from teikit.loading import Document, LoadOptions, load
from teikit.schemas import SchemaRef, find_config, xml_model_refs

#: Suffixes taken when a directory is walked.
XML_SUFFIXES = (".xml", ".tei")


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    """What ``validate`` does; the CLI fills this from its options."""

    schemas: tuple[Path, ...] = ()
    use_xml_model: bool = True
    use_config: bool = True
    load: LoadOptions = field(default_factory=LoadOptions)
    #: Diagnostics below this severity are left out of results.
    min_severity: Severity = Severity.INFO


@dataclass(frozen=True, slots=True)
class Run:
    """The outcome of a run: one result per file, in input order, and the counts."""

    results: tuple[FileResult, ...]
    summary: Summary

    @property
    def ok(self) -> bool:
        return self.summary.failed_files == 0


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand directories into their XML files (sorted); a missing path is a usage error."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix.lower() in XML_SUFFIXES
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.exists() or path.is_symlink():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def schemas_for(doc: Document, options: ValidateOptions) -> list[SchemaRef]:
    """The schemas that apply to ``doc``: explicit ones, else xml-model, else config."""
    if options.schemas:
        return [SchemaRef(str(p), None, "option") for p in options.schemas]
    if options.use_xml_model:
        refs = xml_model_refs(doc.tree, doc.path.resolve().parent)
        if refs:
            return refs
    if options.use_config:
        config = find_config(doc.path)
        if config is not None:
            return config.schemas_for(doc.path)
    return []


def check_document(doc: Document, refs: Sequence[SchemaRef]) -> Iterator[Diagnostic]:
    """Run each schema on ``doc``; a schema a file names but that cannot be had is a finding."""
    for ref in refs:
        if ref.is_remote:
            yield Diagnostic(
                doc.display,
                ref.line,
                0,
                Severity.ERROR,
                "schema.unavailable",
                f"schema {ref.location} is named by URL and teikit does not fetch schemas; "
                "save a copy and pass it with --schema FILE",
                schema=ref.location,
            )
            continue
        if ref.origin != "option" and not ref.path.is_file():
            yield Diagnostic(
                doc.display,
                ref.line,
                0,
                Severity.ERROR,
                "schema.unavailable",
                f"schema {ref.location} named by {ref.origin} does not exist",
                schema=ref.location,
            )
            continue
        try:
            compiled = compile_schema(ref.path, ref.language or language_of(ref.path))
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
                schema=ref.location,
            )
            continue
        yield from compiled.check(doc)


def validate_file(
    path: str | os.PathLike[str], options: ValidateOptions = ValidateOptions()
) -> FileResult:
    """Parse and validate one file; never raises for problems in the file itself."""
    loaded = load(path, options.load)
    diags = list(loaded.diagnostics)
    if loaded.document is not None:
        refs = schemas_for(loaded.document, options)
        diags.extend(check_document(loaded.document, refs))
    shown = loaded.document.display if loaded.document else (diags[0].file if diags else str(path))
    kept = sorted(d for d in diags if d.severity >= options.min_severity)
    return FileResult(shown, tuple(kept))


def validate(
    paths: Iterable[str | os.PathLike[str]],
    options: ValidateOptions = ValidateOptions(),
) -> Run:
    """Validate every file under ``paths``; results come back in input order."""
    started = time.perf_counter()
    files = discover(paths)
    if not files:
        raise UsageError("no XML files found in the given paths")
    for schema in options.schemas:
        # Fail fast, before any file is read, when a named schema is unusable.
        compile_schema(schema)
    results = tuple(validate_file(f, options) for f in files)
    return Run(results, Summary.of(results, time.perf_counter() - started))
