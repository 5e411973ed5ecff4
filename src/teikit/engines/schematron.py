"""ISO Schematron: teikit compiles the schema into XSLT 3.0 and runs it with SaxonC-HE.

No Schematron compiler for Python 3.11 is packaged, so this module is one: it reads the
``.sch`` (or the ``sch:pattern`` elements embedded in a RELAX NG schema, as TEI ODDs
generate them) with lxml, resolves ``include``, abstract rules (``extends``) and abstract
patterns (``is-a`` + ``param``), keeps the patterns of the chosen phase, and writes one
XSLT stylesheet:

* every pattern is a mode; each rule is a template in that mode whose priority falls in
  document order, so the first matching rule of a pattern fires for a node and the
  traversal continues into attributes and children;
* every failed ``assert`` and successful ``report`` emits a small result element carrying
  the check's index, ``path()`` of the node and the evaluated message and diagnostics;
* every rule body sits in ``xsl:try``: an expression that fails at run time becomes an
  ``sch.error`` finding instead of passing silently.

Saxon never reads the checked file: the lxml tree (already parsed safely) is serialized
and handed over as text, with the file's URI as its base URI. ``path()`` results are
turned back into lxml elements to report line numbers.

Semantics worth knowing: ``role`` maps error/fatal to error, warning/warn/nonfatal to
warning, info/information to info (anything else: error). A pattern-level ``let`` becomes a
global variable when no other schema-, phase- or pattern-level ``let`` has its name (so rule
contexts may use it), otherwise a tunnel parameter of its pattern. Abstract-pattern
parameters are substituted in attribute values (as the standard says), not in text.
Relative URIs in the schema's own expressions (``doc('x.xml')``) resolve against the schema
file; ``base-uri(/)`` is the checked file's URI; ``doc()`` may read local files only.
A finding's message ends with `` [id]`` when the assert/report (or its rule) has an id.
"""

from __future__ import annotations

import contextlib
import copy
import html
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import SchemaError
from teikit.loading import Document, display_name, make_parser
from teikit.schemas.resolve import (
    ResolveOptions,
    SchemaUnavailable,
    cached_url,
    default_options,
    is_url,
    resolve_schema,
    unavailable_message,
    url_variants,
)

SCH = "http://purl.oclc.org/dsdl/schematron"
XSL = "http://www.w3.org/1999/XSL/Transform"
RNG = "http://relaxng.org/ns/structure/1.0"
XS = "http://www.w3.org/2001/XMLSchema"
ERR = "http://www.w3.org/2005/xqt-errors"
#: Namespace of the result elements the generated stylesheet writes.
OUT = "urn:x-teikit:schematron-result"

_QUERY_BINDINGS = {"xslt": "1.0", "xslt1": "1.0", "xslt2": "2.0", "xslt3": "3.0"}
_TOP_LEVEL_XSL = {"function", "key", "param", "variable"}
_ROLES = {
    "error": Severity.ERROR,
    "fatal": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "nonfatal": Severity.WARNING,
    "info": Severity.INFO,
    "information": Severity.INFO,
    "informational": Severity.INFO,
}
_SPACE = re.compile(r"\s+")
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _sch(local: str) -> str:
    return _q(SCH, local)


def _xsl(local: str) -> str:
    return _q(XSL, local)


def _out(local: str) -> str:
    return _q(OUT, local)


def severity_of(role: str | None) -> Severity:
    """Map a Schematron ``role`` to a severity (unknown or absent roles are errors)."""
    if not role:
        return Severity.ERROR
    return _ROLES.get(role.strip().lower(), Severity.ERROR)


# --------------------------------------------------------------------------------------
# Reading the schema


def _parse(path: Path) -> etree._Element:
    """Parse a schema file: no network, no DTD, comments kept out of messages later."""
    try:
        return etree.parse(str(path), make_parser()).getroot()
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read schema ({exc})") from None
    except etree.XMLSyntaxError as exc:
        raise SchemaError(f"{path}: schema is not well-formed XML: {exc}") from None


def _adopt(elem: etree._Element) -> etree._Element:
    """Copy ``elem`` keeping *all* in-scope namespaces.

    lxml's deepcopy keeps only the declarations that element names use; XPath strings in
    attributes need the others too (``context="tei:p"`` with ``tei`` declared far above).
    """
    new = etree.Element(elem.tag, dict(elem.attrib), nsmap=dict(elem.nsmap))
    new.text = elem.text
    for child in elem:
        new.append(copy.deepcopy(child))
    new.tail = elem.tail
    return new


def extract_embedded_schematron(rng_path: Path | str) -> etree._Element:
    """Build an ISO ``sch:schema`` from the ``sch:ns`` and ``sch:pattern`` in a RELAX NG file.

    TEI ODD processors embed the constraints of an ODD this way; the result uses
    ``queryBinding="xslt2"`` as TEI's constraints are written in XPath 2.
    """
    root = _parse(Path(rng_path))
    return _embedded_from(root)


def _embedded_from(root: etree._Element) -> etree._Element:
    schema = etree.Element(_sch("schema"), {"queryBinding": "xslt2"}, nsmap={"sch": SCH})
    for elem in root.iter(_sch("ns")):
        schema.append(_adopt(elem))
    for elem in root.iter(_sch("pattern")):
        if any(a.tag == _sch("pattern") for a in elem.iterancestors()):
            continue
        schema.append(_adopt(elem))
    for elem in root.iter(_sch("diagnostics")):
        schema.append(_adopt(elem))
    for elem in schema:
        elem.tail = None
    return schema


def _target(href: str, base: Path, options: ResolveOptions | None) -> Path:
    """The file an ``include``/``extends`` href names: relative to ``base``, or a URL."""
    if is_url(href):
        try:
            return resolve_schema(href, options or default_options()).resolve()
        except SchemaUnavailable as exc:
            raise SchemaError(f"{base}: {exc}") from None
    return (base.parent / href).resolve() if href else base


def _stamp(elem: etree._Element, source: Path) -> etree._Element:
    """Mark spliced content with its file (``xml:base``) so that relative URIs in its
    expressions (``doc('x.xml')``, ``document('')``) resolve against that file."""
    elem.set(XML_BASE, source.as_uri())
    return elem


def _resolve_includes(
    elem: etree._Element,
    base: Path,
    seen: tuple[Path, ...],
    options: ResolveOptions | None = None,
) -> None:
    """Replace every ``sch:include`` by the element it points at (file-relative or URL)."""
    for inc in list(elem.iter(_sch("include"))):
        href = inc.get("href")
        if not href:
            raise SchemaError(f"{base}: <include> without @href")
        file_part, _, fragment = href.partition("#")
        target = _target(file_part, base, options)
        if target in seen:
            raise SchemaError(f"{base}: include cycle through {target}")
        included = _parse(target)
        _resolve_includes(included, target, (*seen, target), options)
        if fragment:
            found = included.xpath("//*[@id=$i or @xml:id=$i]", i=fragment)
            if not isinstance(found, list) or not found:
                raise SchemaError(f"{base}: include {href!r}: no element with id {fragment!r}")
            first = found[0]
            if not isinstance(first, etree._Element):
                raise SchemaError(f"{base}: include {href!r}: {fragment!r} is not an element")
            included = first
        new = _adopt(included)
        if target != base:
            _stamp(new, target)
        new.tail = inc.tail
        parent = inc.getparent()
        if parent is None:
            raise SchemaError(f"{base}: <include> cannot be the root element")
        parent.replace(inc, new)


#: Children of an extended schema that are not spliced into the extending one.
_NOT_SPLICED = {_q(SCH, "title"), _q(SCH, "p")}


def _resolve_schema_extends(
    schema: etree._Element,
    base: Path,
    seen: tuple[Path, ...],
    options: ResolveOptions | None = None,
) -> None:
    """Replace each ``sch:schema/sch:extends[@href]`` by the content of that schema.

    ISO Schematron (2016 and later) lets a schema extend another: its patterns, phases,
    lets, ``ns`` declarations, diagnostics and XSLT declarations join the extending
    schema (``title`` and ``p`` do not). A top-level ``let`` or ``xsl:function``/
    ``xsl:key``/``xsl:variable`` that both declare identically is kept once; declared
    differently it is a schema error.
    """
    for ext in list(schema.iterchildren(_sch("extends"))):
        href = ext.get("href")
        if href is None:
            continue  # extends/@rule at schema level: nothing to splice
        target = _target(href.partition("#")[0], base, options)
        if target in seen:
            raise SchemaError(f"{base}: extends cycle through {target}")
        other = _parse(target)
        if other.tag != _sch("schema"):
            raise SchemaError(f"{base}: extends {href!r}: {target} is not a Schematron schema")
        _resolve_includes(other, target, (*seen, target), options)
        _resolve_schema_extends(other, target, (*seen, target), options)
        index = schema.index(ext)
        schema.remove(ext)
        for child in other:
            if not isinstance(child.tag, str) or child.tag in _NOT_SPLICED:
                continue
            key = _declaration_key(child)
            if key is not None:
                existing = [c for c in schema if _declaration_key(c) == key]
                if existing and all(_same(e, child) for e in existing):
                    continue
                if existing:
                    raise SchemaError(
                        f"{base}: {target.name} declares {key[1]!r} differently from "
                        "the schema that extends it"
                    )
            new = _adopt(child)
            new.tail = None
            if not new.get(XML_BASE):
                _stamp(new, target)
            schema.insert(index, new)
            index += 1


def _named_template(elem: etree._Element) -> bool:
    """A top-level ``xsl:template`` with a name and no match (called by functions)."""
    return elem.tag == _xsl("template") and bool(elem.get("name")) and elem.get("match") is None


def _declaration_key(elem: etree._Element) -> tuple[str, str] | None:
    if not isinstance(elem.tag, str):
        return None
    if (
        elem.tag == _sch("let")
        or _named_template(elem)
        or (etree.QName(elem).namespace == XSL and etree.QName(elem).localname in _TOP_LEVEL_XSL)
    ):
        name = elem.get("name") or elem.get("match") or ""
        arity = str(len(elem.findall(_xsl("param")))) if elem.tag == _xsl("function") else ""
        return (str(elem.tag), f"{name}#{arity}" if arity else name)
    return None


def _same(a: etree._Element, b: etree._Element) -> bool:
    def text(e: etree._Element) -> str:
        copied = _adopt(e)
        copied.attrib.pop(XML_BASE, None)
        copied.tail = None
        return _SPACE.sub(" ", etree.tostring(copied, method="c14n", exclusive=True).decode())

    return text(a) == text(b)


# --------------------------------------------------------------------------------------
# Expanding abstract rules and patterns


def _expand_extends(schema: etree._Element, where: str) -> None:
    abstract = {r.get("id"): r for r in schema.iter(_sch("rule")) if r.get("abstract") == "true"}

    def expand(rule: etree._Element, stack: tuple[str, ...]) -> None:
        for ext in list(rule.iterchildren(_sch("extends"))):
            ref = ext.get("rule")
            if ref is None:
                raise SchemaError(
                    f"{where}: <extends> needs @rule (extends/@href is not supported)"
                )
            base = abstract.get(ref)
            if base is None:
                raise SchemaError(f"{where}: <extends rule={ref!r}>: no abstract rule {ref!r}")
            if ref in stack:
                raise SchemaError(f"{where}: abstract rule {ref!r} extends itself")
            expand(base, (*stack, ref))
            index = rule.index(ext)
            rule.remove(ext)
            for offset, child in enumerate(c for c in base if isinstance(c.tag, str)):
                rule.insert(index + offset, _adopt(child))

    for rule in list(schema.iter(_sch("rule"))):
        expand(rule, (rule.get("id") or "",))


def _substitute(value: str, params: dict[str, str]) -> str:
    if not params:
        return value
    names = "|".join(re.escape(n) for n in sorted(params, key=len, reverse=True))
    pattern = re.compile(r"\$(" + names + r")(?![\w.\-])")
    return pattern.sub(lambda m: params[m.group(1)], value)


def _instantiate(schema: etree._Element, where: str) -> list[etree._Element]:
    """Concrete patterns in schema order, abstract ones instantiated for each ``is-a``."""
    patterns = list(schema.iterchildren(_sch("pattern")))
    abstract = {p.get("id"): p for p in patterns if p.get("abstract") == "true"}
    concrete: list[etree._Element] = []
    for pattern in patterns:
        if pattern.get("abstract") == "true":
            continue
        ref = pattern.get("is-a")
        if ref is None:
            concrete.append(pattern)
            continue
        base = abstract.get(ref)
        if base is None:
            raise SchemaError(f"{where}: pattern is-a={ref!r}: no abstract pattern {ref!r}")
        params = {
            p.get("name", ""): p.get("value", "") for p in pattern.iterchildren(_sch("param"))
        }
        new = _adopt(base)
        del new.attrib["abstract"]
        new.attrib.pop("id", None)
        if pattern.get("id"):
            new.set("id", pattern.get("id", ""))
        for elem in new.iter():
            for key, value in elem.attrib.items():
                elem.set(key, _substitute(value, params))
        concrete.append(new)
    return concrete


def _active_patterns(
    schema: etree._Element, patterns: list[etree._Element], phase: str | None, where: str
) -> tuple[list[etree._Element], etree._Element | None]:
    chosen = phase if phase is not None else schema.get("defaultPhase")
    if chosen == "#DEFAULT":
        chosen = schema.get("defaultPhase")
    if chosen is None or chosen == "#ALL":
        return patterns, None
    phases = {p.get("id"): p for p in schema.iterchildren(_sch("phase"))}
    element = phases.get(chosen)
    if element is None:
        known = ", ".join(sorted(k for k in phases if k)) or "none"
        raise SchemaError(
            f"{where}: no phase {chosen!r} in this schema (its phases: {known}; "
            "#ALL runs every pattern, #DEFAULT the defaultPhase)"
        )
    wanted = {a.get("pattern") for a in element.iterchildren(_sch("active"))}
    ids = {p.get("id") for p in patterns}
    missing = sorted(w for w in wanted if w not in ids and w)
    if missing:
        raise SchemaError(f"{where}: phase {chosen!r} activates unknown pattern(s) {missing}")
    return [p for p in patterns if p.get("id") in wanted], element


# --------------------------------------------------------------------------------------
# Generating XSLT


@dataclass(frozen=True, slots=True)
class _Check:
    kind: str
    severity: Severity
    ident: str | None
    pattern: str
    rule: str


class _Generator:
    """Writes the XSLT for one schema; remembers what each emitted index stands for."""

    def __init__(self, schema: etree._Element, where: str) -> None:
        self.schema = schema
        self.where = where
        binding = (schema.get("queryBinding") or "xslt").strip().lower()
        if binding not in _QUERY_BINDINGS:
            raise SchemaError(
                f"{where}: queryBinding {binding!r} is not supported (use xslt, xslt2 or xslt3)"
            )
        self.version = _QUERY_BINDINGS[binding]
        self.ns: dict[str, str] = {}
        for decl in schema.iterchildren(_sch("ns")):
            prefix, uri = decl.get("prefix"), decl.get("uri")
            if not prefix or uri is None:
                raise SchemaError(f"{where}: <ns> needs @prefix and @uri")
            self.ns[prefix] = uri
        self.diagnostics = {
            d.get("id"): d
            for ds in schema.iterchildren(_sch("diagnostics"))
            for d in ds.iterchildren(_sch("diagnostic"))
        }
        self.checks: list[_Check] = []
        self.rules: list[str] = []
        #: each element written for a Schematron element, with it (for compile errors)
        self.origins: list[tuple[etree._Element, etree._Element]] = []
        #: Label of each active pattern, in the order of the ``teikit-start-N`` modes.
        self.patterns: list[str] = []
        #: Prefixes for readable paths: sch:ns first, then any the expressions use.
        self.prefixes: dict[str, str] = dict(self.ns)
        tops = (_sch("schema"), _sch("pattern"), _sch("phase"))
        self.global_names = [
            e.get("name")
            for e in schema.iter(_sch("let"), _xsl("variable"), _xsl("param"))
            if (parent := e.getparent()) is not None and parent.tag in tops
        ]

    def nsmap(self, src: etree._Element) -> dict[str, str]:
        """In-scope prefixes of a schema element, with ``sch:ns`` declarations winning."""
        found = {k: v for k, v in src.nsmap.items() if k}
        found.update(self.ns)
        for prefix, uri in found.items():
            self.prefixes.setdefault(prefix, uri)
        return found

    def sub(
        self, parent: etree._Element, tag: str, src: etree._Element | None = None, **attrs: str
    ) -> etree._Element:
        nsmap: dict[str | None, str] | None = None
        if src is not None:
            nsmap = {k: v for k, v in self.nsmap(src).items() if parent.nsmap.get(k) != v}
        made = etree.SubElement(parent, tag, attrs, nsmap=nsmap or None)
        if src is not None:
            self.origins.append((made, src))
        base = _explicit_base(src) if src is not None else None
        if base is not None:
            made.set(XML_BASE, base)  # content spliced from another file keeps its base URI
        return made

    def build(self, patterns: list[etree._Element], phase: etree._Element | None) -> etree._Element:
        root_ns: dict[str | None, str] = {"xsl": XSL, "xs": XS}
        root_ns.update(self.ns)
        root_ns.update({"tkerr": ERR, "tkout": OUT, "tkres": RES})
        sheet = etree.Element(
            _xsl("stylesheet"),
            {"version": "3.0", "exclude-result-prefixes": "#all"},
            nsmap=root_ns,
        )
        etree.SubElement(sheet, _xsl("output"), {"method": "xml", "indent": "no"})
        for child in self.schema:
            if (
                isinstance(child.tag, str)
                and etree.QName(child).namespace == XSL
                and etree.QName(child).localname in _TOP_LEVEL_XSL
            ) or _named_template(child):
                sheet.append(_adopt(child))
        for let in self.schema.iterchildren(_sch("let")):
            self.let(sheet, let)
        if phase is not None:
            for let in phase.iterchildren(_sch("let")):
                self.let(sheet, let)

        main = etree.SubElement(sheet, _xsl("template"), {"match": "/"})
        out = etree.SubElement(main, _out("results"))
        for number, pattern in enumerate(patterns, 1):
            etree.SubElement(
                out, _xsl("apply-templates"), {"select": ".", "mode": f"teikit-start-{number}"}
            )
            self.pattern(sheet, pattern, number)
        return sheet

    def let(self, parent: etree._Element, let: etree._Element, tag: str = "variable") -> None:
        name = let.get("name")
        if not name:
            raise SchemaError(f"{self.where}: <let> without @name")
        var = self.sub(parent, _xsl(tag), let, name=name)
        if let.get("value") is not None:
            var.set("select", let.get("value", ""))
        else:
            for child in let:
                var.append(_adopt(child))
            if not len(var):
                var.set("select", "()")

    def pattern(self, sheet: etree._Element, pattern: etree._Element, number: int) -> None:
        mode = f"teikit-p{number}"
        label = pattern.get("id") or f"pattern {number}"
        self.patterns.append(label)
        start = self.sub(sheet, _xsl("template"), pattern, match="/", mode=f"teikit-start-{number}")
        lets = []
        for let in pattern.iterchildren(_sch("let")):
            # A name used once in the schema becomes a global variable (usable in rule
            # contexts too); a name several patterns declare is passed as a tunnel parameter.
            if self.global_names.count(let.get("name")) == 1:
                self.let(sheet, let)
            else:
                self.let(start, let)
                lets.append(let)
        apply = etree.SubElement(start, _xsl("apply-templates"), {"select": ".", "mode": mode})
        for let in lets:
            etree.SubElement(
                apply,
                _xsl("with-param"),
                {"name": let.get("name", ""), "select": "$" + let.get("name", ""), "tunnel": "yes"},
            )
        rules = [r for r in pattern.iterchildren(_sch("rule")) if r.get("abstract") != "true"]
        for index, rule in enumerate(rules):
            self.rule(sheet, rule, mode, label, lets, priority=len(rules) - index)
        # Nodes no rule matches: visit attributes and children.
        recurse = etree.SubElement(
            sheet,
            _xsl("template"),
            {"match": "document-node() | element()", "mode": mode, "priority": "-1000"},
        )
        etree.SubElement(recurse, _xsl("apply-templates"), {"select": "@* | node()", "mode": mode})
        etree.SubElement(
            sheet,
            _xsl("template"),
            {
                "match": "@* | text() | comment() | processing-instruction()",
                "mode": mode,
                "priority": "-1000",
            },
        )

    def rule(
        self,
        sheet: etree._Element,
        rule: etree._Element,
        mode: str,
        pattern: str,
        lets: list[etree._Element],
        priority: int,
    ) -> None:
        context = rule.get("context")
        if not context:
            raise SchemaError(f"{self.where}: pattern {pattern!r}: a rule without @context")
        rule_label = f"rule {rule.get('id')!r}" if rule.get("id") else f"rule context={context!r}"
        rule_index = len(self.rules)
        self.rules.append(f"pattern {pattern!r}, {rule_label}")
        template = self.sub(
            sheet, _xsl("template"), rule, match=context, mode=mode, priority=str(1000 + priority)
        )
        if self.version == "1.0":
            template.set("version", "1.0")
        for let in lets:
            etree.SubElement(
                template, _xsl("param"), {"name": let.get("name", ""), "tunnel": "yes"}
            )
        attempt = etree.SubElement(template, _xsl("try"))
        for child in rule:
            if not isinstance(child.tag, str):
                continue
            if child.tag == _sch("let"):
                self.let(attempt, child)
            elif child.tag in (_sch("assert"), _sch("report")):
                self.check(attempt, child, rule, pattern, rule_label)
        catch = etree.SubElement(attempt, _xsl("catch"))
        err = etree.SubElement(catch, _out("error"), {"r": str(rule_index)})
        etree.SubElement(err, _xsl("attribute"), {"name": "path", "select": "path()"})
        etree.SubElement(
            err,
            _xsl("value-of"),
            {"select": "string-join(($tkerr:code ! string(), $tkerr:description), ': ')"},
        )
        etree.SubElement(
            template, _xsl("apply-templates"), {"select": "@* | node()", "mode": "#current"}
        )

    def check(
        self,
        parent: etree._Element,
        check: etree._Element,
        rule: etree._Element,
        pattern: str,
        rule_label: str,
    ) -> None:
        kind = etree.QName(check).localname
        test = check.get("test")
        if test is None:
            raise SchemaError(f"{self.where}: {rule_label}: <{kind}> without @test")
        role = check.get("role") or rule.get("role")
        index = len(self.checks)
        self.checks.append(
            _Check(kind, severity_of(role), check.get("id") or rule.get("id"), pattern, rule_label)
        )
        cond = self.sub(
            parent, _xsl("if"), check, test=f"not({test})" if kind == "assert" else test
        )
        found = etree.SubElement(cond, _out("found"), {"c": str(index)})
        subject = check.get("subject") or rule.get("subject")
        node = f"(({subject})[1], .)[1]" if subject else "."
        etree.SubElement(found, _xsl("attribute"), {"name": "path", "select": f"path({node})"})
        self.content(etree.SubElement(found, _out("text")), check)
        for ref in (check.get("diagnostics") or "").split():
            diagnostic = self.diagnostics.get(ref)
            if diagnostic is None:
                raise SchemaError(f"{self.where}: {rule_label}: no diagnostic with id {ref!r}")
            self.content(etree.SubElement(found, _out("diagnostic")), diagnostic)

    def content(self, out: etree._Element, src: etree._Element) -> None:
        """Turn mixed assertion content into literal text and ``xsl:value-of``."""
        self.text(out, src.text)
        for child in src:
            if child.tag == _sch("value-of"):
                self.sub(out, _xsl("value-of"), child, select=child.get("select", "."))
            elif child.tag == _sch("name"):
                self.sub(out, _xsl("value-of"), child, select=f"name({child.get('path', '.')})")
            elif isinstance(child.tag, str):
                self.content(out, child)
            self.text(out, child.tail)

    @staticmethod
    def text(out: etree._Element, value: str | None) -> None:
        if value:
            etree.SubElement(out, _xsl("text")).text = value


# --------------------------------------------------------------------------------------
# doc(), document(), unparsed-text(): URIs resolved through catalogs and the cache

#: Namespace of the functions and data the URI hook adds to the stylesheet.
RES = "urn:x-teikit:resolve"
FN = "http://www.w3.org/2005/xpath-functions"
#: Functions whose first argument is a URI to read.
URI_FUNCTIONS = (
    "doc",
    "doc-available",
    "document",
    "unparsed-text",
    "unparsed-text-lines",
    "unparsed-text-available",
    "json-doc",
)
#: Attributes of XSLT elements that hold XPath expressions (patterns are left alone:
#: ``doc()`` in a pattern must keep a literal argument).
_EXPR_ATTRS = {"select", "test", "use", "group-by", "group-adjacent", "value"}
_NAME_START = re.compile(
    r"(?:Q\{(?P<uri>[^{}]*)\}|(?P<prefix>[^\W\d][\w.\-]*):)?(?P<local>[^\W\d][\w.\-]*)"
)
_NAME_CHARS = re.compile(r"[\w.\-]")


def _explicit_base(elem: etree._Element) -> str | None:
    for node in (elem, *elem.iterancestors()):
        base = node.get(XML_BASE)
        if base:
            return base
    return None


def _skip_literal(expr: str, i: int) -> int:
    """Index after the string literal or comment starting at ``i`` (``i`` if none)."""
    ch = expr[i]
    if ch in "'\"":
        j = i + 1
        while j < len(expr):
            if expr[j] == ch:
                if j + 1 < len(expr) and expr[j + 1] == ch:
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(expr)
    if expr.startswith("(:", i):
        depth, j = 0, i
        while j < len(expr):
            if expr.startswith("(:", j):
                depth, j = depth + 1, j + 2
            elif expr.startswith(":)", j):
                depth, j = depth - 1, j + 2
                if depth == 0:
                    return j
            else:
                j += 1
        return len(expr)
    return i


def _first_argument(expr: str, start: int) -> int:
    """End index of the argument starting at ``start`` (at depth 0: ``,`` or ``)``)."""
    depth = 0
    i = start
    while i < len(expr):
        after = _skip_literal(expr, i)
        if after != i:
            i = after
            continue
        ch = expr[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return i
            depth -= 1
        elif ch == "," and depth == 0:
            return i
        i += 1
    return i


def hook_uri_functions(expr: str, literals: list[str] | None = None) -> str:
    """Wrap the URI argument of ``doc()``, ``document()``, ``unparsed-text()``... in
    ``tkres:uri()``/``tkres:uris()`` so that it is resolved through the catalogs and the
    cache at run time. String literals and comments are left alone; ``document('')``
    (the stylesheet itself) too. Literal URI arguments are appended to ``literals``.
    """
    out: list[str] = []
    i = 0
    while i < len(expr):
        after = _skip_literal(expr, i)
        if after != i:
            out.append(expr[i:after])
            i = after
            continue
        match = _NAME_START.match(expr, i)
        previous = expr[i - 1] if i else ""
        if match is None or (previous and (_NAME_CHARS.match(previous) or previous in "$:@}#")):
            out.append(expr[i])
            i += 1
            continue
        end = match.end()
        name_ok = match["local"] in URI_FUNCTIONS and (
            (match["prefix"] is None and match["uri"] is None)
            or match["prefix"] == "fn"
            or match["uri"] == FN
        )
        paren = end
        while paren < len(expr) and expr[paren].isspace():
            paren += 1
        if not name_ok or paren >= len(expr) or expr[paren] != "(":
            out.append(expr[i:end])
            i = end
            continue
        arg_start = paren + 1
        arg_end = _first_argument(expr, arg_start)
        argument = expr[arg_start:arg_end]
        stripped = argument.strip()
        if not stripped or (match["local"] == "document" and stripped in ("''", '""')):
            out.append(expr[i:arg_start])
            i = arg_start
            continue
        if (
            literals is not None
            and stripped[:1] in "'\""
            and _skip_literal(stripped, 0) == len(stripped)
        ):
            literals.append(stripped[1:-1].replace(stripped[0] * 2, stripped[0]))
        wrapper = "tkres:uris" if match["local"] == "document" else "tkres:uri"
        inner = hook_uri_functions(argument, literals)
        out.append(f"{expr[i:arg_start]}{wrapper}({inner}, static-base-uri())")
        i = arg_end
    return "".join(out)


def _cache_entries(options: ResolveOptions) -> dict[str, str]:
    """URL -> ``file:`` URI of every file in the cache (from the sidecars)."""
    found: dict[str, str] = {}
    try:
        sidecars = sorted(options.cache_dir.glob("*.json"))
    except OSError:
        return found
    for sidecar in sidecars:
        data = sidecar.with_name(sidecar.name[: -len(".json")])
        url = cached_url(data)
        if url and data.is_file():
            for variant in url_variants(url):
                found.setdefault(variant, data.resolve().as_uri())
    return found


def _resolver_functions(sheet: etree._Element, options: ResolveOptions) -> None:
    """Add ``tkres:uri``/``tkres:uris`` and the catalog data they consult to ``sheet``."""
    from teikit.schemas.resolve import catalog_for

    tk = f"{{{RES}}}"
    table = etree.Element(_xsl("variable"), {"name": "tkres:catalog", "as": "element()*"})
    files = catalog_for(options).entry_files() if options.catalogs else []
    for kind in ("uri", "system"):
        for entry in files:
            block = etree.SubElement(table, f"{tk}file")
            exact = entry.uri if kind == "uri" else entry.system
            rewrites = entry.rewrite_uri if kind == "uri" else entry.rewrite_system
            suffixes = entry.uri_suffix if kind == "uri" else entry.system_suffix
            for key, target in exact.items():
                etree.SubElement(block, f"{tk}exact", {"key": key, "to": target})
            for key, target in sorted(rewrites, key=lambda r: -len(r[0])):
                etree.SubElement(block, f"{tk}rewrite", {"key": key, "to": target})
            for key, target in sorted(suffixes, key=lambda r: -len(r[0])):
                etree.SubElement(block, f"{tk}suffix", {"key": key, "to": target})
    cache = etree.Element(_xsl("variable"), {"name": "tkres:cache", "as": "element()*"})
    for url, target in _cache_entries(options).items():
        etree.SubElement(cache, f"{tk}exact", {"key": url, "to": target})
    sheet.append(table)
    sheet.append(cache)
    template = _xpath_string(unavailable_message("@@URL@@", options, "document"))
    functions = f"""
<xsl:stylesheet version="3.0" xmlns:xsl="{XSL}" xmlns:xs="{XS}" xmlns:tkres="{RES}">
  <xsl:function name="tkres:catalog" as="xs:string?">
    <xsl:param name="key" as="xs:string"/>
    <xsl:sequence select="(for $f in $tkres:catalog return (
        $f/tkres:exact[@key = $key]/@to,
        (for $r in $f/tkres:rewrite[starts-with($key, @key)][1]
         return concat($r/@to, substring($key, string-length($r/@key) + 1))),
        $f/tkres:suffix[ends-with($key, @key)][1]/@to)[1])[1] ! string()"/>
  </xsl:function>
  <xsl:function name="tkres:resolve" as="xs:string">
    <xsl:param name="reference" as="xs:string"/>
    <xsl:param name="base" as="xs:string?"/>
    <xsl:variable name="absolute" select="string(if ($base) then resolve-uri($reference, $base)
        else $reference)"/>
    <xsl:variable name="key" select="iri-to-uri($absolute)"/>
    <xsl:variable name="mapped" select="(tkres:catalog($key), $key)[1]"/>
    <xsl:variable name="local" select="if (matches($mapped, '^[a-zA-Z][a-zA-Z0-9+.-]+:')
        and not(starts-with($mapped, 'file:'))) then ($tkres:cache[@key = $mapped]/@to ! string(),
        $mapped)[1] else $mapped"/>
    <xsl:sequence select="if (starts-with($local, 'file:') or not(matches($local,
        '^[a-zA-Z][a-zA-Z0-9+.-]+:'))) then $local
        else error(QName('{RES}', 'tkres:unavailable'),
                   string-join(tokenize({template}, '@@URL@@'), $absolute))"/>
  </xsl:function>
  <xsl:function name="tkres:uri" as="xs:string?">
    <xsl:param name="reference" as="item()?"/>
    <xsl:param name="base" as="xs:anyURI?"/>
    <xsl:sequence select="if (empty($reference)) then ()
        else tkres:resolve(string($reference), string($base))"/>
  </xsl:function>
  <xsl:function name="tkres:uris" as="xs:string*">
    <xsl:param name="references" as="item()*"/>
    <xsl:param name="base" as="xs:anyURI?"/>
    <xsl:sequence select="for $r in $references return tkres:resolve(string($r),
        if ($r instance of node()) then string((base-uri($r), $base)[1]) else string($base))"/>
  </xsl:function>
</xsl:stylesheet>"""
    for function in etree.fromstring(functions):
        sheet.append(function)


def _xpath_string(text: str) -> str:
    """An XPath string literal, escaped for use inside a double-quoted XML attribute."""
    return html.escape("'" + text.replace("'", "''") + "'", quote=True)


def _hook(sheet: etree._Element, options: ResolveOptions) -> list[str]:
    """Rewrite every expression of ``sheet``; return the literal URIs they read."""
    literals: list[str] = []
    hooked = False
    for elem in sheet.iter():
        if not isinstance(elem.tag, str) or etree.QName(elem).namespace != XSL:
            continue
        for attr in _EXPR_ATTRS.intersection(elem.attrib):
            value = elem.get(attr, "")
            rewritten = hook_uri_functions(value, literals)
            if rewritten != value:
                elem.set(attr, rewritten)
                hooked = True
    if hooked:
        _resolver_functions(sheet, options)
    return literals


def _prefetch(literals: list[str], options: ResolveOptions) -> None:
    """With the network allowed, fetch literal ``doc()`` URLs into the cache now."""
    if not options.allow_network:
        return
    for literal in dict.fromkeys(literals):
        if is_url(literal):
            try:
                resolve_schema(literal, options)
            except (SchemaUnavailable, SchemaError):
                continue  # reported when the rule runs


# --------------------------------------------------------------------------------------
# Running


@cache
def _processor() -> Any:
    """One Saxon processor per process (creating several is slow and unsupported)."""
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    # doc() and friends may read local files only: no network, as for the documents.
    processor.set_configuration_property("http://saxon.sf.net/feature/allowedProtocols", "file")
    return processor


_SAXON_LOCK = threading.Lock()


@contextlib.contextmanager
def _saxon_quiet() -> Iterator[None]:
    """Hold the Saxon lock with file descriptor 2 sent to the null device.

    SaxonC prints every error it raises to the process's standard error, besides raising
    it; teikit reports those errors as diagnostics, so the copy would only be noise
    (a library must not write to the terminal). Python's own ``sys.stderr`` is flushed
    first; other threads' writes to descriptor 2 during a transform are lost.
    """
    with _SAXON_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            yield  # no usable descriptor 2 (embedded interpreters): nothing to hide
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


@dataclass(slots=True)
class CompiledSchematron:
    """A compiled Schematron schema; ``xslt`` is the generated stylesheet, for debugging."""

    schema: str
    xslt: str
    executable: Any
    checks: tuple[_Check, ...]
    rules: tuple[str, ...]
    prefixes: dict[str, str]
    #: Pattern labels (ids), one per ``teikit-start-N`` mode; used when a whole run fails.
    patterns: tuple[str, ...] = ()

    def check(self, doc: Document) -> Iterator[Diagnostic]:
        """Run every active pattern over ``doc``.

        An error no rule can catch (in a schema-level ``let``, which XSLT evaluates as a
        global variable) stops Saxon's whole run; the patterns are then run one by one, so
        that each pattern that fails is one ``sch.error`` and the others still report.
        """
        failures: list[tuple[str, str]] = []
        with _saxon_quiet():
            try:
                output = self._transform(doc)
            except Exception as exc:  # Saxon's own exception type is not importable reliably
                output, failures = self._pattern_by_pattern(doc, exc)
        for label, reason in failures:
            yield Diagnostic(
                doc.display,
                0,
                0,
                Severity.ERROR,
                "sch.error",
                f"{label} could not run: {reason}",
                schema=self.schema,
            )
        results = etree.fromstring(output.encode("utf-8"), make_parser())
        locator = _Locator(doc, self.prefixes)
        errors_seen: set[tuple[str, str]] = set()
        for item in results:
            path = item.get("path", "")
            line, xpath = locator.locate(path)
            if item.tag == _out("error"):
                rule = self.rules[int(item.get("r", "0"))]
                reason = _normalize(item.text or "")
                if (rule, reason) in errors_seen:
                    continue
                errors_seen.add((rule, reason))
                yield Diagnostic(
                    doc.display,
                    line,
                    0,
                    Severity.ERROR,
                    "sch.error",
                    f"{rule} failed to evaluate: {reason}",
                    xpath=xpath,
                    schema=self.schema,
                )
                continue
            check = self.checks[int(item.get("c", "0"))]
            parts = [_normalize("".join(part.itertext())) for part in item]
            message = " ".join(p for p in parts if p)
            if check.ident:
                message = f"{message} [{check.ident}]"
            yield Diagnostic(
                doc.display,
                line,
                0,
                check.severity,
                f"sch.{check.kind}",
                message,
                xpath=xpath,
                schema=self.schema,
            )

    def _pattern_by_pattern(
        self, doc: Document, first: Exception
    ) -> tuple[str, list[tuple[str, str]]]:
        """Run each pattern's mode alone; (merged results, [(pattern, reason)])."""
        if not self.patterns:
            return f"<r xmlns='{OUT}'/>", [("Schematron", _saxon_reason(str(first)))]
        node = self._node(doc)
        parts: list[str] = []
        failures: list[tuple[str, str]] = []
        for number, label in enumerate(self.patterns, 1):
            executable = self.executable.clone()
            executable.set_global_context_item(xdm_item=node)
            executable.set_initial_mode(f"teikit-start-{number}")
            try:
                text = executable.apply_templates_returning_string(xdm_value=node)
            except Exception as exc:
                failures.append((f"pattern {label!r}", _saxon_reason(str(exc))))
                continue
            parts.append(re.sub(r"^<\?xml[^>]*\?>", "", str(text or "")))
        return f"<r xmlns='{OUT}'>{''.join(parts)}</r>", failures

    def _node(self, doc: Document) -> Any:
        builder = _processor().new_document_builder()
        builder.set_base_uri(doc.path.resolve().as_uri())
        return builder.parse_xml(xml_text=_serialize(doc), encoding="UTF-8")

    def _transform(self, doc: Document) -> str:
        builder = _processor().new_document_builder()
        builder.set_base_uri(doc.path.resolve().as_uri())
        node = builder.parse_xml(xml_text=_serialize(doc), encoding="UTF-8")
        return str(self.executable.transform_to_string(xdm_node=node))


def _serialize(doc: Document) -> str:
    """The document without its DOCTYPE (Saxon must not fetch a DTD lxml refused)."""
    root = doc.root
    before = reversed(list(root.itersiblings(preceding=True)))
    after = root.itersiblings()
    parts = [etree.tostring(n, encoding="unicode", with_tail=False) for n in before]
    parts.append(etree.tostring(root, encoding="unicode", with_tail=False))
    parts.extend(etree.tostring(n, encoding="unicode", with_tail=False) for n in after)
    return "\n".join(parts)


def _saxon_reason(message: str) -> str:
    """The reason in a Saxon error report, without its stack of "During ..." lines."""
    lines = [line.strip() for line in message.strip().splitlines()]
    kept: list[str] = []
    for line in lines:
        if line.startswith(("During ", "In function", "In template", "In variable", "invoked by")):
            break
        if line.startswith("Error ") and line.endswith(":"):
            continue
        kept.append(line)
    reason = _normalize(" ".join(kept)) or _normalize(message)
    return re.sub(r"^(\S+:\S+)\s+", r"\1: ", reason)


def _normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _clean(message: str) -> str:
    return _normalize(message)


_STEP = re.compile(r"/(@?Q\{[^}]*\}[^/\[]*(?:\[\d+\])?|[^/]+)")
_QSTEP = re.compile(r"Q\{(?P<uri>[^}]*)\}(?P<local>[^\[]+)(?:\[(?P<pos>\d+)\])?")


_WELL_KNOWN = {"http://www.tei-c.org/ns/1.0": "tei", "http://www.w3.org/1999/xhtml": "html"}


class _Locator:
    """Turns ``fn:path()`` results back into lxml elements (line) and prefixed paths."""

    def __init__(self, doc: Document, prefixes: dict[str, str]) -> None:
        self.root = doc.root
        self.prefix = {uri: p for p, uri in reversed(list(prefixes.items()))}
        for p, uri in self.root.nsmap.items():
            if p:
                self.prefix.setdefault(uri, p)
        for uri, p in _WELL_KNOWN.items():
            self.prefix.setdefault(uri, p)
        self.cache: dict[str, tuple[int, str | None]] = {}

    def name(self, uri: str, local: str) -> str:
        if not uri:
            return local
        prefix = self.prefix.get(uri)
        return f"{prefix}:{local}" if prefix else f"Q{{{uri}}}{local}"

    def locate(self, path: str) -> tuple[int, str | None]:
        if path not in self.cache:
            self.cache[path] = self._locate(path)
        return self.cache[path]

    def _locate(self, path: str) -> tuple[int, str | None]:
        if not path.startswith("/"):
            return 0, path or None  # a node outside the checked document
        current: etree._Element | None = None
        shown: list[str] = []
        for step in _STEP.findall(path):
            match = _QSTEP.fullmatch(step.lstrip("@"))
            if step.startswith("@"):
                shown.append("@" + self.name(match["uri"], match["local"]) if match else step)
                break
            if match is None:
                shown.append(step)  # text()[n], comment()[n], ...: report the parent's line
                break
            tag = f"{{{match['uri']}}}{match['local']}" if match["uri"] else match["local"]
            position = int(match["pos"] or 1)
            candidates = [self.root] if current is None else list(current.iterchildren(tag))
            if current is None and self.root.tag != tag:
                candidates = []
            if position > len(candidates):
                break
            current = candidates[position - 1]
            shown.append(f"{self.name(match['uri'], match['local'])}[{position}]")
        line = (current if current is not None else self.root).sourceline or 0
        return line, "/" + "/".join(shown)


#: The attribute holding each Schematron element's expression.
_EXPRESSION_OF = {
    "assert": "test",
    "report": "test",
    "rule": "context",
    "let": "value",
    "value-of": "select",
    "name": "path",
}
_SAXON_AT = re.compile(r"on line (\d+)")
_SAXON_REASON = re.compile(r":\s*\n\s*(\S.*)", re.DOTALL)


def _compile_sheet(processor: Any, text: str, path: Path, *, numbered: bool = False) -> Any:
    """Saxon's executable for the generated stylesheet ``text``, whose base is the schema's
    ``path``; with its lines numbered when a compile error is to be located."""
    builder = processor.new_document_builder()
    if numbered:
        builder.set_line_numbering(True)
    builder.set_base_uri(path.resolve().as_uri())
    node = builder.parse_xml(xml_text=text, encoding="UTF-8")
    return processor.new_xslt30_processor().compile_stylesheet(stylesheet_node=node)


def _compile_error_source(
    sheet: etree._Element, generator: _Generator, processor: Any, path: Path, where: str
) -> str | None:
    """The message for an expression Saxon cannot compile, at its place in the schema.

    Saxon names the line of the generated stylesheet, which is one line as compiled: it
    is compiled again, indented and with line numbers (only when compiling failed), and
    the element on that line leads back to the Schematron element it was written for.
    None when Saxon names no line that does.
    """
    text = etree.tostring(sheet, pretty_print=True, encoding="unicode")
    try:
        _compile_sheet(processor, text, path, numbered=True)
    except Exception as exc:  # PySaxonApiError, as the first time
        message = str(exc)
    else:
        return None
    at = _SAXON_AT.search(message)
    if at is None:
        return None
    line = int(at.group(1))
    written = [el for el in etree.fromstring(text).iter() if isinstance(el.tag, str)]
    index = max((i for i, el in enumerate(written) if (el.sourceline or 0) <= line), default=0)
    made = [el for el in sheet.iter() if isinstance(el.tag, str)][index]
    origins = {id(el): src for el, src in generator.origins}
    src = next((origins[id(el)] for el in (made, *made.iterancestors()) if id(el) in origins), None)
    if src is None:
        return None
    kind = etree.QName(src).localname
    attr = _EXPRESSION_OF.get(kind)
    shown = f'<{kind} {attr}="{src.get(attr)}">' if attr and src.get(attr) else f"<{kind}>"
    base = _explicit_base(src)
    from_file = base is not None and base.startswith("file:")
    place = display_name(Path(unquote(urlsplit(base).path))) if base and from_file else where
    reason = _SAXON_REASON.search(message)
    why = _normalize(reason.group(1)) if reason else _clean(message)
    return f"{place}:{src.sourceline or 0}: cannot compile Schematron: {shown}: {why}"


def compile_schematron(
    path: Path, phase: str | None = None, resolve: ResolveOptions | None = None
) -> CompiledSchematron:
    """Compile an ISO Schematron schema (or the Schematron embedded in a ``.rng``).

    ``phase`` selects a phase by id (``#ALL`` for every pattern); without it the schema's
    ``defaultPhase`` applies. A schema that cannot be read or compiled raises SchemaError.

    ``resolve`` says where URLs come from (catalogs, cache, network): ``include`` and
    ``extends`` hrefs, and the URIs that ``doc()``, ``doc-available()``, ``document()``,
    ``unparsed-text*()`` and ``json-doc()`` read at run time. A URL no catalog or cache
    entry provides is never fetched by Saxon: the call fails with ``tkres:unavailable``
    (also for ``doc-available()``, which would otherwise quietly answer false) and the
    rule is reported as ``sch.error`` naming the URL and how to provide it. Without
    ``resolve``, :func:`teikit.schemas.resolve.default_options` applies.
    """
    path = Path(path)
    where = str(path)
    options = resolve if resolve is not None else default_options()
    root = _parse(path)
    if root.tag == _q(RNG, "grammar") or etree.QName(root).namespace == RNG:
        schema = _embedded_from(root)
    elif root.tag == _sch("schema"):
        schema = root
        _resolve_includes(schema, path.resolve(), (path.resolve(),), options)
        _resolve_schema_extends(schema, path.resolve(), (path.resolve(),), options)
    else:
        raise SchemaError(f"{where}: not an ISO Schematron schema (root is {root.tag!r})")
    _expand_extends(schema, where)
    patterns = _instantiate(schema, where)
    active, phase_elem = _active_patterns(schema, patterns, phase, where)
    generator = _Generator(schema, where)
    sheet = generator.build(active, phase_elem)
    _prefetch(_hook(sheet, options), options)
    xslt = etree.tostring(sheet, encoding="unicode")
    with _saxon_quiet():
        processor = _processor()
        try:
            executable = _compile_sheet(processor, xslt, path)
        except Exception as exc:  # PySaxonApiError
            located = _compile_error_source(sheet, generator, processor, path, where)
            raise SchemaError(
                located or f"{where}: cannot compile Schematron: {_clean(str(exc))}"
            ) from None
    if executable is None:
        raise SchemaError(f"{where}: cannot compile Schematron (Saxon gave no reason)")
    return CompiledSchematron(
        where,
        xslt,
        executable,
        tuple(generator.checks),
        tuple(generator.rules),
        generator.prefixes,
        tuple(generator.patterns),
    )
