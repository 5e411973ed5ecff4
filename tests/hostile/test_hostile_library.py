"""Every hostile case through every library entry point: a diagnostic, never an exception.

For each case of ``manifest.toml``: :func:`teikit.loading.load` gives the codes the manifest
expects, naming the file; :func:`teikit.validate_file` reports them; every converter gives
its output or an :class:`~teikit.InputError` naming the file; ``info``, ``entities`` and
``split`` describe or refuse it. Nothing the cases point at (a secret file, the local HTTP
server) is read or fetched: the secret never shows up, and the server gets no request.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import hostile_support
import pytest
from hostile_cases import MAKERS, TOKEN, Case, cases
from hostile_support import (
    Corpus,
    RecordingServer,
    assert_no_secret,
    load_options,
    unreadable,
)
from lxml import etree

import teikit
from teikit.convert import FORMATS, ConvertOptions, convert_document
from teikit.document import TeiDocument
from teikit.entities import register
from teikit.errors import InputError, UsageError
from teikit.info import info
from teikit.loading import LoadOptions, load, parse_bytes
from teikit.runner import ValidateOptions, validate, validate_file
from teikit.split import split

# fixtures (pytest finds them as attributes of the test module)
corpus = hostile_support.corpus
server = hostile_support.server

CASES = [c for c in cases() if c.make != "fifo"]
#: The cases every entry point gets (the heavy ones go through load and one converter).
LIGHT = [c for c in CASES if not c.heavy]


def _load(corpus: Corpus, case: Case) -> teikit.LoadResult:
    path = corpus.path(case)
    if case.make == "unreadable":
        with unreadable(path):
            return load(path, load_options(case))
    return load(path, load_options(case))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_load_names_the_file_and_the_construct(corpus: Corpus, case: Case) -> None:
    started = time.perf_counter()
    result = _load(corpus, case)
    assert time.perf_counter() - started < 30
    codes = {d.code for d in result.diagnostics}
    assert set(case.codes) <= codes, (case.id, result.diagnostics)
    assert (result.document is not None) == case.loads, (case.id, result.diagnostics)
    if not case.loads:
        assert any(d.severity == teikit.Severity.ERROR for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.file.endswith(case.file_name), d
        assert d.message
    assert_no_secret(*(d.message for d in result.diagnostics))
    if result.document is not None:
        assert_no_secret(etree.tostring(result.document.tree, encoding="unicode"))


@pytest.mark.parametrize("case", LIGHT, ids=lambda c: c.id)
def test_validate_file_reports_it(corpus: Corpus, case: Case) -> None:
    options = ValidateOptions(load=load_options(case))
    path = corpus.path(case)
    if case.make == "unreadable":
        with unreadable(path):
            result = validate_file(path, options)
    else:
        result = validate_file(path, options)
    codes = {d.code for d in result.diagnostics}
    assert {*case.codes, *case.validate_codes} <= codes, result.diagnostics
    assert result.failed() == (case.error or bool(case.validate_codes)), result.diagnostics
    assert_no_secret(*(d.message for d in result.diagnostics))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_converter_gives_output_or_an_input_error(corpus: Corpus, case: Case) -> None:
    result = _load(corpus, case) if not (case.heavy and not case.loads) else None
    if result is None or result.document is None:
        options = ConvertOptions(load=load_options(case))
        # Every format loads the same way; the heavy cases are loaded once, the others for all.
        for fmt in ["text"] if case.heavy else FORMATS:
            with pytest.raises(InputError, match=case.file_name.replace(".", r"\.")):
                if case.make == "unreadable":
                    with unreadable(corpus.path(case)):
                        teikit.convert(corpus.path(case), fmt, options)
                else:
                    teikit.convert(corpus.path(case), fmt, options)
        return
    doc = TeiDocument(result.document)
    # The heavy cases go through every format in test_hostile_budget.py.
    for fmt in ["text"] if case.heavy else FORMATS:
        try:
            out = convert_document(doc, fmt)
        except InputError as exc:  # CMIF without correspDesc: said, not crashed
            assert case.file_name in str(exc)
            continue
        assert isinstance(out, str) and out
        assert_no_secret(out)


@pytest.mark.parametrize("case", LIGHT, ids=lambda c: c.id)
def test_info_entities_and_split(corpus: Corpus, case: Case, tmp_path: Path) -> None:
    path = corpus.path(case)
    options = load_options(case)
    guard = unreadable(path) if case.make == "unreadable" else contextlib.nullcontext()
    with guard:
        (described,) = info([path], options) if case.walked or case.loads else [None]
        register_ = register([path], options) if case.walked else None
        found = register_.records if register_ is not None else []
        written: tuple[Path, ...] = ()
        try:
            written = split(path, tmp_path / "split", load_options=options).written
        except (InputError, UsageError) as exc:
            assert case.file_name in str(exc) or "div" in str(exc)
    if described is not None:
        assert described.path.endswith(case.file_name)
        if not case.loads:
            assert described.kind == "unreadable"
            assert set(case.codes) <= {d.code for d in described.diagnostics}
    if register_ is not None and not case.loads:
        # a file entities cannot read is named, with why, never silently left out
        assert not register_.complete
        assert any(case.file_name in d.file for d in register_.problems)
    for record in found:
        assert TOKEN not in record.name
    assert not written


def test_a_folder_of_hostile_files_is_reported_file_by_file(corpus: Corpus) -> None:
    """The good file is checked, every bad one reported: one bad file never stops a run."""
    with unreadable(corpus.folder / "unreadable.xml"):
        run = validate([corpus.folder])
    by_name = {Path(r.path).name: r for r in run.results}
    # checked, against no schema: the warning says so and does not fail it
    assert [d.code for d in by_name["good.xml"].diagnostics] == ["schema.none"]
    for case in CASES:
        if not case.walked:
            continue
        result = by_name.get(case.file_name)
        assert result is not None, (case.id, sorted(by_name))
        codes = {d.code for d in result.diagnostics}
        # walked with default limits: raised or lowered limits are not in effect here
        if not case.options:
            assert set(case.codes) <= codes, (case.id, result.diagnostics)
    assert not run.ok


def test_a_fifo_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    outcome: list[teikit.LoadResult] = []
    worker = threading.Thread(target=lambda: outcome.append(load(fifo)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):  # noqa: PTH123
            pass
        pytest.fail("loading a FIFO blocked")
    (result,) = outcome
    assert result.document is None
    assert result.diagnostics[0].code == "io.not-a-file"


def test_nothing_was_fetched(corpus: Corpus, server: RecordingServer) -> None:
    """Runs last in this module: after every case went through every entry point."""
    for case in CASES:
        if case.group == "network":
            _load(corpus, case)
    assert server.requests == []


# --- the parser itself -------------------------------------------------------------------


def test_external_dtd_is_not_even_opened(tmp_path: Path) -> None:
    """libxml2 2.14 reads a file: DTD despite load_dtd=False; the gate must stop it."""
    secret = tmp_path / "outside" / "secret.dtd"
    secret.parent.mkdir()
    secret.write_text(f'<!ENTITY leak "{TOKEN}">')
    data = f'<!DOCTYPE TEI SYSTEM "{secret.as_uri()}"><TEI>&leak;</TEI>'.encode()
    result = parse_bytes(data, tmp_path / "in" / "x.xml")
    assert result.document is None
    assert [d.code for d in result.diagnostics] == ["xml.external-dtd"]
    assert_no_secret(*(d.message for d in result.diagnostics))
    unused = parse_bytes(f'<!DOCTYPE TEI SYSTEM "{secret.as_uri()}"><TEI/>'.encode(), secret)
    assert unused.document is not None
    assert [(d.code, d.severity) for d in unused.diagnostics] == [
        ("xml.external-dtd", teikit.Severity.WARNING)
    ]


def test_limits_can_be_raised_and_lowered(tmp_path: Path) -> None:
    deep = b"<a>" * 400 + b"x" + b"</a>" * 400
    path = tmp_path / "deep.xml"
    assert parse_bytes(deep, path).diagnostics[0].code == "xml.too-deep"
    assert parse_bytes(deep, path, LoadOptions(max_depth=400)).document is not None
    assert parse_bytes(deep, path, LoadOptions(max_depth=399)).diagnostics[0].code == (
        "xml.too-deep"
    )
    assert parse_bytes(deep, path, LoadOptions(huge_tree=True)).document is not None
    text = b"<a>" + b"x" * 5000 + b"</a>"
    assert parse_bytes(text, path, LoadOptions(max_text=4999)).diagnostics[0].code == (
        "xml.huge-text"
    )
    assert parse_bytes(text, path, LoadOptions(max_text=5000)).document is not None
    many = b"<a>" + b"<b/>" * 1000 + b"</a>"
    assert parse_bytes(many, path, LoadOptions(max_elements=1000)).diagnostics[0].code == (
        "xml.too-large"
    )
    assert parse_bytes(many, path, LoadOptions(max_elements=1001)).document is not None
    assert parse_bytes(many, path, LoadOptions(max_bytes=100)).diagnostics[0].code == (
        "io.too-large"
    )


def test_whitespace_and_encodings_survive(tmp_path: Path) -> None:
    for codec, declared in (("utf-16", "UTF-16"), ("utf-32", "UTF-32"), ("utf-8-sig", "")):
        decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
        data = (decl + "<p>a  <hi>Caf\u00e9</hi>\n\u20ac</p>").encode(codec)
        result = parse_bytes(data, tmp_path / "x.xml")
        assert result.document is not None, (codec, result.diagnostics)
        assert "".join(result.document.root.itertext()) == "a  Caf\u00e9\n\u20ac"


def test_xinclude_is_opt_in_and_local(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "part.xml").write_text("<p>PART</p>")
    (tmp_path / "secret.txt").write_text(TOKEN)
    (folder / "sub" / "nested.xml").write_text(
        '<p xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<xi:include href="../../secret.txt" parse="text"/></p>'
    )
    (folder / "loop.xml").write_text(
        '<p xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="loop.xml"/></p>'
    )
    (folder / "link.xml").symlink_to(tmp_path / "secret.txt")

    def run(href: str, parse: str = "xml", on: bool = True) -> teikit.LoadResult:
        data = (
            '<a xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="{href}" parse="{parse}"/></a>'
        ).encode()
        return parse_bytes(data, folder / "main.xml", LoadOptions(xinclude=on))

    included = run("part.xml")
    assert included.document is not None
    assert etree.tostring(included.document.root).count(b"PART") == 1
    off = run("part.xml", on=False)
    assert off.document is not None and b"PART" not in etree.tostring(off.document.root)
    for href, parse in (
        ("../secret.txt", "text"),
        (str(tmp_path / "secret.txt"), "text"),
        ((tmp_path / "secret.txt").as_uri(), "xml"),
        ("sub/nested.xml", "xml"),
        ("link.xml", "text"),
        ("loop.xml", "xml"),
        ("missing.xml", "xml"),
        ("http://127.0.0.1:9/x.xml", "xml"),
    ):
        result = run(href, parse)
        assert result.document is None, href
        assert [d.code for d in result.diagnostics] == ["xml.xinclude"], href
        assert_no_secret(*(d.message for d in result.diagnostics))


def test_prefix_patterns_from_the_document_cannot_hang(tmp_path: Path) -> None:
    """A catastrophic matchPattern (ReDoS) is refused; pointers stay as they are."""
    data = (
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><encodingDesc><listPrefixDef>'
        '<prefixDef ident="evil" matchPattern="(a+)+$" replacementPattern="#$1"/>'
        '<prefixDef ident="poly" matchPattern="(.*)(.*)(.*)(.*)(.*)x" '
        'replacementPattern="#$1"/>'
        '<prefixDef ident="ok" matchPattern="([a-z]+)" replacementPattern="#$1"/>'
        "</listPrefixDef></encodingDesc></teiHeader><text><body><p>"
        + "".join(f'<persName ref="{p}:{"a" * 40}!">n</persName>' for p in ("evil", "poly", "ok"))
        + '<persName ref="ok:abc">m</persName></p></body></text></TEI>'
    ).encode()
    loaded = parse_bytes(data, tmp_path / "x.xml")
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    started = time.perf_counter()
    for fmt in FORMATS:
        with contextlib.suppress(InputError):
            convert_document(doc, fmt)
    assert doc.expand("ok:abc") == "#abc"
    assert doc.expand(f"evil:{'a' * 40}!") == f"evil:{'a' * 40}!"
    assert time.perf_counter() - started < 10


def test_split_never_writes_outside_its_folder(tmp_path: Path) -> None:
    """A division's @n or xml:id becomes a file name: it cannot climb out of -o."""
    volume = tmp_path / "vol.xml"
    volume.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader/><text><body>'
        '<div type="document" n="/../../escaped"><p>one</p></div>'
        '<div type="document" n="../../../../tmp/escaped2"><p>two</p></div>'
        '<div type="document" xml:id="a/../../b"><p>three</p></div>'
        "</body></text></TEI>"
    )
    out = tmp_path / "out"
    try:
        result = split(volume, out)
    except (InputError, UsageError):
        return
    for written in result.written:
        assert written.resolve().parent == out.resolve(), written
    assert not (tmp_path / "escaped.xml").exists()


def test_every_manifest_case_has_a_maker() -> None:
    ids = [c.id for c in cases()]
    assert len(ids) == len(set(ids))
    for case in cases():
        assert case.make in MAKERS, case.id
        assert case.group in {"parsing", "network", "broken", "limits"}, case.id
