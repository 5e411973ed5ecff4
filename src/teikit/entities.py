"""The register of a corpus: every person, organization and place, and where it occurs.

Editors build this by hand today. ``entities`` reads every TEI file once, collects the
entries (standOff, header, the publisher's persons lists, register files pointed to) and
counts each name that points at one. Names that point nowhere are listed too, grouped by
their text, as candidates for new entries.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from teikit.diagnostics import Diagnostic, FileResult, Severity, Summary
from teikit.document import NAME_KINDS, Entry, TeiDocument, normalise_space
from teikit.loading import LoadOptions, display_name, load
from teikit.runner import Run, find_inputs
from teikit.xmlutil import TEI_NS, tei

#: Elements counted as mentions, and the kind a name element implies.
MENTIONS = {**NAME_KINDS, tei("name"): "name", tei("rs"): "name"}
KINDS = ("person", "org", "place")


@dataclass(slots=True)
class EntityRecord:
    """One entity of the corpus (an entry, or an unlinked name)."""

    kind: str
    id: str
    name: str
    description: str
    authority: tuple[str, ...]
    defined_in: str
    sort_key: str = ""
    #: (file, line) of every mention
    occurrences: list[tuple[str, int]] = field(default_factory=list)

    @property
    def mentions(self) -> int:
        return len(self.occurrences)

    def to_dict(self) -> dict[str, object]:
        files: dict[str, int] = {}
        for file, _ in self.occurrences:
            files[file] = files.get(file, 0) + 1
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "authority": list(self.authority),
            "defined_in": self.defined_in,
            "mentions": self.mentions,
            "files": files,
            "occurrences": [{"file": f, "line": n} for f, n in self.occurrences],
        }


@dataclass(frozen=True, slots=True)
class Register:
    """The entities of a corpus, and why any file could not be read for them.

    A register built from some of the files is still useful, so a file that cannot be
    read does not stop the others; ``problems`` says which ones are missing from it.
    """

    records: list[EntityRecord]
    #: one per file looked at (and per folder that could not be), with what went wrong
    results: tuple[FileResult, ...] = ()
    seconds: float = 0.0

    @property
    def problems(self) -> tuple[Diagnostic, ...]:
        return tuple(d for r in self.results for d in r.diagnostics)

    @property
    def complete(self) -> bool:
        return not any(r.failed() for r in self.results)

    @property
    def run(self) -> Run:
        """As a validation run, for the reporters."""
        return Run(self.results, Summary.of(self.results, self.seconds))


def entities(
    paths: Iterable[str | os.PathLike[str]],
    options: LoadOptions | None = None,
    unlinked: bool = True,
) -> list[EntityRecord]:
    """Entities of every TEI file under ``paths``, sorted by kind then name.

    Files that cannot be read are left out; :func:`register` says which.
    """
    return register(paths, options, unlinked).records


def register(
    paths: Iterable[str | os.PathLike[str]],
    options: LoadOptions | None = None,
    unlinked: bool = True,
) -> Register:
    """:func:`entities`, with a diagnostic for every file or folder that could not be read.

    Files that are XML but not TEI hold no entries and are passed over without a word.
    """
    start = time.perf_counter()
    records: dict[tuple[str, str], EntityRecord] = {}
    loose: dict[tuple[str, str], EntityRecord] = {}
    inputs = find_inputs(paths)
    results = [FileResult(d.file, (d,)) for d in inputs.problems]
    for path in inputs.files:
        loaded = load(path, options or LoadOptions())
        shown = loaded.document.display if loaded.document is not None else display_name(path)
        results.append(
            FileResult(shown, tuple(d for d in loaded.diagnostics if d.severity >= Severity.ERROR))
        )
        if loaded.document is None or not str(loaded.document.root.tag).startswith(f"{{{TEI_NS}}}"):
            continue
        doc = TeiDocument(loaded.document)
        for entry in doc.all_entries.values():
            if entry.kind in KINDS:
                _record(records, entry, doc.display)
        for name in doc.root.iter(*MENTIONS):
            if _is_entry_part(name):
                continue
            found = doc.entry_for(name)
            where = (doc.display, name.sourceline or 0)
            if found is not None:
                if found.kind in KINDS:  # a name may point at a term or an event too
                    _record(records, found, _owner(doc, found)).occurrences.append(where)
            elif unlinked:
                text = normalise_space("".join(name.itertext()))
                if not text:
                    continue
                kind = MENTIONS[str(name.tag)]
                key = (kind, text)
                if key not in loose:
                    loose[key] = EntityRecord(kind, "", text, "", (), "", text.casefold())
                loose[key].occurrences.append(where)
    ordered = sorted(records.values(), key=lambda r: (KINDS.index(r.kind), r.sort_key))
    ordered += sorted(loose.values(), key=lambda r: (r.kind, r.sort_key))
    return Register(ordered, tuple(results), time.perf_counter() - start)


def _record(records: dict[tuple[str, str], EntityRecord], entry: Entry, file: str) -> EntityRecord:
    key = (file, entry.id)
    if key not in records:
        records[key] = EntityRecord(
            entry.kind,
            entry.id,
            entry.name,
            entry.description,
            entry.authority,
            file,
            sort_key=entry.sort_key or entry.name.casefold(),
        )
    return records[key]


def _owner(doc: TeiDocument, entry: Entry) -> str:
    """The file an entry is defined in (a register file, or the document itself)."""
    for other in (doc, *doc.registry.documents()):
        if other.all_entries.get(entry.id) is entry:
            return other.display
    return doc.display


def _is_entry_part(name: etree._Element) -> bool:
    """The names inside entries and list headwords are definitions, not mentions."""
    if name.get("{http://www.w3.org/XML/1998/namespace}id") is not None:
        return True
    return any(
        a.tag in (tei("person"), tei("org"), tei("place"), tei("personGrp"), tei("teiHeader"))
        for a in name.iterancestors()
    )


CSV_COLUMNS = (
    "kind",
    "id",
    "name",
    "description",
    "authority",
    "defined_in",
    "mentions",
    "files",
    "first_occurrence",
)


def to_csv(records: Iterable[EntityRecord]) -> str:
    """One row per entity; authority URIs space-separated; files as ``name (count)``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        data = r.to_dict()
        files = data["files"]
        assert isinstance(files, dict)
        first = f"{r.occurrences[0][0]}:{r.occurrences[0][1]}" if r.occurrences else ""
        writer.writerow(
            [
                r.kind,
                r.id,
                r.name,
                r.description,
                " ".join(r.authority),
                r.defined_in,
                r.mentions,
                "; ".join(f"{f} ({n})" for f, n in files.items()),
                first,
            ]
        )
    return buffer.getvalue()


def to_json(records: Iterable[EntityRecord]) -> str:
    """``{"version": 1, "entities": [...]}`` with every occurrence (file and line)."""
    payload = {"version": 1, "entities": [r.to_dict() for r in records]}
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
