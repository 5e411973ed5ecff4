"""RELAX NG through libxml2 (lxml): fast, and the schema compiles once per process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import SchemaError
from teikit.loading import Document, make_parser
from teikit.xmlutil import display_name, element_name, readable_path, resolve_libxml2_path


@dataclass(slots=True)
class CompiledRelaxNG:
    schema: str
    validator: etree.RelaxNG

    def check(self, doc: Document) -> Iterator[Diagnostic]:
        """Validate; libxml2 reports the first error per subtree, which is what editors fix."""
        if self.validator.validate(doc.tree):
            return
        for entry in self.validator.error_log:
            elem = resolve_libxml2_path(doc.tree, entry.path) if entry.path else None
            yield Diagnostic(
                doc.display,
                entry.line or (elem.sourceline if elem is not None else 0) or 0,
                entry.column,
                Severity.ERROR,
                "rng.invalid",
                humanise(entry.message, elem),
                xpath=readable_path(elem) if elem is not None else entry.path or None,
                schema=self.schema,
            )


_NOT_EXPECTED = re.compile(r"Did not expect element (\S+) there")
_BAD_ATTRIBUTE = re.compile(r"Invalid attribute (\S+) for element (\S+)")
_EXPECTING = re.compile(r"Expecting element (\S+), got (\S+)")
_EXTRA = re.compile(r"Element (\S+) has extra content: (\S+)")


def humanise(message: str, elem: etree._Element | None) -> str:
    """Turn libxml2's terse wording into a sentence naming the element and its parent."""
    parent = elem.getparent() if elem is not None else None
    inside = f" inside <{element_name(parent)}>" if parent is not None else ""
    if (m := _NOT_EXPECTED.search(message)) is not None:
        name = element_name(elem) if elem is not None else m.group(1)
        return f"element <{name}> is not allowed here{inside}"
    if (m := _BAD_ATTRIBUTE.search(message)) is not None:
        attr = m.group(1)
        if elem is not None:
            attr = next(
                (
                    display_name(a, dict(elem.nsmap))
                    for a in elem.attrib
                    if etree.QName(a).localname == attr
                ),
                attr,
            )
        return f"attribute {attr} is not allowed on <{m.group(2)}>"
    if (m := _EXPECTING.search(message)) is not None:
        return f"expected element <{m.group(1)}> here, found <{m.group(2)}>{inside}"
    if (m := _EXTRA.search(message)) is not None:
        return f"element <{m.group(1)}> has content the schema does not allow: <{m.group(2)}>"
    return message.strip()


def compile_relaxng(path: Path) -> CompiledRelaxNG:
    """Compile a RELAX NG schema (XML syntax); a bad schema raises SchemaError."""
    try:
        tree = etree.parse(str(path), make_parser())
        validator = etree.RelaxNG(tree)
    except (OSError, etree.XMLSyntaxError, etree.RelaxNGParseError) as exc:
        raise SchemaError(f"{path}: cannot compile RELAX NG schema: {exc}") from None
    return CompiledRelaxNG(str(path), validator)
