"""W3C XML Schema (1.0 and 1.1) through xmlschema, which gives precise, element-level reasons."""

from __future__ import annotations

import re
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
        names = _Names(doc.root, getattr(self.validator, "namespaces", None) or {})
        for err in self.validator.iter_errors(source):
            elem = err.elem if isinstance(getattr(err, "elem", None), etree._Element) else None
            line = getattr(elem, "sourceline", None) or getattr(err, "sourceline", None) or 0
            # An unexpected child is found on its own line, not on its parent's (which may
            # be hundreds of lines above: a <body> for a stray element in its last page).
            child = getattr(err, "invalid_child", None)
            if isinstance(child, etree._Element) and child.sourceline:
                line = child.sourceline
            reason = names.readable((err.reason or err.message or "invalid").strip())
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


#: The prefixes messages use where the document declares none of its own.
_USUAL_PREFIXES = {
    "http://www.tei-c.org/ns/1.0": "tei",
    "http://www.w3.org/XML/1998/namespace": "xml",
    "http://www.w3.org/1999/xlink": "xlink",
}
_CLARK = re.compile(r"\{([^{}\s]*)\}([\w.-]+)")
_QUOTED_QNAME = re.compile(r"'([A-Za-z_][\w.-]*):([\w.-]+)'")


class _Names:
    """Names in xmlschema's messages as an encoder reads them.

    xmlschema names the element found in Clark notation (``'{http://www.tei-c.org/ns/
    1.0}p'``) and the elements expected with the schema's own prefixes (``'ns1:div'``, from
    trang's output). Both become the document's prefix for that namespace, or the usual
    one (``tei:p``, ``tei:div``); anything else stays as it is.
    """

    def __init__(self, root: etree._Element, schema_prefixes: dict[str, str]) -> None:
        self.prefix = dict(_USUAL_PREFIXES)
        for prefix, uri in (root.nsmap or {}).items():
            if prefix and uri:
                self.prefix[uri] = prefix
        self.schema = {p: uri for p, uri in schema_prefixes.items() if p and uri}

    def readable(self, message: str) -> str:
        message = _CLARK.sub(self._clark, message)
        return _QUOTED_QNAME.sub(self._qname, message)

    def _clark(self, m: re.Match[str]) -> str:
        prefix = self.prefix.get(m.group(1))  # a namespace it knows: values stay as written
        return f"{prefix}:{m.group(2)}" if prefix else m.group(0)

    def _qname(self, m: re.Match[str]) -> str:
        uri = self.schema.get(m.group(1))
        prefix = self.prefix.get(uri) if uri else None
        return f"'{prefix}:{m.group(2)}'" if prefix else m.group(0)


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
