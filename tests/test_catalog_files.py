"""Catalog files as they are found in the wild: with the OASIS DOCTYPE (never loaded), and
named by an ``XML_CATALOG_FILES`` that may point at nothing (skipped, as libxml2 does)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import teikit.schemas.resolve as resolve_module
from teikit.errors import UsageError
from teikit.schemas import Catalog, ResolveOptions, resolve_schema
from teikit.schemas.resolve import default_options

from conftest import FIXTURES, LETTER

CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
SCHEMA = FIXTURES / "resolve" / "site" / "schemas" / "letter.rng"
#: The DOCTYPE most published catalogs carry: its DTD lives on a web server.
WEB_DOCTYPE = (
    '<!DOCTYPE catalog PUBLIC "-//OASIS//DTD Entity Resolution XML Catalog V1.0//EN" '
    '"http://www.oasis-open.org/committees/entity/release/1.0/catalog.dtd">'
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach or look up another machine fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a catalog test tried the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("XML_CATALOG_FILES", raising=False)


def _catalog(path: Path, doctype: str, body: str = "") -> Path:
    path.write_text(
        f'<?xml version="1.0"?>\n{doctype}\n<catalog xmlns="{CATALOG_NS}">{body}</catalog>',
        encoding="utf-8",
    )
    return path


def _local_doctype(tmp_path: Path) -> str:
    """A DOCTYPE like Debian's /etc/xml/catalog: a local DTD that breaks when loaded."""
    dtd = tmp_path / "catalog.dtd"
    dtd.write_text('<!ENTITY % partial "%pubIdChars;">\n<!ELEMENT broken', encoding="utf-8")
    return f'<!DOCTYPE catalog PUBLIC "-//OASIS//DTD XML Catalogs V1.0//EN" "{dtd.as_uri()}">'


def test_a_catalog_with_a_doctype_is_read_without_its_dtd(tmp_path: Path) -> None:
    row = f'<uri name="https://example.org/x.rng" uri="{SCHEMA.as_uri()}"/>'
    for name, doctype in (("web.xml", WEB_DOCTYPE), ("local.xml", _local_doctype(tmp_path))):
        cat = _catalog(tmp_path / name, doctype, row)
        assert Catalog([cat]).lookup("https://example.org/x.rng") == SCHEMA.as_uri()
        options = ResolveOptions.build(catalogs=[cat], env={}, cache_dir=tmp_path / "cache")
        assert resolve_schema("https://example.org/x.rng", options) == SCHEMA


def test_environment_catalogs_that_cannot_be_used_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _catalog(tmp_path / "good.xml", WEB_DOCTYPE)
    broken = tmp_path / "broken.xml"
    broken.write_text("<catalog", encoding="utf-8")
    env = {"XML_CATALOG_FILES": f"/nonexistent/catalog {broken} {good}"}
    options = ResolveOptions.build(env=env, cache_dir=tmp_path / "cache")
    assert options.catalogs == (good.resolve(),)
    assert ResolveOptions.build(env={"XML_CATALOG_FILES": "/nonexistent/catalog"}).catalogs == ()
    monkeypatch.setenv("XML_CATALOG_FILES", f"/nonexistent/catalog {good}")
    # An earlier run in this process may have set the defaults: start from none.
    monkeypatch.setattr(resolve_module, "_DEFAULT", [])
    assert default_options().catalogs == (good.resolve(),)


def test_catalogs_the_user_names_must_still_be_usable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"catalog .*absent.xml: no such file"):
        ResolveOptions.build(catalogs=[tmp_path / "absent.xml"], env={})
    broken = tmp_path / "broken.xml"
    broken.write_text(f"<?xml version='1.0'?>\n{WEB_DOCTYPE}\n<catalog", encoding="utf-8")
    with pytest.raises(UsageError, match=r"catalog .*broken.xml: not well-formed"):
        ResolveOptions.build(catalogs=[broken], env={})


def _validate(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teikit", "validate", "ok.xml", "--schema", str(SCHEMA), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **env},
    )


def test_validate_with_real_world_catalogs(tmp_path: Path) -> None:
    """Exit 1 (the letter's findings against this schema), never 2 for the catalogs."""
    (tmp_path / "ok.xml").write_bytes(LETTER.read_bytes())
    web = _catalog(tmp_path / "web.xml", WEB_DOCTYPE)
    local = _catalog(tmp_path / "local.xml", _local_doctype(tmp_path))
    runs = [
        _validate(tmp_path, "--catalog", str(web), env={"XML_CATALOG_FILES": ""}),
        _validate(tmp_path, env={"XML_CATALOG_FILES": str(local)}),
        _validate(tmp_path, env={"XML_CATALOG_FILES": "/nonexistent/catalog"}),
    ]
    if Path("/etc/xml/catalog").is_file():
        runs.append(_validate(tmp_path, env={"XML_CATALOG_FILES": "/etc/xml/catalog"}))
    for run in runs:
        assert run.returncode == 1, run.stderr
    missing = _validate(tmp_path, "--catalog", "absent.xml", env={"XML_CATALOG_FILES": ""})
    assert missing.returncode == 2 and "absent.xml" in missing.stderr
