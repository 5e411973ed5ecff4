"""Turning a schema location into a local file, offline by default.

A URL is looked up, in this order:

1. the OASIS XML catalogs (``--catalog``, the configuration's ``catalogs``, then the
   ``XML_CATALOG_FILES`` environment variable: space-separated paths or ``file:`` URIs, of
   which those missing or unreadable are skipped, as libxml2 does);
2. the cache (``$XDG_CACHE_HOME/teikit/schemas`` or ``~/.cache/teikit/schemas``): one file
   per URL, named by the SHA-256 of the URL plus the URL's suffix, with a ``.json`` sidecar
   holding the URL and the time it was fetched. ``http://www.tei-c.org/...`` and
   ``https://tei-c.org/...`` are the same entry;
3. the network, only when allowed: ``http``/``https`` only, with a timeout and a size limit
   (64 MiB), written atomically into the cache.

Anything else raises :class:`SchemaUnavailable`, whose message says how to provide the file;
a URL urllib cannot parse raises :class:`MalformedURL` (a :class:`SchemaUnavailable`).

A schema rarely comes alone: RELAX NG ``include``/``externalRef``, XSD ``import``/
``include``/``redefine``/``override`` and RELAX NG compact ``include``/``external`` name
other files, relative to the schema's *original* URL. :func:`prepare_schema` resolves the
whole closure the same way and, when the files do not already sit together on disk (a cached
or cataloged copy, or a local schema that includes a URL), writes them into one folder of
the cache with their references rewritten to each other, so that libxml2 and xmlschema can
load them from disk without any network access.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
import urllib.error
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from lxml import etree

from teikit.errors import SchemaError, TeikitError, UsageError
from teikit.loading import make_parser
from teikit.schemas.catalog import Catalog, read_entry_file

if TYPE_CHECKING:
    from teikit.schemas.config import ProjectConfig
    from teikit.schemas.refs import SchemaRef

#: Largest file fetched from the network.
MAX_DOWNLOAD = 64 * 1024 * 1024
#: Hosts that serve the same files (the first is the canonical one).
_SAME_SITE = (
    (
        "https://tei-c.org/",
        ("http://www.tei-c.org/", "https://www.tei-c.org/", "http://tei-c.org/"),
    ),
)
RNG_NS = "http://relaxng.org/ns/structure/1.0"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
#: Namespaces xmlschema has its own copy of: an import of them needs no file.
_XSD_FALLBACKS = {"http://www.w3.org/XML/1998/namespace", "http://www.w3.org/1999/xlink"}


class SchemaUnavailable(TeikitError):
    """A schema (or a file it includes) is named by URL and cannot be had offline."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url


class MalformedURL(SchemaUnavailable, SchemaError):
    """A schema location that urllib cannot parse (``http://[::1/x.rng``).

    A :class:`SchemaUnavailable` so that a file naming it gets a finding like any schema
    it cannot have; a :class:`SchemaError` so that a caller who named it sees a plain
    error rather than urllib's ``ValueError``.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, f"{url}: malformed URL ({reason})")


#: A scheme, for URLs urllib refuses to split (RFC 3986, section 3.1).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def url_problem(url: str) -> str:
    """Why urllib cannot parse ``url`` ('' when it can).

    ``urlsplit`` raises ``ValueError`` on an unclosed IPv6 bracket and the like, and
    ``.port`` on a port that is not a number: every URL a user or a file supplies is
    checked here before anything else touches it.
    """
    try:
        _ = urlsplit(url).port
    except ValueError as exc:
        return str(exc) or "cannot be parsed"
    return ""


def check_url(url: str) -> str:
    """``url`` itself, or :class:`MalformedURL` when urllib cannot parse it."""
    reason = url_problem(url)
    if reason:
        raise MalformedURL(url, reason)
    return url


def _scheme(location: str) -> str:
    """The lower-case scheme of ``location`` ('' for none), even for a malformed URL."""
    try:
        return urlsplit(location).scheme
    except ValueError:
        match = _SCHEME.match(location)
        return match.group(1).lower() if match else ""


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/teikit/schemas``, else ``~/.cache/teikit/schemas``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "teikit" / "schemas"


def catalogs_from_env(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The files named by ``XML_CATALOG_FILES`` (space-separated paths or ``file:`` URIs).

    Entries that are not local files (``http:`` URIs) are skipped: catalogs are never
    fetched.
    """
    env = os.environ if env is None else env
    found: list[Path] = []
    for item in env.get("XML_CATALOG_FILES", "").split():
        if item.startswith("file:"):
            if not url_problem(item):  # libxml2 skips what it cannot use
                found.append(Path(unquote(urlsplit(item).path)))
        elif "://" not in item:
            found.append(Path(item))
    return tuple(found)


def usable_env_catalogs(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The ``XML_CATALOG_FILES`` catalogs that exist and parse, resolved.

    The variable is shared with every libxml2 program on the machine and often names
    files that are not there (``/etc/xml/catalog`` on a system without it); like
    libxml2, a catalog from it that is missing or unreadable is skipped, not an error.
    """
    usable: list[Path] = []
    for path in catalogs_from_env(env):
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if read_entry_file(_file_uri(resolved), required=False) is not None:
            usable.append(resolved)
    return tuple(usable)


def _file_uri(path: Path) -> str:
    """``path`` as a ``file:`` URL, '' when it has none (a skipped catalog, not a crash)."""
    try:
        return path.as_uri()
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class ResolveOptions:
    """Where schemas named by URL may come from."""

    catalogs: tuple[Path, ...] = ()
    cache_dir: Path = field(default_factory=default_cache_dir)
    allow_network: bool = False
    timeout: float = 30.0
    max_bytes: int = MAX_DOWNLOAD

    @classmethod
    def build(
        cls,
        catalogs: tuple[Path, ...] | list[Path] = (),
        allow_network: bool | None = None,
        config: ProjectConfig | None = None,
        env: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
    ) -> ResolveOptions:
        """Options from the command line, the project configuration and the environment.

        Catalogs: ``catalogs`` (``--catalog``) first, then the configuration's, then
        ``XML_CATALOG_FILES``. The network is allowed when ``allow_network`` says so
        (``--allow-network``), else when the configuration's ``allow-network`` does.
        A catalog named by the caller or the configuration that is missing or not a
        catalog raises :class:`UsageError`; one from ``XML_CATALOG_FILES`` is skipped.
        """
        chain: list[Path] = [Path(c).resolve() for c in catalogs]
        if config is not None:
            chain.extend(config.catalogs)
        for path in chain:
            if not path.is_file():
                raise UsageError(f"catalog {path}: no such file")
        chain.extend(usable_env_catalogs(env))
        unique = tuple(dict.fromkeys(chain))
        network = (
            allow_network
            if allow_network is not None
            else bool(config is not None and config.allow_network)
        )
        options = cls(
            catalogs=unique,
            cache_dir=cache_dir if cache_dir is not None else default_cache_dir(env),
            allow_network=network,
        )
        catalog_for(options)  # a malformed catalog is a usage error now, not mid-run
        return options


# --------------------------------------------------------------------------------------
# URLs and the cache


def is_url(location: str) -> bool:
    """A URL with a scheme other than ``file`` (which counts as a local path).

    Never raises: a malformed URL is still a URL, refused when it is resolved.
    """
    scheme = _scheme(location)
    return len(scheme) > 1 and scheme != "file"


def canonical_url(url: str) -> str:
    """The cache key's URL: fragment dropped, tei-c.org's host variants made one."""
    try:
        url = urldefrag(url)[0]
    except ValueError:
        url = url.partition("#")[0]
    for canonical, variants in _SAME_SITE:
        for variant in variants:
            if url.startswith(variant):
                return canonical + url[len(variant) :]
    return url


def url_variants(url: str) -> list[str]:
    """``url`` and the other spellings of the same file (for catalog look-ups)."""
    canon = canonical_url(url)
    out = [url, canon]
    for canonical, variants in _SAME_SITE:
        if canon.startswith(canonical):
            out.extend(v + canon[len(canonical) :] for v in variants)
    return list(dict.fromkeys(out))


def _url_path(url: str) -> str:
    """The path part of ``url``, even for a malformed one (for names, not for access)."""
    try:
        return unquote(urlsplit(url).path)
    except ValueError:
        return unquote(re.split(r"[?#]", url, maxsplit=1)[0])


def _suffix(url: str) -> str:
    suffix = PurePosixPath(_url_path(url)).suffix.lower()
    return suffix if suffix and len(suffix) <= 10 and suffix[1:].isalnum() else ""


def cache_path(url: str, options: ResolveOptions) -> Path:
    """Where ``url`` is (or would be) cached: ``<sha256 of the URL><suffix>``."""
    canon = canonical_url(url)
    digest = hashlib.sha256(canon.encode("utf-8")).hexdigest()
    return options.cache_dir / f"{digest}{_suffix(canon)}"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def cached_url(path: Path) -> str | None:
    """The URL a cached file was fetched from (from its sidecar), if it is one."""
    try:
        data = json.loads(_sidecar(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def store(url: str, data: bytes, options: ResolveOptions) -> Path:
    """Put ``data`` in the cache as the content of ``url`` (atomically, with its sidecar)."""
    path = cache_path(url, options)
    _write_atomic(path, data)
    meta = {
        "url": url,
        "canonical": canonical_url(url),
        "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    _write_atomic(_sidecar(path), json.dumps(meta, indent=2).encode("utf-8"))
    return path


@lru_cache(maxsize=1)
def _opener() -> Any:
    """An opener that follows redirects to http(s) only (imported when first fetching:
    urllib.request brings http.client, email and ssl, a tenth of every command's start)."""
    import urllib.request

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(  # type: ignore[no-untyped-def]
            self, req, fp, code, msg, headers, newurl
        ):
            if url_problem(newurl) or urlsplit(newurl).scheme not in ("http", "https"):
                raise urllib.error.HTTPError(
                    newurl, code, "redirect to a non-HTTP URL", headers, fp
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(HttpOnlyRedirects())


def download(url: str, options: ResolveOptions) -> bytes:
    """GET ``url`` (http/https only) within the timeout and size limit."""
    check_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise SchemaUnavailable(url, f"{url}: only http and https URLs are fetched")
    from urllib.request import Request

    request = Request(url, headers={"User-Agent": "teikit (schema fetch)"})
    try:
        with _opener().open(request, timeout=options.timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > options.max_bytes:
                raise SchemaUnavailable(
                    url, f"{url}: {int(length):,} bytes, above the {options.max_bytes:,} limit"
                )
            data: bytes = response.read(options.max_bytes + 1)
    except SchemaUnavailable:
        raise
    except urllib.error.HTTPError as exc:
        raise SchemaUnavailable(url, f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SchemaUnavailable(url, f"cannot fetch {url}: {reason}") from None
    if len(data) > options.max_bytes:
        raise SchemaUnavailable(url, f"{url}: larger than the {options.max_bytes:,}-byte limit")
    return data


def fetch_schema(url: str, options: ResolveOptions, *, dependencies: bool = True) -> Path:
    """Download ``url`` into the cache (always, replacing a cached copy) and return it.

    Any file can be fetched this way, including the data a Schematron ``doc()`` reads.
    With ``dependencies``, a RELAX NG (``.rng``, ``.rnc``) or XSD schema's included and
    imported files are fetched too (those no catalog or cache entry provides), so that it
    can be used offline afterwards.
    """
    reason = url_problem(url)
    if reason:
        raise UsageError(f"{url}: malformed URL ({reason})")
    if not is_url(url):
        raise UsageError(f"{url}: not an http(s) URL")
    path = store(url, download(url, options), options)
    if dependencies and language_of_location(url) in _WITH_CLOSURE:
        online = ResolveOptions(
            options.catalogs, options.cache_dir, True, options.timeout, options.max_bytes
        )
        closure(url, online)
    return path


# --------------------------------------------------------------------------------------
# Resolution


@lru_cache(maxsize=16)
def _catalog(files: tuple[Path, ...], stamps: tuple[int, ...]) -> Catalog:
    return Catalog(files)


def catalog_for(options: ResolveOptions) -> Catalog:
    """The options' catalogs, parsed once per process (re-read when a file changes)."""
    stamps = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in options.catalogs)
    return _catalog(options.catalogs, stamps)


def unavailable_message(url: str, options: ResolveOptions, what: str = "schema") -> str:
    """How to provide ``url`` offline, in words a user can act on."""
    return (
        f"{what} {url} is not available offline; provide it with --catalog FILE (an XML "
        f'catalog with <uri name="{url}" uri="path/to/local/copy"/>), or fetch it once '
        f"into the cache ({options.cache_dir}) with `teikit schema fetch {url}`, or allow "
        "downloads with --allow-network"
    )


def _from_file_url(url: str) -> Path:
    return Path(unquote(urlsplit(check_url(url)).path))


def resolve_schema(location: str, options: ResolveOptions) -> Path:
    """The local file for ``location``: a path, a ``file:`` URL, or a URL (see module doc).

    Raises :class:`SchemaUnavailable` when a URL is in no catalog, not cached, and the
    network is not allowed (or the download fails); :class:`MalformedURL` (one of them)
    when ``location`` or a catalog's answer for it cannot be parsed.
    """
    if not is_url(location):
        return _from_file_url(location) if location.startswith("file:") else Path(location)
    url = check_url(location)
    catalog = catalog_for(options)
    for variant in url_variants(url):
        mapped = catalog.lookup(variant)
        if mapped is None:
            continue
        reason = url_problem(mapped)
        if reason:
            raise MalformedURL(url, f"the catalog maps it to {mapped!r}: {reason}")
        if urlsplit(mapped).scheme == "file":
            path = _from_file_url(mapped)
            if not path.is_file():
                raise SchemaUnavailable(
                    url, f"the catalog maps {url} to {path}, which does not exist"
                )
            return path
        url = mapped  # mapped to another URL (a mirror): look that one up below
        break
    cached = cache_path(url, options)
    if cached.is_file():
        return cached
    if options.allow_network:
        return store(url, download(url, options), options)
    raise SchemaUnavailable(url, unavailable_message(url, options))


def location_url(location: str) -> str:
    """``location`` as an absolute URL (local paths become ``file:`` URLs)."""
    if is_url(location) or location.startswith("file:"):
        return location
    return Path(location).resolve().as_uri()


# --------------------------------------------------------------------------------------
# Dependencies


@dataclass(slots=True)
class Resource:
    """One file of a schema's closure: its URL, local copy and the references it makes."""

    url: str
    path: Path
    language: str
    #: (element, attribute, absolute URL) for every reference to another file.
    refs: list[tuple[etree._Element, str, str]]
    root: etree._Element | None


def _language(url: str, path: Path) -> str:
    for candidate in (_suffix(url), path.suffix.lower()):
        if candidate == ".rnc":
            return "rnc"
        if candidate == ".xsd":
            return "xsd"
        if candidate == ".rng":
            return "relaxng"
    return "relaxng"


def _references(
    root: etree._Element, url: str, language: str
) -> list[tuple[etree._Element, str, str]]:
    refs: list[tuple[etree._Element, str, str]] = []
    if language in ("relaxng", "rnc"):
        for elem in root.iter(f"{{{RNG_NS}}}include", f"{{{RNG_NS}}}externalRef"):
            href = elem.get("href")
            if href:
                refs.append((elem, "href", _target(elem, url, href.strip())))
    elif language == "xsd":
        tags = [f"{{{XSD_NS}}}{t}" for t in ("import", "include", "redefine", "override")]
        for elem in root.iter(*tags):
            href = elem.get("schemaLocation")
            if href:
                refs.append((elem, "schemaLocation", _target(elem, url, href.strip())))
    return refs


def _target(elem: etree._Element, url: str, href: str) -> str:
    """The absolute URL ``href`` names; a reference urllib cannot parse makes the schema
    unusable (:class:`SchemaError`), said with the schema and the line."""
    try:
        target = urljoin(_base(elem, url), href)
        reason = url_problem(target)
    except ValueError as exc:
        reason = str(exc)
    if reason:
        where = f"{url}, line {elem.sourceline}" if elem.sourceline else url
        raise SchemaError(
            f"{where}: <{etree.QName(elem).localname}> names {href!r}, a malformed URL ({reason})"
        )
    return target


def _base(elem: etree._Element, url: str) -> str:
    """The base URL of ``elem``: ``xml:base`` on it and its ancestors over ``url``."""
    bases = [
        e.get("{http://www.w3.org/XML/1998/namespace}base") for e in (elem, *elem.iterancestors())
    ]
    base = url
    for value in reversed([b for b in bases if b]):
        base = urljoin(base, value)
    return base


def load_resource(url: str, options: ResolveOptions, language: str | None = None) -> Resource:
    """Resolve and parse one schema file (RELAX NG compact syntax is converted)."""
    path = resolve_schema(url, options)
    lang = language or _language(url, path)
    try:
        if lang == "rnc":
            from teikit.engines.rnc import rnc_to_rng

            root = rnc_to_rng(path.read_bytes(), str(path))
        else:
            root = etree.parse(str(path), make_parser()).getroot()
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read schema ({exc.strerror or exc})") from None
    except etree.XMLSyntaxError as exc:
        raise SchemaError(f"{path}: schema is not well-formed XML: {exc}") from None
    return Resource(url, path, lang, _references(root, url, lang), root)


def closure(location: str, options: ResolveOptions, language: str | None = None) -> list[Resource]:
    """The schema at ``location`` and every file it references, first the schema itself.

    An XSD import of a namespace xmlschema knows by itself (``xml``, ``xlink``) is used
    only when a catalog or the cache has it (it is never downloaded); otherwise its
    location is dropped from the copy. Any other file that cannot be had raises.
    """
    top = location_url(location)
    order: list[Resource] = []
    seen: dict[str, Resource] = {}
    pending: list[tuple[str, str | None]] = [(top, language)]
    while pending:
        url, lang = pending.pop(0)
        key = canonical_url(url)
        if key in seen:
            continue
        resource = load_resource(url, options, lang)
        seen[key] = resource
        order.append(resource)
        for elem, _attr, target in resource.refs:
            if canonical_url(target) in seen:
                continue
            if _optional_import(elem) and not _available(target, options):
                continue
            pending.append((target, None))
    return order


def _optional_import(elem: etree._Element) -> bool:
    return elem.tag == f"{{{XSD_NS}}}import" and elem.get("namespace") in _XSD_FALLBACKS


def _available(url: str, options: ResolveOptions) -> bool:
    """Is ``url`` in a catalog or the cache? (Never downloads.)"""
    offline = ResolveOptions(options.catalogs, options.cache_dir, False)
    try:
        resolve_schema(url, offline)
    except SchemaUnavailable:
        return False
    return True


def _needs_materializing(resources: list[Resource]) -> bool:
    """False when every reference already points, on disk, at the file it resolved to."""
    local = {canonical_url(r.url): r.path.resolve() for r in resources}
    for res in resources:
        if res.language == "rnc":
            return True  # compact files are converted: their copies are new files
        here = res.path.resolve().as_uri()
        for elem, attr, target in res.refs:
            wanted = local.get(canonical_url(target))
            if wanted is None:
                return True  # an optional import nobody provides: drop it in a copy
            try:
                on_disk = urljoin(here, elem.get(attr, "").strip())
                if urlsplit(on_disk).scheme != "file":
                    return True
            except ValueError:
                return True
            if _from_file_url(on_disk).resolve() != wanted:
                return True
    return False


def prepare_schema(location: str, options: ResolveOptions, language: str | None = None) -> Path:
    """A local file an engine can compile, with every referenced file reachable offline.

    ``location`` is a path or URL. When the schema and the files it references are local
    and in place, the schema's own path comes back. Otherwise (and always for RELAX NG
    compact syntax, which is converted to ``.rng``) the closure is written into
    ``<cache>/closures/<hash>/`` with references rewritten between the copies and the top
    file's copy is returned; the folder is named by the content, so it is reused. Raises
    :class:`SchemaUnavailable` or :class:`~teikit.errors.SchemaError`.
    """
    resources = closure(location, options, language)
    top = resources[0]
    if top.language != "rnc" and not _needs_materializing(resources):
        return top.path
    return _materialize(resources, options)


def _materialize(resources: list[Resource], options: ResolveOptions) -> Path:
    names: dict[str, str] = {}
    for index, res in enumerate(resources):
        stem = PurePosixPath(_url_path(res.url)).stem or "schema"
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
        suffix = ".xsd" if res.language == "xsd" else ".rng"
        names[canonical_url(res.url)] = f"{index:03d}-{stem}{suffix}"
    payloads: list[tuple[str, bytes]] = []
    for res in resources:
        assert res.root is not None
        root = res.root
        for elem, attr, target in res.refs:
            name = names.get(canonical_url(target))
            if name is not None:
                elem.set(attr, name)
            elif _optional_import(elem):
                del elem.attrib[attr]
        data = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
        payloads.append((names[canonical_url(res.url)], data))
    digest = hashlib.sha256()
    for name, data in payloads:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    sources = {names[canonical_url(r.url)]: r.url for r in resources}
    key = digest.hexdigest()[:32]
    try:
        return _write_closure(options.cache_dir / "closures" / key, payloads, sources)
    except OSError:
        # A cache that cannot be written (read-only home): a folder for this process.
        return _write_closure(_scratch() / key, payloads, sources)


def _write_closure(
    folder: Path, payloads: list[tuple[str, bytes]], sources: dict[str, str]
) -> Path:
    marker = folder / ".complete"
    if not marker.is_file():
        for name, data in payloads:
            _write_atomic(folder / name, data)
        _write_atomic(marker, json.dumps(sources, indent=2).encode("utf-8"))
    return folder / payloads[0][0]


@lru_cache(maxsize=1)
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="teikit-schemas-"))


#: Schema languages whose files reference other files that must be resolved with them.
_WITH_CLOSURE = {"relaxng", "xsd", "rnc"}
_SUFFIXES = {".rng": "relaxng", ".xsd": "xsd", ".sch": "schematron", ".rnc": "rnc"}


def language_of_location(location: str) -> str | None:
    """The schema language a path or URL's suffix says (``.rng .xsd .sch .rnc``), or None."""
    suffix = _suffix(location) if is_url(location) else Path(location).suffix.lower()
    return _SUFFIXES.get(suffix)


def prepare_ref(ref: SchemaRef, options: ResolveOptions) -> tuple[Path, str]:
    """The local file to compile for ``ref`` and its language, resolving URLs offline.

    RELAX NG (XML and compact) and XSD schemas come with their closure
    (:func:`prepare_schema`); a compact schema comes back converted, as ``.rng`` with
    language ``relaxng``. Raises :class:`SchemaUnavailable`
    (URL not to be had offline) or :class:`~teikit.errors.SchemaError` (unknown language,
    unreadable file).
    """
    language = ref.language or language_of_location(ref.location)
    if language is None:
        raise SchemaError(
            f"{ref.location}: cannot tell the schema language (expected a .rng, .rnc, .xsd "
            "or .sch name, or schematypens/type in <?xml-model?>)"
        )
    if language in _WITH_CLOSURE:
        path = prepare_schema(ref.location, options, language)
        return path, "relaxng" if language == "rnc" else language
    return resolve_schema(ref.location, options), language


# --------------------------------------------------------------------------------------
# Process-wide options for engines that are compiled from a path alone


_DEFAULT: list[ResolveOptions] = []


def set_default_options(options: ResolveOptions | None) -> None:
    """Set the options engines use when they resolve references themselves.

    The engines' compilers take a path only (``compile_schema``); the RELAX NG compact and
    Schematron engines read these options for ``include``/``external`` and ``doc()`` URLs.
    A runner sets them once per run; ``None`` goes back to the environment's defaults.
    """
    _DEFAULT.clear()
    if options is not None:
        _DEFAULT.append(options)


def default_options() -> ResolveOptions:
    """The options set by :func:`set_default_options`, else catalogs from the environment."""
    if _DEFAULT:
        return _DEFAULT[0]
    return ResolveOptions(catalogs=usable_env_catalogs())
