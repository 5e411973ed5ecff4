"""Validation engines behind one protocol.

Each engine turns a schema file into a :class:`Compiled` once; ``check`` then runs it
against any number of parsed documents and yields :class:`~teikit.Diagnostic` values.
Which engine serves a schema is decided by :func:`engine_for` from the file name (and,
for ``<?xml-model?>``, from the declared schema language).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from teikit.diagnostics import Diagnostic
from teikit.errors import SchemaError
from teikit.loading import Document


class Compiled(Protocol):
    """A schema ready to check documents; safe to reuse for many files."""

    #: Name shown in diagnostics (the schema path as the user gave it).
    schema: str

    def check(self, doc: Document) -> Iterator[Diagnostic]:
        """Yield every finding for ``doc``; yield nothing when it is valid."""
        ...


Compiler = Callable[[Path], Compiled]

#: Schema language name -> file suffixes it is recognised by.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "relaxng": (".rng",),
    "rnc": (".rnc",),
    "xsd": (".xsd",),
    "schematron": (".sch",),
}


def language_of(path: Path) -> str:
    """The schema language a file name says, or a SchemaError naming the choices."""
    suffix = path.suffix.lower()
    for language, suffixes in LANGUAGES.items():
        if suffix in suffixes:
            return language
    known = ", ".join(s for sfx in LANGUAGES.values() for s in sfx)
    raise SchemaError(f"{path}: unknown schema type {suffix or '(no suffix)'!r}; expected {known}")


def _compiler(language: str) -> Compiler:
    # Imported lazily: Saxon and xmlschema take time to import and many runs need one.
    if language == "relaxng":
        from teikit.engines.relaxng import compile_relaxng

        return compile_relaxng
    if language == "rnc":
        from teikit.engines.rnc import compile_rnc

        return compile_rnc
    if language == "xsd":
        from teikit.engines.xsd import compile_xsd

        return compile_xsd
    from teikit.engines.schematron import compile_schematron

    return compile_schematron


def compile_schema(
    path: str | Path, language: str | None = None, phase: str | None = None
) -> Compiled:
    """Compile ``path`` (cached per process, keyed on the file's path, mtime and phase).

    ``phase`` picks a Schematron phase (``#ALL``, ``#DEFAULT`` or an id, as
    ``<?xml-model phase=...?>`` names it); other languages have no phases and ignore it.
    A phase the schema does not define raises :class:`SchemaError` naming those it has.
    """
    p = Path(path)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError as exc:
        raise SchemaError(f"{p}: cannot read schema ({exc.strerror or exc})") from None
    language = language or language_of(p)
    chosen = (phase or "").strip() or None
    if language != "schematron" or chosen == "#DEFAULT":
        chosen = None  # one compiled schema, one cache entry, for the default phase
    return _compile_cached(str(p), stamp, language, chosen)


def clear_compiled() -> None:
    """Forget every compiled schema (see :func:`teikit.clear_caches`)."""
    _compile_cached.cache_clear()


@lru_cache(maxsize=64)
def _compile_cached(path: str, stamp: int, language: str, phase: str | None) -> Compiled:
    if phase is not None:
        from teikit.engines.schematron import compile_schematron

        return compile_schematron(Path(path), phase=phase)
    return _compiler(language)(Path(path))
