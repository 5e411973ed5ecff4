"""Converters from TEI to reading and exchange formats, all fed by one event walk."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from teikit.convert.html import HtmlOptions, to_html
from teikit.convert.text import TextOptions, to_text
from teikit.document import TeiDocument
from teikit.errors import InputError, UsageError
from teikit.loading import LoadOptions, load


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options for every format; each converter reads the part it needs."""

    text: TextOptions = field(default_factory=TextOptions)
    html: HtmlOptions = field(default_factory=HtmlOptions)
    load: LoadOptions = field(default_factory=LoadOptions)


Converter = Callable[[TeiDocument, ConvertOptions], str]

#: Format name -> (converter, file suffix). The CLI's ``--to`` choices come from here.
FORMATS: dict[str, tuple[Converter, str]] = {
    "text": (lambda doc, o: to_text(doc, o.text), ".txt"),
    "html": (lambda doc, o: to_html(doc, o.html), ".html"),
}


def convert_document(doc: TeiDocument, to: str, options: ConvertOptions = ConvertOptions()) -> str:
    """Render an already loaded document in format ``to``."""
    try:
        converter, _ = FORMATS[to]
    except KeyError:
        raise UsageError(f"unknown format {to!r}; choose from {', '.join(FORMATS)}") from None
    return converter(doc, options)


def convert(
    path: str | os.PathLike[str], to: str, options: ConvertOptions = ConvertOptions()
) -> str:
    """Load ``path`` safely and render it; a file that cannot be parsed raises InputError."""
    loaded = load(path, options.load)
    if loaded.document is None:
        first = loaded.diagnostics[0]
        raise InputError(f"{first.location()}: {first.message}")
    return convert_document(TeiDocument(loaded.document), to, options)


__all__ = [
    "FORMATS",
    "ConvertOptions",
    "HtmlOptions",
    "TextOptions",
    "convert",
    "convert_document",
    "to_html",
    "to_text",
]
