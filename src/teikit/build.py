"""The main job: validate every file and write its text and HTML beside each other."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from teikit.convert import FORMATS, ConvertOptions, convert_document
from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.document import TeiDocument
from teikit.errors import UsageError
from teikit.loading import load
from teikit.output import write_atomic
from teikit.runner import Run, ValidateOptions, check_document, discover, schemas_for


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """Which formats to write and how to validate and convert."""

    formats: tuple[str, ...] = ("text", "html")
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    convert: ConvertOptions = field(default_factory=ConvertOptions)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """Validation results (as ``validate`` gives them) and the files written."""

    run: Run
    written: tuple[Path, ...]


def _relative_outputs(paths: list[str | os.PathLike[str]]) -> list[tuple[Path, Path]]:
    """Each input file with its path relative to the argument it was found under."""
    pairs: list[tuple[Path, Path]] = []
    for raw in paths:
        base = Path(raw)
        for file in discover([base]):
            rel = file.relative_to(base) if base.is_dir() else Path(file.name)
            pairs.append((file, rel))
    return pairs


def build(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: BuildOptions = BuildOptions(),
) -> BuildResult:
    """Validate each file once parsed, then write ``OUT/<relative path>.<format suffix>``."""
    started = time.perf_counter()
    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    pairs = _relative_outputs(list(paths))
    if not pairs:
        raise UsageError("no XML files found in the given paths")
    out = Path(out_dir)
    inputs = tuple(p for p, _ in pairs)
    results: list[FileResult] = []
    written: list[Path] = []
    for file, rel in pairs:
        loaded = load(file, options.validate.load)
        diags: list[Diagnostic] = list(loaded.diagnostics)
        if loaded.document is not None:
            doc = loaded.document
            diags.extend(check_document(doc, schemas_for(doc, options.validate)))
            tei_doc = TeiDocument(doc)
            for fmt in options.formats:
                target = out / rel.with_suffix(FORMATS[fmt].suffix)
                write_atomic(
                    target, convert_document(tei_doc, fmt, options.convert), protect=inputs
                )
                written.append(target)
        shown = loaded.document.display if loaded.document else str(file)
        kept = sorted(d for d in diags if d.severity >= options.validate.min_severity)
        results.append(FileResult(shown, tuple(kept)))
    summary = Summary.of(results, time.perf_counter() - started, Severity.ERROR)
    return BuildResult(Run(tuple(results), summary), tuple(written))
