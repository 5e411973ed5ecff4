"""HTML that stays inert: the XSS corpus (``xss_cases.py``) through the HTML converter (page
and fragment) and the Markdown converter (rendered to HTML by markdown-it-py, raw HTML on,
as CommonMark renders it), checked statically: no script or other active element, no
event handler, no style attribute, every URL a fragment or http(s)/mailto, no CSS that
loads or runs anything. The same corpus runs in Chromium in ``tests/test_html_browser.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree, html
from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin
from xss_cases import BAD_CSS, BAD_URLS, CASES, assert_inert, url_is_safe

from teikit.convert.html import HtmlOptions, safe_url, sanitize_css, to_html
from teikit.convert.markdown import MarkdownOptions, to_markdown
from teikit.document import TeiDocument
from teikit.loading import parse_bytes


def _doc(name: str, tmp_path: Path) -> TeiDocument:
    loaded = parse_bytes(CASES[name], tmp_path / f"{name}.xml")
    assert loaded.document is not None, loaded.diagnostics
    return TeiDocument(loaded.document)


def render_markdown(text: str) -> str:
    """CommonMark with GFM footnotes, raw HTML allowed: what a static-site tool does."""
    rendered: str = MarkdownIt("commonmark", {"html": True}).use(footnote_plugin).render(text)
    return rendered


@pytest.mark.parametrize("name", sorted(CASES))
def test_html_page_is_inert(name: str, tmp_path: Path) -> None:
    assert_inert(to_html(_doc(name, tmp_path)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_html_fragment_is_inert(name: str, tmp_path: Path) -> None:
    assert_inert(to_html(_doc(name, tmp_path), HtmlOptions(fragment=True)), fragment=True)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("pages", ["comment", "none"])
def test_markdown_renders_inert(name: str, pages: str, tmp_path: Path) -> None:
    markdown = to_markdown(_doc(name, tmp_path), MarkdownOptions(pages=pages))  # type: ignore[arg-type]
    rendered = render_markdown(markdown)
    assert_inert(rendered, fragment=True)


def test_the_text_survives_as_text(tmp_path: Path) -> None:
    """Escaped, not dropped: the reader sees what the source says."""
    page = to_html(_doc("markup-in-text", tmp_path))
    text = html.fromstring(page).text_content()
    assert "<script>window.__pwned=1</script>" in text
    rendered = render_markdown(to_markdown(_doc("markup-in-text", tmp_path)))
    assert (
        "<script>window.__pwned=1</script>"
        in html.fragment_fromstring(rendered, create_parent="div").text_content()
    )


@pytest.mark.parametrize("url", BAD_URLS)
def test_no_bad_url_is_a_safe_url(url: str) -> None:
    """What the parser makes of each URL (references resolved) never passes safe_url."""
    written = url.replace("<", "&lt;")
    if "&" not in url:
        written = written.replace('"', "&quot;")
    value = etree.fromstring(f'<a href="{written}"/>'.encode()).get("href") or ""
    assert safe_url(value) is None or url_is_safe(value), value


@pytest.mark.parametrize("css", BAD_CSS)
def test_sanitize_css_drops_what_loads_or_runs(css: str) -> None:
    kept = sanitize_css(css).lower()
    for word in ("url(", "expression", "@import", "javascript", "behavior", "binding", "<", "}"):
        assert word not in kept, (css, kept)


def test_the_checker_catches_what_it_should() -> None:
    """A control: the static check fails on pages that are not inert."""
    for bad in (
        "<p><script>x</script></p>",
        "<p onclick='x'>x</p>",
        "<a href='javascript:x'>x</a>",
        "<a href=' java\tscript:x'>x</a>",
        "<a href='data:text/html,x'>x</a>",
        "<a href='//evil.example/'>x</a>",
        "<p style='background:url(x)'>x</p>",
        "<svg><a href='#x'/></svg>",
        "<style>*{background:url(x)}</style>",
        "<img src='https://x/'>",
    ):
        with pytest.raises(AssertionError):
            assert_inert(bad, fragment=True)
    assert_inert("<p><a href='#x'>a</a> <a href='https://x.example/'>b</a></p>", fragment=True)
