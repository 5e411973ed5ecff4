"""RELAX NG through libxml2 (lxml), made fast for TEI and made to explain itself.

Compiling ``tei_all.rng`` as it is takes libxml2 6–9 s, and a ``listBibl`` of a few
thousand entries takes it 13 s to validate. :mod:`teikit.engines.rng_grammar` prepares
the grammar once (includes resolved, ``(A+, B*)+`` rewritten, patterns simplified so that
libxml2 compiles the whole of ``tei_all`` in about 0.05 s) and keeps the result on disk
(:func:`cache_dir`). Each document is checked against a specialisation that keeps only
the elements it contains and, on each element, only the attributes it carries there:
a few hundred patterns, compiled in a millisecond, and content models without
attributes, which libxml2 runs as automata instead of backtracking. Specialisations are
cached per schema; a document reuses the smallest one that covers its names.

libxml2 decides validity; the messages come from the unpruned grammar. For each place
libxml2 reports, the children there are matched against the parent's content model
(:class:`~teikit.engines.rng_grammar.ContentModels`) to name the first child that is not
allowed and what is allowed at that point, grouped by the TEI class it comes through;
a rejected attribute is told apart from a rejected value, with the values allowed.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import SchemaError
from teikit.loading import Document, make_parser
from teikit.xmlutil import display_name, element_name, readable_path, resolve_libxml2_path

from .rng_grammar import (
    ContentModels,
    Expectation,
    GrammarUnsupported,
    Leaf,
    PreparedGrammar,
    attribute_key,
    prepare_cached,
    prepare_tree,
)

#: Specialisations kept per schema; a document reuses the smallest that covers its names.
CACHE_SIZE = 64
#: Names shown in one "allowed here" list.
SHOWN = 10
#: Findings one search inside a subtree libxml2 blamed may add.
MAX_DRILLED = 1000
#: How many times a document is validated again past its first failure (see
#: :meth:`CompiledRelaxNG.check`): each round costs one validation of the document.
MAX_ROUNDS = 50
#: A first pass that found this many problems already gives the editor plenty to fix:
#: looking past it costs a validation per round for little (the 2 MB FRUS volume: 0.4 s
#: against tei_all for 2 more findings after 312).
LOOK_PAST_BELOW = 20


@dataclass(slots=True, eq=False)
class CompiledRelaxNG:
    """A RELAX NG schema ready to check documents.

    ``validator`` is the schema compiled as it is (used when ``grammar`` is None: the
    schema uses something the preparation does not handle, or it was built elsewhere).
    With a prepared ``grammar`` each document is checked against a specialisation: the
    smallest cached one whose names cover the document's, else one made for it (about a
    millisecond for a TEI letter). Over a corpus most documents find one: documents of
    one kind use the same elements.
    """

    schema: str
    validator: etree.RelaxNG | None = None
    grammar: PreparedGrammar | None = None
    #: Compiles the schema as it is, when a specialisation cannot be (default: the file).
    plain: Callable[[], etree.RelaxNG] | None = None
    _cache: OrderedDict[frozenset[str], etree.RelaxNG] = field(default_factory=OrderedDict)
    _models: ContentModels | None = None
    #: How many specialisations were compiled (for tests and benchmarks).
    compiled: int = 0

    def prepare(self, docs: Iterable[Document]) -> None:
        """Compile one specialisation covering all of ``docs`` before they are checked.

        Optional: :meth:`check` specialises per document anyway; one grammar for a batch
        saves compilations when the documents differ much (and validates a little more
        slowly than a grammar made for each).
        """
        if self.grammar is None:
            return
        names: set[str] = set()
        for doc in docs:
            names |= document_names(doc)
        self._specialisation(frozenset(names))

    def check(self, doc: Document) -> Iterator[Diagnostic]:
        """Validate; each problem is reported once, where it is, with what is allowed.

        libxml2 stops at the first failure whose effect reaches the root: twenty stray
        elements in twenty paragraphs gave one finding where jing gives twenty. So what
        can be set aside (an element or an attribute that is not allowed where it stands)
        is taken out of a copy of the document, which is validated again, until nothing
        new is found, it is valid, or :data:`MAX_ROUNDS` is reached; not when the first
        pass already found :data:`LOOK_PAST_BELOW` problems or more.
        """
        validator = self._validator_for(doc)
        if validator.validate(doc.tree):
            return
        findings = self._explain(doc, validator.error_log)
        yield from (f.diag for f in findings)
        if self.grammar is not None and len(findings) < LOOK_PAST_BELOW:
            yield from self._beyond(doc, validator, findings)

    def _beyond(
        self, doc: Document, validator: etree.RelaxNG, findings: list[_Finding]
    ) -> Iterator[Diagnostic]:
        seen = {_key(f.diag) for f in findings}
        copied: etree._ElementTree | None = None
        emptied: set[etree._Element] = set()  # parents a stray child was taken from
        for _ in range(MAX_ROUNDS):
            fixes: list[tuple[etree._Element | None, str]] = [
                (f.elem, f.fix) for f in findings if f.fix and f.elem is not None
            ]
            if not fixes:
                return
            if copied is None:  # the first round's elements are the caller's: copy them
                copied = copy.deepcopy(doc.tree)
                fixes = [(_same(copied, doc.tree, e), fix) for e, fix in fixes if e is not None]
            for elem, fix in fixes:
                if elem is not None:
                    _set_aside(elem, fix, emptied)
            if validator.validate(copied):
                return
            again = Document(doc.path, doc.display, copied, doc.options)
            findings = [
                f
                for f in self._explain(again, validator.error_log)
                if _key(f.diag) not in seen and not (f.elem in emptied and f.fix is None)
            ]
            for finding in findings:
                seen.add(_key(finding.diag))
                yield finding.diag

    # -- choosing a validator ------------------------------------------------------------

    def _validator_for(self, doc: Document) -> etree.RelaxNG:
        if self.grammar is None:
            assert self.validator is not None
            return self.validator
        return self._specialisation(document_names(doc))

    def _specialisation(self, names: frozenset[str]) -> etree.RelaxNG:
        """The smallest cached specialisation covering ``names``, or a new one."""
        best: frozenset[str] | None = None
        for key in self._cache:
            if names <= key and (best is None or len(key) < len(best)):
                best = key
        if best is not None:
            self._cache.move_to_end(best)
            return self._cache[best]
        validator = self._compile(names)
        if self.grammar is not None:  # else the specialisation failed: no cache
            self._cache[names] = validator
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return validator

    def _compile(self, names: frozenset[str]) -> etree.RelaxNG:
        assert self.grammar is not None
        self.compiled += 1
        try:
            return etree.RelaxNG(etree.fromstring(self.grammar.specialize_text(names)))
        except etree.RelaxNGParseError:
            # libxml2 refuses the specialisation: compile the schema as it is, which either
            # reports the schema's own error or (a bug here) validates without our help.
            self.validator = self.plain() if self.plain else _compile_plain(Path(self.schema))
            self.grammar = None
            return self.validator

    # -- messages ------------------------------------------------------------------------

    def content_models(self) -> ContentModels | None:
        """The unpruned content models (built on first use), or None without a grammar."""
        if self._models is None and self.grammar is not None:
            self._models = ContentModels(self.grammar)
        return self._models

    def _explain(self, doc: Document, log: etree._ListErrorLog) -> list[_Finding]:
        explainer = _Explainer(self, doc, self.content_models())
        if explainer.models is not None:
            explainer.root()  # a specialisation for a wrong root says nothing about it
        for entry in log:
            explainer.add(entry)
        return explainer.finish()


def _key(diag: Diagnostic) -> tuple[int, str, str | None]:
    return (diag.line, diag.message, diag.xpath)


def _same(
    copied: etree._ElementTree, tree: etree._ElementTree, elem: etree._Element
) -> etree._Element | None:
    """``elem``'s counterpart in a deep copy of ``tree``: the same child positions down
    from the root (comments and processing instructions count, as they are copied too)."""
    steps: list[int] = []
    node = elem
    parent = node.getparent()
    while parent is not None:
        steps.append(parent.index(node))
        node, parent = parent, parent.getparent()
    if node is not tree.getroot():
        return None
    found = copied.getroot()
    for step in reversed(steps):
        found = found[step]
    return found


def _set_aside(elem: etree._Element, fix: str, emptied: set[etree._Element]) -> None:
    """Take out what a finding says may not be there (its words stay, for the text)."""
    if fix.startswith("@"):
        elem.attrib.pop(fix[1:], None)
        return
    parent = elem.getparent()
    if parent is None:
        return
    if elem.tail:
        before = elem.getprevious()
        if before is not None:
            before.tail = (before.tail or "") + elem.tail
        else:
            parent.text = (parent.text or "") + elem.tail
    parent.remove(elem)
    emptied.add(parent)


def document_names(doc: Document) -> frozenset[str]:
    """What a specialisation must keep for ``doc``: its element and attribute names.

    Elements as Clark names, attributes both alone and with the element that carries
    them (:func:`~teikit.engines.rng_grammar.attribute_key`).
    """
    tags: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for el in doc.tree.iter(etree.Element):
        tag = str(el.tag)
        tags.add(tag)
        for attr in el.attrib:
            pairs.add((tag, attr))
    names = set(tags)
    for tag, attr in pairs:
        names.add(attribute_key(attr))
        names.add(attribute_key(attr, tag))
    return frozenset(names)


# --------------------------------------------------------------------------------------
# Turning libxml2's error log into one finding per problem
# --------------------------------------------------------------------------------------

_NOT_EXPECTED = re.compile(r"Did not expect element (\S+) there")
_BAD_ATTRIBUTE = re.compile(r"Invalid attribute (\S+) for element (\S+)")
_EXPECTING = re.compile(r"Expecting element (\S+), got (\S+)")
_EXTRA = re.compile(r"Element (\S+) has extra content: (\S+)")
#: Messages about which elements an element contains (answered from the content model).
_CONTENT = re.compile(
    r"Did not expect element|Expecting element|Expecting an element|has extra content|"
    r"failed to validate content|failed to validate attributes|Invalid sequence in interleave|"
    r"Extra element .* in interleave|Element .* in interleave|Expecting no namespace|"
    r"Expecting a namespace|Expecting element .* to be empty"
)


#: Content messages about text rather than child elements (never taken as cascades).
_TEXTUAL = re.compile(r"\btext\b|to be empty|datatype|value", re.IGNORECASE)


@dataclass
class _Finding:
    elem: etree._Element | None
    diag: Diagnostic
    #: What taking out would let validation look past it: "child" (``elem`` itself) or
    #: "@name" (an attribute of ``elem``); None when nothing can be set aside.
    fix: str | None = None


class _Explainer:
    """Words libxml2's entries for one document: each problem once, where it is.

    libxml2 reports the first failure in a subtree and then every ancestor whose content
    failed because of it, sometimes with a confusing "expecting". Each entry about
    content is checked against the content model of the element it concerns: a child
    that is not allowed is reported with what is allowed there; an entry whose children
    are all allowed is a consequence of something inside, which is reported instead (when
    libxml2 did not report it, the subtree is searched by element and attribute names).
    """

    def __init__(
        self, compiled: CompiledRelaxNG, doc: Document, models: ContentModels | None
    ) -> None:
        self.compiled = compiled
        self.doc = doc
        self.models = models
        self.findings: list[_Finding] = []
        # Keyed by the elements themselves: keeping lxml's proxies alive keeps them unique.
        self.checked: dict[etree._Element | None, Expectation | None] = {}
        self.unexplained: list[
            tuple[etree._Element | None, etree._Element | None, etree._LogEntry]
        ] = []
        self.seen: set[tuple[etree._Element | None, str]] = set()

    def add(self, entry: etree._LogEntry) -> None:
        elem = _resolve(self.doc.tree, entry.path) if entry.path else None
        message = entry.message or ""
        if self.models is None or not _CONTENT.search(message):
            self._plain(elem, entry)
            return
        subject = _subject(message, elem)
        if not (subject is None and elem is None) and self._content(subject):
            return
        self.unexplained.append((subject, elem, entry))

    def finish(self) -> list[_Finding]:
        pending: list[tuple[etree._Element | None, etree._LogEntry]] = []
        for subject, elem, entry in self.unexplained:
            if elem is not None and any(
                self._explains(f.elem, subject, elem) for f in self.findings
            ):
                continue  # its cause was reported inside it (or after it, in its parent)
            if elem is not None and self._drill(elem):
                continue
            pending.append((elem, entry))
        for elem, entry in pending:
            # libxml2's claim about children our content models find in order (after
            # backtracking out of a failure reported elsewhere): kept only if alone.
            if self.findings and not _TEXTUAL.search(entry.message or ""):
                continue
            self._plain(elem, entry)
        if not self.findings:  # invalid without a word from libxml2: still say so
            root = self.doc.root
            message = f"element <{_name(root)}> does not match the schema (no details from libxml2)"
            self.findings.append(_Finding(root, self._diag(root, 0, message)))
        return self.findings

    def root(self) -> None:
        """Report a root element the start pattern does not allow."""
        self._content(None)

    @staticmethod
    def _explains(
        found: etree._Element | None, subject: etree._Element | None, elem: etree._Element
    ) -> bool:
        """Is a finding at ``found`` the cause of libxml2 blaming ``elem`` in ``subject``?"""
        if _within(found, elem):
            return True
        if subject is None or found is None or elem.getparent() is not subject:
            return False
        # libxml2 blames the first child it could not consume, which may come before the
        # child that really failed: a finding in a later sibling explains it too.
        node: etree._Element | None = found
        while node is not None and node.getparent() is not subject:
            node = node.getparent()
        return node is not None and subject.index(node) >= subject.index(elem)

    # -- content -------------------------------------------------------------------------

    def _content(self, subject: etree._Element | None) -> bool:
        """Report the first child of ``subject`` (None: the root) that may not be there."""
        if subject not in self.checked:
            self.checked[subject] = self._expect(subject)
        found = self.checked[subject]
        if found is None:
            return False
        self._report(subject, found)
        return True

    def _expect(self, subject: etree._Element | None) -> Expectation | None:
        assert self.models is not None
        if subject is None:
            return self.models.expect(None, [str(self.doc.root.tag)])
        if not isinstance(subject.tag, str):
            return None
        kids = [str(c.tag) for c in subject.iterchildren(etree.Element)]
        return self.models.expect(subject.tag, kids)

    def _report(self, subject: etree._Element | None, found: Expectation) -> None:
        if subject is None:
            child: etree._Element | None = self.doc.root
        elif found.index is None:
            child = None
        else:
            child = list(subject.iterchildren(etree.Element))[found.index]
        where = subject if child is None else child
        if not self._first(where, "content"):
            return
        allowed = allowed_text(found.allowed, subject if subject is not None else self.doc.root)
        if child is None:
            assert subject is not None
            message = f"element <{_name(subject)}> is incomplete"
            message += f"; it must still contain {allowed}" if allowed else ""
        elif subject is None:
            message = f"element <{_name(child)}> is not allowed as the root element"
            message += f"; allowed: {allowed}" if allowed else ""
        else:
            parent = _name(subject)
            message = f"element <{_name(child)}> is not allowed here inside <{parent}>"
            if allowed:
                message += f"; allowed here: {allowed}"
            elif found.may_end:
                message += f"; nothing more may follow in <{parent}>"
        fix = "child" if child is not None and subject is not None else None
        self.findings.append(_Finding(where, self._diag(where, 0, message), fix))

    def _drill(self, top: etree._Element) -> bool:
        """libxml2 blamed ``top`` for something inside it: look for it by names."""
        models = self.models
        assert models is not None
        before = len(self.findings)
        known: dict[str, bool] = {}
        for elem in top.iter(etree.Element):
            tag = str(elem.tag)
            if tag not in known:
                known[tag] = models.model(tag) is not None
            if not known[tag]:
                continue  # an element no pattern names plainly: nothing to say by name
            if len(elem.attrib):
                names, classes = models.attributes(tag)
                for attr in elem.attrib:
                    if attr not in names and not any(m(attr) for m in classes):
                        self._attribute(elem, attr)
            # every element: an empty one may be incomplete
            kids = tuple(str(c.tag) for c in elem.iterchildren(etree.Element))
            found = models.expect(tag, kids)
            if found is not None:
                self.checked[elem] = found
                self._report(elem, found)
                if len(self.findings) - before >= MAX_DRILLED:
                    break
        return len(self.findings) > before

    def _attribute(self, elem: etree._Element, attr: str) -> None:
        """An attribute libxml2 (or the search) rejected: not allowed there, or its value."""
        if not self._first(elem, "@" + attr):
            return
        shown = display_name(attr, dict(elem.nsmap))
        owner = _name(elem)
        assert self.models is not None
        tag = str(elem.tag)
        names, classes = self.models.attributes(tag)
        if attr in names or any(m(attr) for m in classes):
            value = elem.get(attr, "")
            message = (
                f'attribute {shown} on <{owner}> has a value the schema does not allow: "{value}"'
            )
            expected = self.models.attribute_value(tag, attr)
            if expected == "ID":
                expected = "an ID (a name, used once in the document)"
            message += f"; expected {expected}" if expected else ""
        else:
            message = f"attribute {shown} is not allowed on <{owner}>"
            nsmap = dict(elem.nsmap)
            close = difflib.get_close_matches(
                shown, [display_name(n, nsmap) for n in names], n=1, cutoff=0.75
            )
            message += f"; did you mean {close[0]}?" if close else ""
            self.findings.append(_Finding(elem, self._diag(elem, 0, message), "@" + attr))
            return
        self.findings.append(_Finding(elem, self._diag(elem, 0, message)))

    # -- everything else -----------------------------------------------------------------

    def _plain(self, elem: etree._Element | None, entry: etree._LogEntry) -> None:
        message = entry.message or ""
        if (
            elem is not None
            and self.models is not None
            and (m := _BAD_ATTRIBUTE.search(message)) is not None
        ):
            attr = next((a for a in elem.attrib if etree.QName(a).localname == m.group(1)), None)
            if attr is not None:
                self._attribute(elem, attr)
                return
        text = humanise(message, elem)
        if self._first(elem, f"{entry.line}:{text}"):
            self.findings.append(_Finding(elem, self._diag(elem, entry.column, text, entry.line)))

    def _first(self, elem: etree._Element | None, what: str) -> bool:
        mark = (elem, what)
        if mark in self.seen:
            return False
        self.seen.add(mark)
        return True

    def _diag(
        self, elem: etree._Element | None, column: int, message: str, line: int = 0
    ) -> Diagnostic:
        return Diagnostic(
            self.doc.display,
            (elem.sourceline if elem is not None else 0) or line or 0,
            column,
            Severity.ERROR,
            "rng.invalid",
            message,
            xpath=readable_path(elem) if elem is not None else None,
            schema=self.compiled.schema,
        )


_ELEMENT_SAYS = re.compile(r"^Element (\S+) (?:has extra content|failed to validate)")
_GOT = re.compile(r"Expecting element \S+, got (\S+)")


def _subject(message: str, elem: etree._Element | None) -> etree._Element | None:
    """The element whose children a libxml2 content message is about.

    libxml2's path names the node it was at, which may be the parent, the child, or a
    child further on; the message names the parent or the child, so use the names.
    """
    if elem is None:
        return None
    if (m := _ELEMENT_SAYS.search(message)) is not None:
        named = _ancestor_named(elem, m.group(1))
        return elem if named is None else named
    if (m := _NOT_EXPECTED.search(message)) is not None:
        named = _ancestor_named(elem, m.group(1))
        return (elem if named is None else named).getparent()
    if (m := _GOT.search(message)) is not None:
        got = _local_of(m.group(1))
        if _local(elem) == got and not any(_local(c) == got for c in elem):
            return elem.getparent()
    return elem


def _ancestor_named(elem: etree._Element, name: str) -> etree._Element | None:
    wanted = _local_of(name)
    node: etree._Element | None = elem
    while node is not None:
        if _local(node) == wanted:
            return node
        node = node.getparent()
    return None


def _local(elem: etree._Element) -> str:
    return etree.QName(elem).localname if isinstance(elem.tag, str) else ""


def _local_of(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _within(inner: etree._Element | None, outer: etree._Element) -> bool:
    node = inner
    while node is not None:
        if node is outer:
            return True
        node = node.getparent()
    return False


_STEP = re.compile(r"(?:([\w.-]+):)?([\w.*-]+)(?:\[(\d+)\])?$")


def _resolve(tree: etree._ElementTree, path: str) -> etree._Element | None:
    """The element a libxml2 path (``/*/*[2]/xi:include``) names, walking children."""
    steps = path.strip("/").split("/")
    node: etree._Element | None = None
    for step in steps:
        m = _STEP.match(step)
        if m is None:
            return resolve_libxml2_path(tree, path)
        name, position = m.group(2), int(m.group(3) or 1)
        candidates: Sequence[etree._Element] = (
            [tree.getroot()] if node is None else list(node.iterchildren(etree.Element))
        )
        if name != "*":
            candidates = [c for c in candidates if etree.QName(c).localname == name]
        if len(candidates) < position:
            return resolve_libxml2_path(tree, path)
        node = candidates[position - 1]
    return node


def allowed_text(leaves: Sequence[Leaf], context: etree._Element | None = None) -> str:
    """``<p>, <ab> (model.pLike); <note>, <pb> … 12 more (model.global)``: short, grouped.

    Elements are grouped by the definition (a TEI model class) they are reached through,
    at the first level where the allowed elements part ways; elements named directly in
    the content model come first, then the smaller groups.
    """
    if not leaves:
        return ""
    common = _common_prefix([leaf.path for leaf in leaves])
    groups: dict[str, list[str]] = {}
    for leaf in leaves:
        group = leaf.path[common] if len(leaf.path) > common else ""
        label = (
            f"<{_tag(leaf.key, context)}>"
            if leaf.key is not None
            else _CLARK_IN_LABEL.sub(lambda m: f"<{_tag(m.group(1), context)}>", leaf.label)
        )
        names = groups.setdefault(group, [])
        if label not in names:
            names.append(label)
    order = sorted(groups, key=lambda g: (g != "", len(groups[g])))
    budget = SHOWN
    parts: list[str] = []
    rest: list[str] = []
    for group in order:
        names = groups[group]
        if budget <= 0:
            rest.append(f"{len(names)} in {group}" if group else f"{len(names)} more")
            continue
        shown = names[:budget] if len(names) <= budget else names[: max(budget - 1, 1)]
        budget -= len(shown)
        text = ", ".join(shown)
        if len(shown) < len(names):
            text += f" … {len(names) - len(shown)} more"
        parts.append(f"{text} ({group})" if group else text)
    if rest:
        parts.append("and " + ", ".join(rest))
    return "; ".join(parts)


_CLARK_IN_LABEL = re.compile(r"<(\{[^}]*\}[^>]+|[^>{]+)>")


def _tag(tag: str, context: etree._Element | None) -> str:
    """A name as a reader of ``context``'s document writes it: without a prefix for TEI
    and for the namespace that is the default there, with its prefix otherwise."""
    nsmap = dict(context.nsmap) if context is not None else {}
    uri = etree.QName(tag).namespace
    if uri is not None and uri == nsmap.get(None):
        return etree.QName(tag).localname
    return display_name(tag, nsmap)


def _name(elem: etree._Element) -> str:
    """An element's name as seen from where it stands (its parent's namespaces): an XHTML
    ``<div>`` declaring its own default namespace inside TEI is ``html:div``."""
    if not isinstance(elem.tag, str):
        return element_name(elem)
    parent = elem.getparent()
    return _tag(elem.tag, parent if parent is not None else elem)


def _common_prefix(paths: Sequence[tuple[str, ...]]) -> int:
    first = paths[0]
    n = min(len(p) for p in paths)
    for i in range(n):
        if any(p[i] != first[i] for p in paths):
            return i
    return n


_HUMAN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), wording)
    for pattern, wording in (
        (r"Did not expect text in element (\S+) content", "text is not allowed inside <{0}>"),
        (r"Expecting an element got text", "text is not allowed here{within}"),
        (r"Expecting an element (\S+), got nothing", "element <{0}> is missing here{inside}"),
        (
            r"Element (\S+) has wrong namespace: expecting (\S+)",
            "element <{0}> is in the wrong namespace; expected {1}",
        ),
        (r"Expecting a namespace for element (\S+)", "element <{0}> must be in a namespace"),
        (r"Expecting no namespace for element (\S+)", "element <{0}> must not be in a namespace"),
        (r"Expecting element (\S+) to be empty", "element <{0}> must be empty"),
        (r"Type (\S+) doesn't allow value '(.*)'", 'value "{1}" is not a valid {0}'),
        (r"ID (\S+) redefined", 'ID "{0}" is used more than once'),
        (r"Error validating datatype (\S+)", "the text{of} is not a valid {0}"),
        (r"Error validating value (\S+)?", "the text{of} is not a value the schema allows"),
        (r"Extra data in list: (.*)", 'unexpected "{0}" in a list of values{of}'),
        (
            r"Element (\S+) failed to validate attributes",
            "element <{0}> has attributes or content the schema does not allow",
        ),
        (
            r"Element (\S+) failed to validate content",
            "element <{0}> has content the schema does not allow",
        ),
        (r"Invalid sequence in interleave", "the children{of} are not in an allowed order"),
        (r"Extra element (\S+) in interleave", "element <{0}> is not allowed here{inside}"),
    )
)


def humanise(message: str, elem: etree._Element | None) -> str:
    """Turn libxml2's terse wording into a sentence naming the element and its parent."""
    parent = elem.getparent() if elem is not None else None
    inside = f" inside <{_name(parent)}>" if parent is not None else ""
    if (m := _NOT_EXPECTED.search(message)) is not None:
        name = _name(elem) if elem is not None else m.group(1)
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
    of = f" of <{_name(elem)}>" if elem is not None else ""
    for pattern, wording in _HUMAN:
        if (m := pattern.search(message)) is not None:
            within = f" inside <{_name(elem)}>" if elem is not None else ""
            groups = (g or "" for g in m.groups())
            return wording.format(*groups, inside=inside, of=of, within=within)
    return message.strip()


# --------------------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------------------


def compile_relaxng(path: Path) -> CompiledRelaxNG:
    """Compile a RELAX NG schema (XML syntax); a bad schema raises SchemaError.

    The schema is prepared for fast, specialised validation when
    :mod:`~teikit.engines.rng_grammar` handles all it uses, and compiled as it is
    otherwise (same verdicts, slower for large schemas). A grammar just prepared is
    compiled whole once (about 0.05 s for ``tei_all``), so that libxml2 reports a
    schema's errors here, not when a document first reaches them; the cache keeps only
    grammars that passed.
    """
    path = Path(path)
    try:
        grammar = prepare_cached(path, cache_dir(), verify=_compile_whole)
    except (GrammarUnsupported, etree.RelaxNGParseError):
        return CompiledRelaxNG(str(path), _compile_plain(path))
    return CompiledRelaxNG(str(path), grammar=grammar)


def _compile_whole(grammar: PreparedGrammar) -> etree.RelaxNG:
    return etree.RelaxNG(etree.fromstring(grammar.specialize_text(None)))


def compile_relaxng_tree(root: etree._Element, schema: str) -> CompiledRelaxNG:
    """:func:`compile_relaxng` for a schema in memory (a converted ``.rnc``, say).

    ``schema`` is what diagnostics call it; relative includes resolve against
    ``root.base``. A schema the preparation does not handle is compiled as it is.
    """

    def plain() -> etree.RelaxNG:
        try:
            return etree.RelaxNG(root)
        except etree.RelaxNGParseError as exc:
            raise RelaxNGCompileError(schema, exc) from None

    try:
        grammar = prepare_tree(root)
        _compile_whole(grammar)
    except (GrammarUnsupported, etree.RelaxNGParseError):
        return CompiledRelaxNG(schema, plain())
    return CompiledRelaxNG(schema, grammar=grammar, plain=plain)


def cache_dir() -> Path | None:
    """Where prepared grammars are kept between runs, or None for nowhere.

    ``$TEIKIT_RNG_CACHE`` names the directory (``off`` turns the cache off); by default
    ``$XDG_CACHE_HOME/teikit/rng``, else ``~/.cache/teikit/rng``. Reading a prepared
    ``tei_all`` back takes a few milliseconds instead of about 0.15 s.
    """
    chosen = os.environ.get("TEIKIT_RNG_CACHE", "").strip()
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "teikit" / "rng"


class RelaxNGCompileError(SchemaError):
    """libxml2 refused a schema. ``entries`` keeps its log (file, line, message) so that
    a caller that generated the file (a converted ``.rnc``) can point at its own source."""

    def __init__(self, schema: str, exc: etree.RelaxNGParseError) -> None:
        super().__init__(f"{schema}: cannot compile RELAX NG schema: {exc}")
        self.reason = str(exc)
        self.entries: list[tuple[str, int, str]] = [
            (entry.filename or "", entry.line, (entry.message or "").strip())
            for entry in exc.error_log
        ]


def _compile_plain(path: Path) -> etree.RelaxNG:
    try:
        tree = etree.parse(str(path), make_parser())
        return etree.RelaxNG(tree)
    except etree.RelaxNGParseError as exc:
        raise _from_source(RelaxNGCompileError(str(path), exc), path) from None
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SchemaError(f"{path}: cannot compile RELAX NG schema: {exc}") from None


def _from_source(exc: RelaxNGCompileError, path: Path) -> SchemaError:
    """A schema copied into the cache with its includes (a converted ``.rnc``, say) is
    reported as the file it came from, not as the copy the user never wrote."""
    if not (path.parent / ".complete").is_file():
        return exc
    from teikit.engines.rnc import closure_error

    return closure_error(exc, path)
