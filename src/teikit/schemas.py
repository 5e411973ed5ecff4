"""Finding the schemas a file should be checked against.

Order: schemas the caller names; else the file's ``<?xml-model?>`` processing
instructions; else the project configuration (``[tool.teikit]`` in ``pyproject.toml`` or
a ``.teikit.toml``, found by walking up from the file). Nothing is ever fetched.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

from teikit.errors import UsageError

SCHEMATYPENS = {
    "http://relaxng.org/ns/structure/1.0": "relaxng",
    "http://www.w3.org/2001/XMLSchema": "xsd",
    "http://purl.oclc.org/dsdl/schematron": "schematron",
    "http://www.ascc.net/xml/schematron": "schematron",
}
_PSEUDO_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass(frozen=True, slots=True)
class SchemaRef:
    """A schema to apply: where it is, in which language, and who asked for it."""

    location: str
    language: str | None
    origin: str  # "option", "xml-model", "config"
    line: int = 0
    phase: str | None = None

    @property
    def is_remote(self) -> bool:
        return "://" in self.location and not self.location.startswith("file:")

    @property
    def path(self) -> Path:
        loc = self.location
        return Path(loc[len("file://") :] if loc.startswith("file://") else loc)


def xml_model_refs(tree: etree._ElementTree, base: Path) -> list[SchemaRef]:
    """Schemas named by ``<?xml-model?>`` before the root element, relative to ``base``."""
    refs: list[SchemaRef] = []
    node = tree.getroot().getprevious()
    pis: list[etree._Element] = []
    while node is not None:
        if isinstance(node, etree._ProcessingInstruction) and node.target == "xml-model":
            pis.append(node)
        node = node.getprevious()
    for pi in reversed(pis):
        attrs = {
            m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PSEUDO_ATTR.finditer(pi.text or "")
        }
        href = attrs.get("href")
        if not href:
            continue
        language = SCHEMATYPENS.get(attrs.get("schematypens", ""))
        if language is None and attrs.get("type") == "application/relax-ng-compact-syntax":
            language = "rnc"
        location = href if "://" in href else str((base / href).resolve())
        refs.append(
            SchemaRef(location, language, "xml-model", pi.sourceline or 0, attrs.get("phase"))
        )
    return refs


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """``[tool.teikit]``: which schemas apply to which files, relative to ``root``."""

    root: Path
    schemas: tuple[tuple[str, tuple[str, ...]], ...]

    def schemas_for(self, file: Path) -> list[SchemaRef]:
        try:
            rel = file.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return []
        for pattern, uses in self.schemas:
            if fnmatch.fnmatch(rel, pattern):
                return [SchemaRef(str(self.root / u), None, "config") for u in uses]
        return []


def find_config(start: Path) -> ProjectConfig | None:
    """The nearest configuration above ``start`` (cached per directory)."""
    return _find_config(start.resolve().parent if start.is_file() else start.resolve())


@lru_cache(maxsize=256)
def _find_config(directory: Path) -> ProjectConfig | None:
    for folder in (directory, *directory.parents):
        for name, key in ((".teikit.toml", None), ("pyproject.toml", "tool")):
            candidate = folder / name
            if not candidate.is_file():
                continue
            try:
                data = tomllib.loads(candidate.read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"{candidate}: cannot read configuration: {exc}") from None
            section = data.get("tool", {}).get("teikit") if key else data
            if section:
                return _parse_config(folder, section, candidate)
    return None


def _parse_config(root: Path, section: dict[str, object], source: Path) -> ProjectConfig:
    entries = section.get("schemas", [])
    if not isinstance(entries, list):
        raise UsageError(f"{source}: [tool.teikit] schemas must be a list of tables")
    mapped: list[tuple[str, tuple[str, ...]]] = []
    for entry in entries:
        if not isinstance(entry, dict) or "files" not in entry or "use" not in entry:
            raise UsageError(f"{source}: each [[tool.teikit.schemas]] needs 'files' and 'use'")
        use = entry["use"]
        uses = (use,) if isinstance(use, str) else tuple(str(u) for u in use)
        mapped.append((str(entry["files"]), uses))
    return ProjectConfig(root, tuple(mapped))
