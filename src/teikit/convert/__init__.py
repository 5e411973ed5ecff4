"""Converters from TEI to reading and exchange formats, all fed by one event walk."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from teikit.convert.cmif import CmifOptions, to_cmif
from teikit.convert.html import HtmlOptions, to_html
from teikit.convert.jsonout import JsonOptions, to_json
from teikit.convert.markdown import MarkdownOptions, to_markdown
from teikit.convert.rules import RenderRules
from teikit.convert.text import NotesMode, TextOptions, to_text
from teikit.document import TeiDocument
from teikit.errors import UsageError
from teikit.loading import LoadOptions, load, load_stream


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options for every format; each converter reads the part it needs.

    The defaults are the command line's (``ConvertOptions() == from_flags()``): no page
    comments in Markdown unless asked for, as ``--pages`` asks.
    """

    text: TextOptions = field(default_factory=TextOptions)
    html: HtmlOptions = field(default_factory=HtmlOptions)
    markdown: MarkdownOptions = field(default_factory=lambda: MarkdownOptions(pages="none"))
    json: JsonOptions = field(default_factory=JsonOptions)
    cmif: CmifOptions = field(default_factory=CmifOptions)
    load: LoadOptions = field(default_factory=LoadOptions)

    @classmethod
    def from_flags(
        cls,
        *,
        width: int = 72,
        notes: NotesMode = "end",
        pages: bool = False,
        diplomatic: bool = False,
        header: bool = False,
        fragment: bool = False,
        rules: RenderRules | None = None,
        cmif: CmifOptions | None = None,
        load: LoadOptions | None = None,
    ) -> ConvertOptions:
        """One set of reader-facing choices applied to every format that has them."""
        rules = rules or RenderRules()  # each Options class checks its own values
        return cls(
            text=TextOptions(
                width=width,
                notes=notes,
                pages=pages,
                diplomatic=diplomatic,
                header=header,
                rules=rules,
            ),
            html=HtmlOptions(fragment=fragment, rules=rules),
            markdown=MarkdownOptions(
                notes="omit" if notes == "omit" else "footnotes",
                pages="comment" if pages else "none",
                diplomatic=diplomatic,
                rules=rules,
            ),
            json=JsonOptions(notes=notes, diplomatic=diplomatic, rules=rules),
            cmif=cmif or CmifOptions(),
            load=load or LoadOptions(),
        )


Render = Callable[[TeiDocument, ConvertOptions], str]

#: Entry-point group through which other packages add formats.
PLUGIN_GROUP = "teikit.converters"


@dataclass(frozen=True, slots=True)
class Format:
    """An output format: its name (``--to``), file suffix and renderer.

    A plugin package provides one in its ``pyproject.toml``::

        [project.entry-points."teikit.converters"]
        tei2csv = "mypackage.teikit_plugin:FORMAT"

    where ``FORMAT = teikit.convert.Format("csv", ".csv", render, "one row per name")``.
    """

    name: str
    suffix: str
    render: Render
    description: str = ""


BUILTIN_FORMATS: tuple[Format, ...] = (
    Format("text", ".txt", lambda doc, o: to_text(doc, o.text), "plain text, notes at the end"),
    Format("html", ".html", lambda doc, o: to_html(doc, o.html), "a standalone HTML5 page"),
    Format("markdown", ".md", lambda doc, o: to_markdown(doc, o.markdown), "Markdown, [^n] notes"),
    Format("json", ".json", lambda doc, o: to_json(doc, o.json), "teikit-json for NLP tools"),
    Format("cmif", ".cmif.xml", lambda doc, o: to_cmif(doc, o.cmif), "CMIF for correspSearch"),
)


def load_formats() -> dict[str, Format]:
    """Built-in formats plus those plugins register; a broken plugin is skipped, not fatal."""
    from importlib.metadata import entry_points

    formats = {f.name: f for f in BUILTIN_FORMATS}
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            loaded = ep.load()
        except Exception:  # a broken plugin must not take teikit down with it
            continue
        if isinstance(loaded, Format) and loaded.name not in formats:
            formats[loaded.name] = loaded
    return formats


class _Formats(Mapping[str, Format]):
    """:func:`load_formats`, asked only when a name is not built in or the whole list is
    wanted: importing ``importlib.metadata`` to find plugins cost a quarter of the start-up
    of every command, most of which only ever name built-in formats."""

    def __init__(self) -> None:
        self._builtin = {f.name: f for f in BUILTIN_FORMATS}
        self._all: dict[str, Format] | None = None

    def _everything(self) -> dict[str, Format]:
        if self._all is None:
            self._all = load_formats()
        return self._all

    def __getitem__(self, name: str) -> Format:
        found = self._builtin.get(name)
        return found if found is not None else self._everything()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._builtin or name in self._everything()

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())


#: Format name -> Format, plugins' included. The CLI's ``--to`` choices come from here.
FORMATS: Mapping[str, Format] = _Formats()
#: The built-in formats' names: known without looking for plugins.
BUILTIN_NAMES: tuple[str, ...] = tuple(f.name for f in BUILTIN_FORMATS)


def convert_document(doc: TeiDocument, to: str, options: ConvertOptions = ConvertOptions()) -> str:
    """Render an already loaded document in format ``to``."""
    try:
        fmt = FORMATS[to]
    except KeyError:
        raise UsageError(f"unknown format {to!r}; choose from {', '.join(FORMATS)}") from None
    return fmt.render(doc, options)


def convert(
    path: str | os.PathLike[str], to: str, options: ConvertOptions = ConvertOptions()
) -> str:
    """Load ``path`` safely and render it; a file that cannot be parsed raises InputError."""
    return convert_document(TeiDocument(load(path, options.load).require()), to, options)


def convert_stream(
    stream: BinaryIO,
    to: str,
    options: ConvertOptions = ConvertOptions(),
    *,
    name: str | os.PathLike[str] | None = None,
) -> str:
    """:func:`convert` for the document ``stream`` holds (standard input), read as the
    file ``name`` (see :func:`teikit.loading.load_stream`)."""
    loaded = load_stream(stream, options.load, name=name)
    return convert_document(TeiDocument(loaded.require()), to, options)


def output_path(source: str | os.PathLike[str], to: str, output: str | os.PathLike[str]) -> Path:
    """Where one file's output goes: ``output``, or inside it when it is a folder (one
    that exists, or a path written with a trailing separator), named as a batch names it
    (``letter.xml`` -> ``OUT/letter.html``)."""
    raw = os.fspath(output)
    folder = Path(raw)
    if not (raw.endswith((os.sep, "/")) or folder.is_dir()):
        return folder
    if to not in FORMATS:
        raise UsageError(f"unknown format {to!r}; choose from {', '.join(FORMATS)}")
    return folder / output_name(Path(source), to)


def output_name(source: Path, to: str) -> str:
    """The file name a format gives ``source``'s output: its suffix replaced."""
    return source.name.removesuffix(source.suffix) + FORMATS[to].suffix


__all__ = [
    "BUILTIN_FORMATS",
    "BUILTIN_NAMES",
    "FORMATS",
    "PLUGIN_GROUP",
    "CmifOptions",
    "ConvertOptions",
    "Format",
    "HtmlOptions",
    "JsonOptions",
    "MarkdownOptions",
    "TextOptions",
    "convert",
    "convert_document",
    "convert_stream",
    "load_formats",
    "output_name",
    "output_path",
    "to_cmif",
    "to_html",
    "to_json",
    "to_markdown",
    "to_text",
]
