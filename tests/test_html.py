"""HTML output: well-formed, every in-page link resolves, notes link both ways, inert."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from teikit import HtmlOptions, TeiDocument, load
from teikit.convert import to_html
from teikit.convert.html import safe_url

from conftest import LETTER


def _page(path: Path = LETTER, options: HtmlOptions | None = None) -> lxml.html.HtmlElement:
    loaded = load(path)
    assert loaded.document is not None
    return lxml.html.document_fromstring(
        to_html(TeiDocument(loaded.document), options or HtmlOptions())
    )


def test_page_shell() -> None:
    page = _page()
    assert page.get("lang") == "en"
    assert "Dean Rusk" in (page.findtext(".//title") or "")
    assert page.find(".//main") is not None and page.find(".//style") is not None
    # no external requests: no scripts, no external stylesheets or images
    assert not page.xpath("//script | //link | //img | //iframe")


def test_ids_unique_and_every_fragment_link_resolves() -> None:
    page = _page()
    ids = page.xpath("//@id")
    assert len(ids) == len(set(ids))
    targets = [h[1:] for h in page.xpath("//a/@href") if h.startswith("#")]
    assert targets
    missing = sorted(set(targets) - set(ids))
    assert not missing


def test_footnotes_link_both_ways() -> None:
    page = _page()
    refs = page.xpath("//a[@role='doc-noteref']")
    assert [r.text_content() for r in refs] == ["1", "2", "3", "4"]
    for ref in refs:
        note = page.get_element_by_id(ref.get("href")[1:])
        assert note.get("role") == "doc-endnote"
        back = note.xpath(".//a[@role='doc-backlink']")
        assert back and back[0].get("href") == "#" + ref.get("id")
    source = page.get_element_by_id(refs[0].get("href")[1:])
    assert "note-source" in source.get("class", "")
    assert "Washington National Records Center" in source.text_content()


def test_names_link_to_index_entries_with_authority_links() -> None:
    page = _page()
    names = page.xpath("//main//a[contains(concat(' ', @class, ' '), ' name ')]")
    assert len(names) > 50
    rusk = page.get_element_by_id("pers.rusk")
    assert rusk.tag == "dt" and "Rusk" in rusk.text_content()
    japan = page.get_element_by_id("place.japan").getnext()
    assert japan is not None
    assert japan.xpath(".//a[@href='https://www.wikidata.org/entity/Q17']")
    # the index links back to each mention
    details = page.get_element_by_id("pers.reischauer").getnext()
    assert details is not None
    mentions = details.xpath(".//a[starts-with(@href,'#tk-m')]")
    assert len(mentions) >= 3


def test_page_numbers_in_the_margin() -> None:
    page = _page()
    pbs = page.xpath("//span[contains(@class,'pb')]")
    assert [p.text_content() for p in pbs] == ["[128]", "[129]"]


def test_abbreviations_carry_their_expansion() -> None:
    page = _page()
    sig = [a for a in page.xpath("//abbr") if a.text_content() == "SIG"]
    assert sig and sig[0].get("title") == "Senior Interdepartmental Group"


def test_fragment_has_no_page_shell() -> None:
    loaded = load(LETTER)
    assert loaded.document is not None
    out = to_html(TeiDocument(loaded.document), HtmlOptions(fragment=True))
    assert out.startswith('<div class="teikit"') and "<html" not in out


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        " javascript:alert(1)",
        'http://x" onmouseover="a',
        "//evil.example/",
    ],
)
def test_active_urls_never_become_links(url: str) -> None:
    assert safe_url(url) is None


def test_hostile_input_stays_inert(tmp_path: Path) -> None:
    f = tmp_path / "x.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>'
        '<p rend="x&quot; onclick=&quot;alert(1)" xml:id="a&quot;b">'
        "&lt;script&gt;alert(1)&lt;/script&gt;"
        '<ref target="javascript:alert(1)">click</ref>'
        '<ref target="https://ok.example/?a=1&amp;b=2">fine</ref>'
        '<ref target="https://x.example/&quot;onclick=&quot;alert(1)">quoted</ref></p></body></text></TEI>'
    )
    html = to_html(TeiDocument(load(f).document))  # type: ignore[arg-type]
    page = lxml.html.document_fromstring(html)
    assert not page.xpath("//script") and "<script>" not in html
    assert not page.xpath("//@onclick")
    assert not [h for h in page.xpath("//a/@href") if "javascript" in h.lower()]
    assert page.xpath("//a[@href='https://ok.example/?a=1&b=2']")
    assert 'href="https://ok.example/?a=1&amp;b=2"' in html
    assert "<script>alert(1)</script>" in page.text_content()  # shown as text, not run


def test_every_word_of_the_text_is_in_the_html() -> None:
    loaded = load(LETTER)
    assert loaded.document is not None
    from teikit.convert import to_text

    text_words = to_text(TeiDocument(loaded.document)).split()
    # join text nodes with spaces: block boundaries in HTML carry no whitespace
    main = _page().find(".//main")
    assert main is not None
    html_text = " ".join(main.itertext())
    import re

    html_words = set(re.findall(r"\w+", html_text))
    missing = {w for tw in text_words for w in re.findall(r"\w+", tw)} - html_words
    assert not missing
