"""teikit: validate TEI XML against any schema and convert it to text and HTML.

The public API::

    import teikit
    run = teikit.validate(["tei/"])                 # -> Run (results + summary)
    text = teikit.convert("letter.xml", "text")     # -> str
    teikit.build(["tei/"], "out/")                   # validate + write text and HTML
    doc = teikit.load("letter.xml")                 # -> TeiDocument (ids, pointers, entries)
"""

from __future__ import annotations

import os

from teikit import _startup  # noqa: F401  (first: it must run before lxml is imported)
from teikit.build import BuildOptions, BuildResult, build
from teikit.convert import (
    ConvertOptions,
    HtmlOptions,
    TextOptions,
    convert,
    convert_document,
    convert_stream,
)
from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.document import TeiDocument
from teikit.errors import InputError, SchemaError, TeikitError, UsageError
from teikit.loading import Document, LoadOptions, LoadResult, load_stream, parse_bytes
from teikit.loading import load as load_file
from teikit.runner import (
    Run,
    ValidateOptions,
    clear_caches,
    validate,
    validate_file,
    validate_stream,
)

__version__ = "0.1.0"


def load(path: str | os.PathLike[str], options: LoadOptions | None = None) -> TeiDocument:
    """Parse ``path`` safely into a :class:`TeiDocument` (any TEI P5 file, or other XML).

    A file that cannot be parsed raises :class:`InputError` naming the file, line and
    problem; use :func:`load_file` to get the diagnostics as values instead.
    """
    return TeiDocument(load_file(path, options or LoadOptions()).require())


__all__ = [
    "BuildOptions",
    "BuildResult",
    "ConvertOptions",
    "Diagnostic",
    "Document",
    "FileResult",
    "HtmlOptions",
    "InputError",
    "LoadOptions",
    "LoadResult",
    "Run",
    "SchemaError",
    "Severity",
    "Summary",
    "TeiDocument",
    "TeikitError",
    "TextOptions",
    "UsageError",
    "ValidateOptions",
    "build",
    "clear_caches",
    "convert",
    "convert_document",
    "convert_stream",
    "load",
    "load_file",
    "load_stream",
    "parse_bytes",
    "validate",
    "validate_file",
    "validate_stream",
]
