"""teikit: validate TEI XML against any schema and convert it to text and HTML.

The public API::

    import teikit
    run = teikit.validate(["tei/"])                 # -> Run (results + summary)
    text = teikit.convert("letter.xml", "text")     # -> str
    teikit.build(["tei/"], "out/")                   # validate + write text and HTML
"""

from __future__ import annotations

from teikit.build import BuildOptions, BuildResult, build
from teikit.convert import ConvertOptions, HtmlOptions, TextOptions, convert, convert_document
from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.document import TeiDocument
from teikit.errors import InputError, SchemaError, TeikitError, UsageError
from teikit.loading import Document, LoadOptions, LoadResult, load
from teikit.runner import Run, ValidateOptions, validate, validate_file

__version__ = "0.1.0"

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
    "convert",
    "convert_document",
    "load",
    "validate",
    "validate_file",
]
