"""Project configuration: ``[tool.teikit]`` in ``pyproject.toml`` or a ``.teikit.toml``.

The nearest file above the checked file wins (in one folder ``.teikit.toml`` before
``pyproject.toml``; a ``pyproject.toml`` without ``[tool.teikit]`` is passed over). Keys::

    [tool.teikit]                       # in .teikit.toml: the same keys at top level
    ignore = ["drafts/", "**/*.bak.xml"]  # files not to check
    catalogs = ["catalog.xml"]          # OASIS XML catalogs, relative to this folder
    allow-network = false               # may schemas be downloaded (into the cache)?

    [tool.teikit.severity]              # code or code prefix -> error|warning|info|off
    "sch.report" = "warning"
    "rng" = "error"

A severity key must be a code teikit reports (:data:`KNOWN_CODES`) or a prefix of one,
so that a typo is an error rather than a setting that does nothing. Codes meaning the
file could not be read or parsed (:data:`ERROR_ONLY_CODES`) stay errors.

    [[tool.teikit.schemas]]             # first entry whose files match is used
    files = "tei/*.xml"                 # a pattern or a list of patterns
    use = ["schemas/letter.rng", "https://example.org/letter.sch"]

Every unknown key and every value of the wrong type is a :class:`~teikit.errors.UsageError`
naming the file and the key.

Patterns (``files`` and ``ignore``) are matched against the file's path relative to the
folder holding the configuration, with ``/`` between folders:

* ``*`` matches any characters except ``/``; ``?`` one character except ``/``;
  ``[abc]``/``[!abc]`` one character of (not of) a set;
* ``**`` as a whole path segment matches zero or more folders: ``a/**/b.xml`` matches
  ``a/b.xml`` and ``a/x/y/b.xml``; ``**/b.xml`` matches ``b.xml`` in any folder;
  ``a/**`` matches everything under ``a``;
* a pattern without ``/`` matches the file name in any folder (``*.bak.xml``);
  a leading ``/`` anchors it to the configuration's folder instead (``/index.xml``);
* a pattern ending in ``/`` names a folder and matches every file under it.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from teikit.convert.rules import RenderRules
from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import UsageError
from teikit.schemas.refs import SchemaRef, _is_url

#: The value that turns a code off in ``[tool.teikit.severity]``.
OFF = "off"
_KEYS = {"schemas", "ignore", "severity", "catalogs", "allow-network", "render"}
_SCHEMA_KEYS = {"files", "use"}
_CODE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")

#: Every code teikit reports (the README's table of codes, and those of convert/split);
#: a ``[severity]`` key must be one of them or a prefix of some (``sch``, ``xml``).
KNOWN_CODES: frozenset[str] = frozenset(
    {
        # reading and parsing (teikit.loading, teikit.discovery)
        "io.unreadable",
        "io.not-a-file",
        "io.too-large",
        "io.dangling-symlink",
        "io.unreadable-dir",
        "io.no-files",
        "xml.syntax",
        "xml.empty",
        "xml.encoding",
        "xml.external-dtd",
        "xml.external-entity",
        "xml.parameter-entity",
        "xml.too-deep",
        "xml.huge-text",
        "xml.too-large",
        "xml.entity-expansion",
        "xml.xinclude",
        # schemas
        "schema.unavailable",
        "schema.unusable",
        "schema.none",
        "rng.invalid",
        "xsd.invalid",
        "sch.assert",
        "sch.report",
        "sch.error",
        # ids and pointers (teikit.checks, teikit.xref)
        "id.duplicate",
        "id.malformed",
        "ref.unresolved",
        "xref.unresolved",
        "xref.missing-file",
        "xref.outside-root",
        # runs, conversions, splitting
        "output.unwritable",
        "internal.worker-crashed",
        "tei.not-tei",
        "convert.failed",
        "cmif.skipped",
        "split.pointer",
    }
)
#: Codes that mean the file could not be read, is not well-formed XML or was refused by a
#: limit: nothing else in it was checked, so it must never pass. They stay errors: a
#: ``[severity]`` key naming one may only say "error", and a prefix (``xml``) skips them.
ERROR_ONLY_CODES: frozenset[str] = frozenset(
    {
        "io.unreadable",
        "io.not-a-file",
        "io.too-large",
        "io.dangling-symlink",
        "io.unreadable-dir",
        "xml.syntax",
        "xml.empty",
        "xml.too-deep",
        "xml.huge-text",
        "xml.too-large",
        "xml.entity-expansion",
        "xml.xinclude",
        "internal.worker-crashed",
    }
)
_PREFIXES = frozenset(c[:i] for c in KNOWN_CODES for i, ch in enumerate(c) if ch == ".")


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """One configuration file, read and checked; paths in it are relative to ``root``."""

    root: Path
    schemas: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    ignore: tuple[str, ...] = ()
    #: (code or prefix, severity); ``None`` means "off".
    severity: tuple[tuple[str, Severity | None], ...] = ()
    catalogs: tuple[Path, ...] = ()
    allow_network: bool = False
    #: The file it was read from (for messages).
    source: Path | None = None
    #: ``[tool.teikit.render]``: how elements render (see teikit.convert.rules).
    render: RenderRules = field(default_factory=RenderRules)

    def schemas_for(self, file: Path) -> list[SchemaRef]:
        """The schemas of the first ``[[schemas]]`` entry whose ``files`` match ``file``."""
        rel = self.relative(file)
        if rel is None:
            return []
        for patterns, uses in self.schemas:
            if any(match_pattern(p, rel) for p in patterns):
                return [
                    SchemaRef(u if _is_url(u) else str(self.root / u), None, "config") for u in uses
                ]
        return []

    def relative(self, file: Path) -> str | None:
        """``file`` relative to ``root`` with ``/`` separators, or None when outside."""
        try:
            return file.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def severity_for(self, code: str) -> tuple[bool, Severity | None]:
        """(configured?, severity) for ``code``: the longest matching code prefix wins."""
        best: tuple[int, Severity | None] | None = None
        for key, level in self.severity:
            matches = code == key or code.startswith(key + ".")
            if matches and (best is None or len(key) > best[0]):
                best = (len(key), level)
        return (False, None) if best is None else (True, best[1])


def is_ignored(path: Path, config: ProjectConfig | None) -> bool:
    """True when ``path`` matches one of the configuration's ``ignore`` patterns."""
    if config is None or not config.ignore:
        return False
    rel = config.relative(path)
    return rel is not None and any(match_pattern(p, rel) for p in config.ignore)


def apply_severity(diags: Iterable[Diagnostic], config: ProjectConfig | None) -> list[Diagnostic]:
    """Diagnostics with the configured severities; codes set to ``off`` are dropped.

    ``"sch.report" = "warning"`` applies to ``sch.report`` (and ``sch.report.*``);
    ``"rng" = "error"`` to every ``rng.*`` code. The longest matching key wins.
    :data:`ERROR_ONLY_CODES` are kept as they are: a file that cannot be read or parsed
    was not checked, so it must not pass.
    """
    out: list[Diagnostic] = []
    for diag in diags:
        if config is None or diag.code in ERROR_ONLY_CODES:
            out.append(diag)
            continue
        configured, level = config.severity_for(diag.code)
        if not configured:
            out.append(diag)
        elif level is not None:
            out.append(diag if diag.severity is level else replace(diag, severity=level))
    return out


# --------------------------------------------------------------------------------------
# Patterns


@lru_cache(maxsize=512)
def _compile_pattern(pattern: str) -> re.Pattern[str]:
    pat = pattern.strip()
    if pat.endswith("/"):
        pat += "**"
    anchored = pat.startswith("/") or "/" in pat.rstrip("/")
    pat = pat.lstrip("/")
    if not anchored:
        pat = "**/" + pat
    parts = pat.split("/")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]*/)*"
            continue
        regex += _translate_segment(part) + ("" if last else "/")
    return re.compile(regex + r"\Z", re.DOTALL)


def _translate_segment(segment: str) -> str:
    out = ""
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out += re.escape(c)
            else:
                body = segment[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out += f"[^/{body}]" if negate else f"(?!/)[{body}]"
                i = end
        else:
            out += re.escape(c)
        i += 1
    return out


def match_pattern(pattern: str, relative: str) -> bool:
    """Does ``relative`` (a ``/``-separated path) match ``pattern``? See the module doc."""
    return _compile_pattern(pattern).match(relative) is not None


# --------------------------------------------------------------------------------------
# Finding and reading


def find_config(start: Path) -> ProjectConfig | None:
    """The nearest configuration above ``start`` (a file or folder; cached per folder)."""
    try:
        regular = stat.S_ISREG(os.lstat(start).st_mode)
    except (OSError, ValueError):
        regular = False
    if regular:  # a file, not a link: the one of its folder, resolved once per folder
        return _find_config(_resolved(str(Path.cwd() / start.parent)))
    start = start.resolve()
    return _find_config(start.parent if start.is_file() or not start.exists() else start)


@lru_cache(maxsize=256)
def _resolved(folder: str) -> Path:
    """A folder resolved (a run over a corpus asks for each of its files)."""
    return Path(folder).resolve()


def clear_configs() -> None:
    """Forget every configuration read (see :func:`teikit.clear_caches`)."""
    _find_config.cache_clear()
    _resolved.cache_clear()


@lru_cache(maxsize=256)
def _find_config(directory: Path) -> ProjectConfig | None:
    for folder in (directory, *directory.parents):
        dotfile = folder / ".teikit.toml"
        if dotfile.is_file():
            return load_config(dotfile)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = _read_toml(pyproject)
            tool = data.get("tool", {})
            if isinstance(tool, dict) and "teikit" in tool:
                return parse_config(folder, tool["teikit"], pyproject, "tool.teikit")
    return None


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read configuration: {exc}") from None


def load_config(path: Path) -> ProjectConfig:
    """Read one configuration file (``.teikit.toml``, or ``pyproject.toml``'s section)."""
    path = path.resolve()
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        section = tool.get("teikit", {}) if isinstance(tool, dict) else {}
        return parse_config(path.parent, section, path, "tool.teikit")
    return parse_config(path.parent, data, path, "")


def parse_config(
    root: Path, section: object, source: Path, prefix: str = "tool.teikit"
) -> ProjectConfig:
    """Check and convert a configuration table; ``prefix`` names it in messages."""

    def where(key: str) -> str:
        return f"{source}: {prefix + '.' if prefix else ''}{key}"

    if not isinstance(section, Mapping):
        raise UsageError(f"{source}: [{prefix}] must be a table")
    unknown = sorted(set(section) - _KEYS)
    if not prefix and "tool" in unknown:
        # The commonest slip: a pyproject.toml section copied into .teikit.toml as it was.
        raise UsageError(
            f"{where('tool')}: unknown key: in {source.name} the keys stand at the top level, "
            "without [tool.teikit]"
        )
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise UsageError(f"{where(unknown[0])}: unknown key (known keys: {known})")
    root = root.resolve()
    schemas = _parse_schemas(section.get("schemas", []), where)
    ignore = _strings(section.get("ignore", []), where("ignore"), allow_str=False)
    catalogs = tuple(
        _local_path(c, root, where("catalogs"))
        for c in _strings(section.get("catalogs", []), where("catalogs"), allow_str=False)
    )
    allow = section.get("allow-network", False)
    if not isinstance(allow, bool):
        raise UsageError(f"{where('allow-network')}: must be true or false, not {allow!r}")
    severity = _parse_severity(section.get("severity", {}), where)
    render_table = section.get("render", {})
    if not isinstance(render_table, Mapping):
        raise UsageError(f"{where('render')}: must be a table of rules")
    render = RenderRules.from_mapping(render_table, where("render"))
    return ProjectConfig(
        root=root,
        schemas=schemas,
        ignore=ignore,
        severity=severity,
        catalogs=catalogs,
        allow_network=allow,
        source=source,
        render=render,
    )


def _local_path(value: str, root: Path, where: str) -> Path:
    """A path from a configuration: relative to its folder, or a ``file:`` URL."""
    if value.startswith("file:"):
        try:
            return Path(unquote(urlsplit(value).path))
        except ValueError as exc:
            raise UsageError(f"{where}: {value!r} is a malformed URL ({exc})") from None
    return (root / value).resolve()


def _strings(
    value: object, where: str, *, allow_str: bool, nonempty: bool = False
) -> tuple[str, ...]:
    if allow_str and isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v.strip() for v in value)
        or (nonempty and not value)
    ):
        kind = "a string or a list of strings" if allow_str else "a list of strings"
        raise UsageError(f"{where}: must be {kind} (not empty), not {value!r}")
    return tuple(str(v).strip() for v in value)


def _parse_schemas(
    entries: object, where: Callable[[str], str]
) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    if not isinstance(entries, list):
        raise UsageError(f"{where('schemas')}: must be an array of tables ([[schemas]])")
    mapped: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for index, entry in enumerate(entries):
        label = f"schemas[{index}]"
        if not isinstance(entry, Mapping):
            raise UsageError(f"{where(label)}: must be a table with 'files' and 'use'")
        unknown = sorted(set(entry) - _SCHEMA_KEYS)
        if unknown:
            raise UsageError(f"{where(label + '.' + unknown[0])}: unknown key (known: files, use)")
        for key in ("files", "use"):
            if key not in entry:
                raise UsageError(f"{where(label)}: missing '{key}'")
        files = _strings(entry["files"], where(label + ".files"), allow_str=True, nonempty=True)
        uses = _strings(entry["use"], where(label + ".use"), allow_str=True, nonempty=True)
        mapped.append((files, uses))
    return tuple(mapped)


def _parse_severity(
    table: object, where: Callable[[str], str]
) -> tuple[tuple[str, Severity | None], ...]:
    if not isinstance(table, Mapping):
        raise UsageError(f"{where('severity')}: must be a table of code = severity")
    out: list[tuple[str, Severity | None]] = []
    for code, value in table.items():
        key = f"severity.{code}" if _CODE.match(code) else f"severity.{code!r}"
        _check_code(code, where(key))
        if not isinstance(value, str):
            raise UsageError(f"{where(key)}: must be error, warning, info or off")
        level: Severity | None
        if value.strip().lower() == OFF:
            level = None
        else:
            try:
                level = Severity.parse(value)
            except ValueError:
                raise UsageError(
                    f"{where(key)}: {value!r} is not error, warning, info or off"
                ) from None
        if code in ERROR_ONLY_CODES and level is not Severity.ERROR:
            raise UsageError(
                f"{where(key)}: cannot be {value!r}: {code} means teikit could not read or "
                "parse the file (or a limit refused it), so nothing in it was checked and it "
                "must not pass; leave such files out with 'ignore' instead"
            )
        out.append((code, level))
    return tuple(out)


def _check_code(code: str, where: str) -> None:
    """Refuse a key that is no code teikit reports (a typo would silently do nothing)."""
    if code in KNOWN_CODES or code in _PREFIXES:
        return
    if not _CODE.match(code):
        bare = code.strip().rstrip("*").rstrip(".")
        hint = f"; did you mean {bare!r}? (a prefix covers its codes)" if bare in _PREFIXES else ""
        raise UsageError(f"{where}: not a diagnostic code or code prefix{hint}")
    close = difflib.get_close_matches(code, sorted(KNOWN_CODES | _PREFIXES), n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]!r}?"
    else:
        hint = f"codes start with {', '.join(p + '.' for p in sorted(_PREFIXES))}"
    raise UsageError(f"{where}: not a diagnostic code teikit reports; {hint}")
