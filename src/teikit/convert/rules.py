"""A small processing model: how elements render, changed from configuration.

Projects differ in what a ``hi[@rend='italic']`` or a ``note[@type='source']`` should
become. Instead of editing teikit, they write rules::

    [tool.teikit.render]
    "note[@type='source']" = { display = "omit" }
    "hi[@rend='italic']" = { before = "_", after = "_", html = "em" }
    "stage" = { display = "block", before = "(", after = ")" }

A selector is a TEI element name, optionally with one attribute test: ``name[@attr]``
(present) or ``name[@attr='value']`` (equal to, or one of the space-separated tokens
of, the attribute). Rules with an attribute test win over plain names; among equals the
first written wins. Converters consult :meth:`RenderRules.match` for every element.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from lxml import etree

from teikit.errors import UsageError
from teikit.xmlutil import TEI_NS

Display = Literal["block", "inline", "omit"]

#: HTML elements a rule may ask for: phrasing and flow content that cannot run code.
HTML_WHITELIST = frozenset(
    "span div p em strong i b u s small sub sup mark abbr cite q code kbd samp var "
    "del ins dfn time blockquote section aside h1 h2 h3 h4 h5 h6 ul ol li".split()
)
_SELECTOR = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][\w.-]*)\s*
        (?:\[\s*@(?P<attr>[A-Za-z_][\w.:-]*)\s*
            (?:=\s*(?P<q>['"])(?P<value>[^'"]*)(?P=q)\s*)?\])?\s*$""",
    re.VERBOSE,
)
_KEYS = {"display", "before", "after", "html", "class"}


@dataclass(frozen=True, slots=True)
class Rule:
    """What to do with matching elements; ``None`` fields keep the converter's default."""

    display: Display | None = None
    before: str = ""
    after: str = ""
    html: str | None = None
    css_class: str | None = None


@dataclass(frozen=True, slots=True)
class Selector:
    """``name``, ``name[@attr]`` or ``name[@attr='value']`` on a TEI element."""

    name: str
    attr: str | None = None
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Selector:
        m = _SELECTOR.match(text)
        if m is None:
            raise UsageError(
                f"render rule selector {text!r}: expected name, name[@attr] or name[@attr='v']"
            )
        return cls(m.group("name"), m.group("attr"), m.group("value"))

    def matches(self, el: etree._Element) -> bool:
        if el.tag != f"{{{TEI_NS}}}{self.name}":
            return False
        if self.attr is None:
            return True
        key = _attr_key(self.attr)
        value = el.get(key)
        if value is None:
            return False
        return self.value is None or value == self.value or self.value in value.split()


def _attr_key(attr: str) -> str:
    if attr.startswith("xml:"):
        return "{http://www.w3.org/XML/1998/namespace}" + attr[4:]
    return attr


@dataclass(frozen=True, slots=True)
class RenderRules:
    """An ordered set of rules; more specific selectors are tried first."""

    rules: tuple[tuple[Selector, Rule], ...] = field(default=())

    def match(self, el: etree._Element) -> Rule | None:
        """The rule for ``el``, or None when converters should do what they always do."""
        for selector, rule in self.rules:
            if selector.matches(el):
                return rule
        return None

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], source: str = "render rules") -> RenderRules:
        """Build rules from ``{"selector": {"display": ..., ...}}`` (as TOML gives it)."""
        parsed: list[tuple[Selector, Rule]] = []
        for key, spec in data.items():
            try:
                selector = Selector.parse(key)
            except UsageError as exc:
                raise UsageError(f"{source}: {exc}") from None
            if not isinstance(spec, Mapping):
                raise UsageError(f"{source}: rule {key!r} must be a table")
            unknown = set(spec) - _KEYS
            if unknown:
                raise UsageError(
                    f"{source}: rule {key!r} has unknown key(s) {', '.join(sorted(unknown))}; "
                    f"allowed: {', '.join(sorted(_KEYS))}"
                )
            display = spec.get("display")
            if display is not None and display not in ("block", "inline", "omit"):
                raise UsageError(f"{source}: rule {key!r}: display must be block, inline or omit")
            html = spec.get("html")
            if html is not None and html not in HTML_WHITELIST:
                raise UsageError(f"{source}: rule {key!r}: html {html!r} is not an allowed element")
            for text_key in ("before", "after", "class"):
                if not isinstance(spec.get(text_key, ""), str):
                    raise UsageError(f"{source}: rule {key!r}: {text_key} must be a string")
            parsed.append(
                (
                    selector,
                    Rule(
                        display=cast("Display | None", display),
                        before=str(spec.get("before", "")),
                        after=str(spec.get("after", "")),
                        html=cast("str | None", html),
                        css_class=cast("str | None", spec.get("class")),
                    ),
                )
            )
        # Attribute tests first, then plain names; stable within each group.
        parsed.sort(key=lambda pair: pair[0].attr is None)
        return cls(tuple(parsed))

    @classmethod
    def load(cls, path: str | Path) -> RenderRules:
        """Read rules from a TOML file: a ``[render]`` table or ``[tool.teikit.render]``."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{p}: cannot read render rules: {exc}") from None
        table = data.get("render") or data.get("tool", {}).get("teikit", {}).get("render")
        if not isinstance(table, Mapping):
            raise UsageError(f"{p}: no [render] or [tool.teikit.render] table")
        return cls.from_mapping(table, str(p))
