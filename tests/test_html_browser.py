"""The HTML in a real browser: footnotes navigate both ways, and nothing from the input runs.

Headless Chromium driven over the DevTools protocol on ``--remote-debugging-pipe`` (fd 3
in, fd 4 out, NUL-separated JSON), with only the standard library: no websocket client,
no Playwright. Pages are loaded from ``file://`` URLs only; host names resolve nowhere
and every network request the page makes is recorded and must be a ``file:`` URL. Every
wait is bounded, and the browser's process group is killed when the test ends.

The browser is ``$TEIKIT_CHROMIUM``, else ``chromium`` (or ``chromium-browser``,
``google-chrome``) on PATH; without one, these tests are skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teikit import HtmlOptions, TeiDocument
from teikit.convert import to_html
from teikit.convert.markdown import to_markdown
from teikit.loading import load, parse_bytes

from conftest import LETTER

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "html" / "hostile.xml"
#: Upper bound for any single wait on the browser (start-up, a reply, a navigation).
TIMEOUT = 20.0


def _chromium() -> str:
    env = os.environ.get("TEIKIT_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium: set TEIKIT_CHROMIUM or install chromium (apt install chromium)")


class BrowserError(RuntimeError):
    """The browser died, answered with an error, or did not answer in time."""


class Browser:
    """A headless Chromium and a minimal DevTools-protocol client over its pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child's ends go above fd 10 so that placing them on fds 3 and 4 is safe.
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def on_fds_3_and_4() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            # never the network: no name resolves, and any proxy use goes nowhere
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=on_fds_3_and_4,  # the test process runs no threads
                pass_fds=(3, 4),
                start_new_session=True,  # its own process group, killed as one at the end
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    # -- protocol ----------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"the browser exited (code {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if message.get("method") == "Page.javascriptDialogOpening":
            # script ran and blocks the page: fail at once rather than time out later
            self.events.append(message)
            raise BrowserError(f"a JavaScript dialog opened: {message.get('params')}")
        return message

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait (bounded) for its reply; events are kept meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_for_event(self, method: str, seen: int = 0) -> dict[str, Any]:
        """The first event named ``method`` after the first ``seen`` events (bounded)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)

    def close(self) -> None:
        """Ask the browser to close, then kill its whole process group regardless."""
        with contextlib.suppress(Exception):
            os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode())
            os.write(self._to_browser, b"\0")
            self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)


class Tab:
    """One page of the browser, with the domains the tests listen to enabled."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network", "Debugger"):
            self.call(f"{domain}.enable")

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def events(self, method: str) -> list[dict[str, Any]]:
        return [
            e["params"]
            for e in self.browser.events
            if e.get("method") == method and e.get("sessionId") == self.session
        ]

    def open(self, url: str) -> None:
        seen = len(self.browser.events)
        self.call("Page.navigate", {"url": url})
        self.browser.wait_for_event("Page.loadEventFired", seen)

    def js(self, expression: str) -> Any:
        """The value of a test-side expression (never code from the page under test)."""
        reply = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "timeout": 5000}
        )
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def click(self, selector: str, index: int = 0) -> bool:
        """A real mouse click in the middle of the element (scrolled into view first).

        Never on a link that leaves the page: the click is skipped (False) when the point
        falls on one, so that no test ever navigates anywhere but within the file.
        """
        point = self.js(
            f"(() => {{ const el = document.querySelectorAll({json.dumps(selector)})[{index}];"
            " if (!el) return null; el.scrollIntoView({block: 'center'});"
            " const r = el.getBoundingClientRect();"
            " const x = r.left + r.width / 2, y = r.top + r.height / 2;"
            " const hit = document.elementFromPoint(x, y);"
            " if (hit && hit.closest('a[href]:not([href^=\"#\"])')) return false;"
            " return [x, y]; })()"
        )
        assert point is not None, f"nothing matches {selector}"
        if point is False:
            return False
        x, y = point
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )
        return True

    def wait_for_hash(self, expected: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while self.js("location.hash") != expected:
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"location.hash is {self.js('location.hash')!r}, not {expected!r}"
                )
            time.sleep(0.05)

    def in_view(self, element_id: str) -> bool:
        return bool(
            self.js(
                f"(() => {{ const r = document.getElementById({json.dumps(element_id)})"
                ".getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; })()"
            )
        )

    def page_scripts(self, url: str) -> list[str]:
        """Scripts the page itself brought (inline, handlers, javascript: URLs)."""
        return [
            s.get("url", "")
            for s in self.events("Debugger.scriptParsed")
            if s.get("url", "").startswith(("file:", "javascript:", "data:"))
            or s.get("url", "") == url
        ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = _chromium()
    b = Browser(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        b.call("Browser.getVersion")  # started and answering, within TIMEOUT
        yield b
    finally:
        b.close()


def _write_page(path: Path, source: Path) -> str:
    loaded = load(source)
    assert loaded.document is not None
    path.write_text(to_html(TeiDocument(loaded.document), HtmlOptions()), "utf-8")
    return path.resolve().as_uri()


def _no_network(tab: Tab) -> None:
    urls = [r["request"]["url"] for r in tab.events("Network.requestWillBeSent")]
    assert urls and all(u.startswith("file:") for u in urls), urls


def test_footnote_marker_and_back_link_navigate(browser: Browser, tmp_path: Path) -> None:
    url = _write_page(tmp_path / "letter.html", LETTER)
    tab = Tab(browser)
    tab.open(url)
    markers = tab.js("[...document.querySelectorAll('a[role=doc-noteref]')].map(a => a.id)")
    assert len(markers) == 4
    note_id = tab.js("document.getElementById('tk-noteref-2').getAttribute('href')")[1:]

    tab.click("#tk-noteref-2")
    tab.wait_for_hash(f"#{note_id}")
    assert tab.js("document.querySelector(':target').id") == note_id
    assert tab.js("document.querySelector(':target').getAttribute('role')") == "doc-endnote"
    assert tab.in_view(note_id)

    tab.click(f"#{note_id} a[role=doc-backlink]")
    tab.wait_for_hash("#tk-noteref-2")
    assert tab.js("document.querySelector(':target').id") == "tk-noteref-2"
    assert tab.in_view("tk-noteref-2")

    # the page has no script of its own and loads nothing from elsewhere
    assert tab.js("document.scripts.length") == 0
    assert not tab.page_scripts(url)
    _no_network(tab)


def test_hostile_input_runs_nothing(browser: Browser, tmp_path: Path) -> None:
    url = _write_page(tmp_path / "hostile.html", HOSTILE)
    tab = Tab(browser)
    tab.open(url)
    # hover over and click every in-page link and every element the input put handlers on
    clicked = 0
    for selector in ("a[href^='#']", "h2", "p", "span", "figure", "li"):
        count = tab.js(f"document.querySelectorAll({json.dumps(selector)}).length")
        for i in range(count):
            clicked += tab.click(selector, i)
    assert clicked > 20
    assert tab.js("location.href").split("#")[0] == url  # still here: nothing navigated away
    assert tab.js("typeof window.__pwned") == "undefined"
    assert not tab.events("Page.javascriptDialogOpening")
    assert tab.js("document.scripts.length") == 0
    assert not tab.page_scripts(url)
    # the remote image is a link that was never followed or fetched
    _no_network(tab)


def test_the_harness_does_see_script_that_runs(browser: Browser, tmp_path: Path) -> None:
    """A control: a page that does run script is caught by the checks above."""
    page = tmp_path / "control.html"
    page.write_text(
        "<!DOCTYPE html><html lang='en'><title>c</title><script>window.__pwned = 1</script>"
        "<p onclick='window.__clicked = 1'>x</p></html>",
        "utf-8",
    )
    url = page.resolve().as_uri()
    tab = Tab(browser)
    tab.open(url)
    tab.click("p")
    assert tab.js("window.__pwned") == 1 and tab.js("window.__clicked") == 1
    assert tab.page_scripts(url)


def _xss_corpus() -> dict[str, bytes]:
    """The XSS corpus of ``tests/hostile/xss_cases.py`` (a folder of modules, not a package)."""
    here = str(Path(__file__).resolve().parent / "hostile")
    if here not in sys.path:
        sys.path.insert(0, here)
    cases: dict[str, bytes] = importlib.import_module("xss_cases").CASES
    return cases


XSS = _xss_corpus()


def _xss_pages(name: str, folder: Path) -> list[Path]:
    """The case as an HTML page, as a fragment in a bare page, and as rendered Markdown."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    loaded = parse_bytes(XSS[name], folder / f"{name}.xml")
    assert loaded.document is not None, loaded.diagnostics
    doc = TeiDocument(loaded.document)
    shell = "<!DOCTYPE html><html lang='en'><meta charset='utf-8'><title>t</title><body>{}</body>"
    markdown = MarkdownIt("commonmark", {"html": True}).use(footnote_plugin)
    pages = {
        "page": to_html(doc),
        "fragment": shell.format(to_html(doc, HtmlOptions(fragment=True))),
        "markdown": shell.format(markdown.render(to_markdown(doc))),
    }
    out = []
    for kind, text in pages.items():
        path = folder / f"{name}-{kind}.html"
        path.write_text(text, "utf-8")
        out.append(path)
    return out


@pytest.mark.parametrize("name", sorted(XSS))
def test_xss_corpus_runs_nothing(browser: Browser, tmp_path: Path, name: str) -> None:
    """Every page the hostile corpus makes: hovered, clicked, and nothing runs or loads."""
    for path in _xss_pages(name, tmp_path):
        url = path.resolve().as_uri()
        tab = Tab(browser)
        tab.open(url)
        for selector in ("a[href^='#']", "p", "span", "li", "h2", "abbr", "cite"):
            count = min(tab.js(f"document.querySelectorAll({json.dumps(selector)}).length"), 25)
            for i in range(count):
                tab.click(selector, i)
        assert tab.js("location.href").split("#")[0] == url, path.name
        assert tab.js("typeof window.__pwned") == "undefined", path.name
        assert not tab.events("Page.javascriptDialogOpening"), path.name
        assert tab.js("document.scripts.length") == 0, path.name
        assert not tab.page_scripts(url), path.name
        _no_network(tab)
