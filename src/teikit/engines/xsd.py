"""W3C XML Schema (1.0 and 1.1) through xmlschema, which gives precise, element-level reasons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import SchemaError
from teikit.loading import Document


@dataclass(slots=True)
class CompiledXSD:
    schema: str
    validator: Any  # xmlschema.XMLSchemaBase; xmlschema ships no usable stubs for mypy

    def check(self, doc: Document) -> Iterator[Diagnostic]:
        """Yield every error lazily (xmlschema's iter_errors) with its source line."""
        # The instance is already parsed (safely): xmlschema must not load anything for it.
        tree: Any = doc.tree  # lxml trees are accepted at run time; the stubs say ElementTree
        source = xmlschema.XMLResource(tree, base_url=str(doc.path.parent), allow="none")
        for err in self.validator.iter_errors(source):
            elem = err.elem if isinstance(getattr(err, "elem", None), etree._Element) else None
            line = getattr(elem, "sourceline", None) or getattr(err, "sourceline", None) or 0
            reason = (err.reason or err.message or "invalid").strip()
            where = _name(elem) if elem is not None else None
            message = f"<{where}>: {reason}" if where else reason
            yield Diagnostic(
                doc.display,
                int(line),
                0,
                Severity.ERROR,
                "xsd.invalid",
                message,
                xpath=err.path,
                schema=self.schema,
            )


def _name(elem: etree._Element) -> str:
    tag = elem.tag
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


def compile_xsd(path: Path) -> CompiledXSD:
    """Load an XSD, choosing 1.1 when the schema asks for it (``vc:minVersion``)."""
    try:
        root = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
        vc = root.getroot().get("{http://www.w3.org/2007/XMLSchema-versioning}minVersion")
        cls = xmlschema.XMLSchema11 if vc and vc.startswith("1.1") else xmlschema.XMLSchema10
        validator = cls(str(path), allow="sandbox", defuse="always")
    except (OSError, etree.XMLSyntaxError, xmlschema.XMLSchemaException) as exc:
        raise SchemaError(f"{path}: cannot load XML Schema: {exc}") from None
    return CompiledXSD(str(path), validator)
