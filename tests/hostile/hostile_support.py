"""Fixtures and helpers shared by the hostile-input tests.

* ``server``: an HTTP server on 127.0.0.1 that records every request (and answers each with
  content holding the secret token, so that a fetch would show in the output too);
* ``corpus``: every case of ``manifest.toml`` made once per test session in a temporary
  folder, beside a folder of secrets that lies outside it;
* :func:`unreadable`: a file that cannot be opened, emulated in-process (tests run as root
  here, and root reads a ``chmod 000`` file), or a real ``chmod 000`` where that works.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import pathlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hostile_cases import TOKEN, Case, Context, cases, make, make_secrets

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
#: Every CLI run and every single case must finish within this many seconds.
DEADLINE = 120.0


@dataclass
class RecordingServer:
    """The address of the server and what it was asked for."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def server() -> Iterator[RecordingServer]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            body = f'<!ENTITY leak "{TOKEN}"><!ENTITY pleak "{TOKEN}">'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield RecordingServer(f"http://127.0.0.1:{httpd.server_port}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass(frozen=True)
class Corpus:
    """The made cases: their folder, the secrets beside it, and the server."""

    folder: Path
    secrets: Path
    server: RecordingServer
    good: Path

    def path(self, case: Case) -> Path:
        return self.folder / case.file_name


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, server: RecordingServer) -> Corpus:
    base = tmp_path_factory.mktemp("hostile")
    folder, secrets = base / "inputs", base / "secrets"
    folder.mkdir()
    make_secrets(secrets)
    ctx = Context(folder, secrets, server.url)
    for case in cases():
        if case.make != "fifo":  # a FIFO is made by the tests that need one
            make(case, ctx)
    good = folder / "good.xml"
    from hostile_cases import good as make_good

    good.write_bytes(make_good(ctx, good))
    return Corpus(folder, secrets, server, good)


def load_options(case: Case) -> Any:
    from teikit.loading import LoadOptions

    return LoadOptions(**case.options)


@contextlib.contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """Opening ``path`` fails with EACCES inside this block (in this process)."""
    target = os.path.realpath(path)
    real_open = builtins.open
    real_path_open = pathlib.Path.open

    def denied(file: Any) -> bool:
        try:
            return isinstance(file, str | os.PathLike) and os.path.realpath(file) == target
        except (OSError, ValueError):
            return False

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if denied(file):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def fake_path_open(self: pathlib.Path, *args: Any, **kwargs: Any) -> Any:
        if denied(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_path_open(self, *args, **kwargs)

    builtins.open = fake_open
    io.open = fake_open
    pathlib.Path.open = fake_path_open  # type: ignore[method-assign]
    try:
        yield
    finally:
        builtins.open = real_open
        io.open = real_open
        pathlib.Path.open = real_path_open  # type: ignore[method-assign]


#: A bootstrap that runs the CLI with the files named in TEIKIT_TEST_UNREADABLE made
#: unreadable (see :func:`unreadable`); what follows ``-c`` is argv as for ``python -m``.
CLI_BOOTSTRAP = """
import os, sys
sys.path.insert(0, {here!r})
from hostile_support import unreadable
from contextlib import ExitStack
from pathlib import Path
from teikit.cli import main
with ExitStack() as stack:
    for name in filter(None, os.environ.get("TEIKIT_TEST_UNREADABLE", "").split(os.pathsep)):
        stack.enter_context(unreadable(Path(name)))
    main(sys.argv[1:])
"""


def run_cli(
    *args: str | Path,
    cwd: Path | None = None,
    unreadable_files: tuple[Path, ...] = (),
    timeout: float = DEADLINE,
) -> subprocess.CompletedProcess[str]:
    """``python -m teikit ARGS`` (through a bootstrap when files must be unreadable)."""
    env = {**os.environ, "PYTHONUTF8": "1", "NO_COLOR": "1"}
    env.pop("TEIKIT_DEBUG", None)
    env.pop("GITHUB_ACTIONS", None)
    if unreadable_files:
        env["TEIKIT_TEST_UNREADABLE"] = os.pathsep.join(map(str, unreadable_files))
        command = [PYTHON, "-c", CLI_BOOTSTRAP.format(here=str(Path(__file__).parent))]
    else:
        command = [PYTHON, "-m", "teikit"]
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback (most recent call last)" not in text, text[-3000:]
        assert "internal error" not in text, text[-3000:]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
