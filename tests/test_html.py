"""HTML output: well-formed, every in-page link resolves, notes link both ways, inert."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from teikit import HtmlOptions, TeiDocument
from teikit.batch import BatchOptions, run_batch
from teikit.convert import to_html
from teikit.convert.html import safe_url, sanitize_css
from teikit.convert.rules import RenderRules
from teikit.loading import load

from conftest import LETTER, ROOT, shared_path
from wordcount import html_text, lost_words, source_words


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


# --- structure, accessibility and the publisher's conventions ------------------------------

HTML_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "html"
STRUCTURES = HTML_FIXTURES / "structures.xml"
HOSTILE = HTML_FIXTURES / "hostile.xml"


def _render(path: Path, options: HtmlOptions | None = None) -> str:
    loaded = load(path)
    assert loaded.document is not None
    return to_html(TeiDocument(loaded.document), options or HtmlOptions())


def _excerpt() -> Path:
    return shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml")


def _headings(page: lxml.html.HtmlElement) -> list[int]:
    return [int(str(h.tag)[1]) for h in page.iter("h1", "h2", "h3", "h4", "h5", "h6")]


@pytest.mark.parametrize("name", ["letter", "structures", "excerpt"])
def test_headings_in_order_one_h1(name: str) -> None:
    path = {"letter": LETTER, "structures": STRUCTURES}.get(name) or _excerpt()
    levels = _headings(_page(path))
    assert levels[0] == 1 and levels.count(1) == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, levels


def test_head_of_a_nested_div_gets_the_next_level() -> None:
    page = _page(STRUCTURES)
    text = page.get_element_by_id("tk-text")
    assert [(h.tag, h.text_content()) for h in text.iter("h2", "h3")] == [
        ("h2", "Persons"),
        ("h2", "Abbreviations"),
        ("h2", "One: Rusk writes1"),
        # the div around it has no head: the level follows headed divisions, not depth
        ("h3", "Nested head"),
    ]
    # heads of lists, tables and figures are captions, not headings
    assert text.xpath("//caption[.='A table']")
    assert text.xpath("//figcaption[.='Caption last']")
    assert text.xpath("//p[contains(@class,'head-block')][.='Items']")


def test_landmarks_and_language() -> None:
    page = _page(STRUCTURES)
    assert page.get("lang") == "en"
    assert page.xpath("//nav[@aria-label]") and len(page.xpath("//main")) == 1
    assert page.xpath("//main/article[@aria-labelledby='tk-title']")
    assert page.get_element_by_id("tk-title").tag == "h1"
    # xml:lang on inner elements, and on a note that moves to the endnotes
    assert page.xpath("//span[@lang='de'][.='Auf Deutsch']")
    note = page.xpath("//li[@role='doc-endnote'][@lang='fr']")
    assert note and "Une note en français" in note[0].text_content()


def test_content_models_are_respected() -> None:
    page = _page(STRUCTURES)
    # A list in a paragraph ends it; the paragraph resumes after the list.
    assert not page.xpath("//p//ul | //p//ol | //p//dl | //p//blockquote | //p//table")
    first = page.xpath("//p[starts-with(., 'A list inside a paragraph')]")[0]
    following = [el.tag for el in first.itersiblings()][:5]
    assert following[:3] == ["p", "span", "ul"]  # the list's head, a page break, the list
    assert page.xpath("//blockquote/following-sibling::p[1][contains(., 'after it the end')]")
    # a list inside a phrase stays a phrase
    assert page.xpath("//span[contains(@class,'rend-italic')]/span[contains(@class,'tk-block')]")
    # a list with labels is a description list
    assert [c.tag for c in page.xpath("//dl[contains(@class,'gloss')]")[0]] == [
        "dt",
        "dd",
        "dt",
        "dd",
    ]
    # nothing but items in a list, rows in a table body, cells in a row
    assert not page.xpath("//ul/*[not(self::li)] | //ol/*[not(self::li)]")
    assert not page.xpath("//tbody/*[not(self::tr)] | //tr/*[not(self::td or self::th)]")
    assert page.xpath("//th[.='Year']") and page.xpath("//td[@colspan='2'][.='Total']")
    # never a link inside a link; the note marker inside a link stands after it
    assert not page.xpath("//a//a")
    link = page.xpath("//a[@href='#d1']")[0]
    nxt = link.getnext()
    assert nxt is not None and nxt.get("class") == "noteref"


def test_notes_with_paragraphs_keep_label_and_back_link_inside() -> None:
    page = _page(STRUCTURES)
    note = page.xpath("//li[@role='doc-endnote'][@lang='fr']")[0]
    paragraphs = note.findall("p")
    assert len(paragraphs) == 2
    assert paragraphs[0].find("span").get("class") == "note-label"
    assert paragraphs[-1].xpath("a[@role='doc-backlink']")


def test_dates_only_valid_html_datetimes() -> None:
    page = _page(STRUCTURES)
    assert page.xpath("//time/@datetime") == ["1965-09-25"]
    assert page.xpath("//span[@class='date'][.='not a day']")


def test_frus_names_link_to_the_persons_list_item() -> None:
    page = _page(_excerpt())
    item = page.get_element_by_id("p_RD3")
    # the item takes the id that the inner persName carries in the TEI
    assert item.tag == "li" and "Rusk, Dean" in item.text_content()
    assert len(page.xpath("//*[@id='p_RD3']")) == 1
    mentions = page.xpath("//a[@href='#p_RD3']")
    assert len(mentions) >= 4 and all("name" in m.get("class", "") for m in mentions)
    # ... and links back to each mention
    back = item.xpath(".//span[@class='entry-meta']/a/@href")
    assert sorted(back) == sorted("#" + m.get("id") for m in mentions)


def test_frus_gloss_is_an_abbreviation_linked_to_the_terms_list() -> None:
    page = _page(_excerpt())
    assert page.get_element_by_id("t_SIG1").tag == "li"
    glosses = page.xpath("//a[@href='#t_SIG1']/abbr")
    assert glosses and glosses[0].text_content() == "SIG"
    assert glosses[0].get("title") == "Senior Interdepartmental Group"
    osd = page.xpath("//a[@href='#t_OSD1']/abbr/@title")
    assert osd == ["Office of the Secretary of Defense"]


def test_rendition_becomes_a_class_with_sanitised_css() -> None:
    html = _render(_excerpt())
    page = lxml.html.document_fromstring(html)
    dateline = page.xpath("//p[contains(@class,'dateline')]")[0]
    assert "tk-r-right" in dateline.get("class", "").split()
    style = page.findtext(".//style") or ""
    assert ".tk-r-right { display: inline; float: right }" in style
    assert ".tk-r-nowrap { white-space: nowrap !important }" in style


@pytest.mark.parametrize(
    ("css", "kept"),
    [
        ("display: block; text-align: center;", "display: block; text-align: center"),
        ("padding-left:1.5em; text-indent:-1.5em;", "padding-left: 1.5em; text-indent: -1.5em"),
        ("border-top: 1px black solid;", "border-top: 1px black solid"),
        ("white-space: nowrap !important;", "white-space: nowrap !important"),
        ("display: none; float: right", "float: right"),
        ("background: url(javascript:alert(1)); font-style: italic", "font-style: italic"),
        ("border-top: 1px url(x.png) solid", ""),
        ("border-image: url(x.png)", ""),
        ("width: expression(alert(1))", ""),
        ("font-weight: expression(alert(1))", ""),
        ("@import 'x.css'; margin: 0", "margin: 0"),
        ("margin: 0 }</style><script>alert(1)</script><style>{", ""),
        ("font-style: ital\\69 c", ""),
        ("text-align: javascript:alert(1)", ""),
        ("color: red; position: fixed; font-weight: bold", "font-weight: bold"),
        ("margin-left: calc(1px + 2px)", ""),
        ("font-variant: 'small-caps'", ""),
        ("text-decoration: underline /* } */", ""),
    ],
)
def test_sanitize_css(css: str, kept: str) -> None:
    assert sanitize_css(css) == kept


def test_hostile_fixture_is_inert() -> None:
    html = _render(HOSTILE)
    page = lxml.html.document_fromstring(html)
    assert not page.xpath("//script | //iframe | //img | //object | //embed | //link | //form")
    assert len(page.xpath("//style")) == 1 and not page.xpath("//body//style")
    assert not page.xpath("//@*[starts-with(name(), 'on')] | //@style | //@src")
    for href in page.xpath("//@href"):
        assert href.startswith(("#", "https://")), href
    assert page.xpath("//a[@href='https://ok.example/?a=1&b=2']")
    style = (page.findtext(".//style") or "").split("sanitised */")[1]
    for bad in ("url(", "expression(", "@import", "javascript", "\\", "<", "binding", "behavior"):
        assert bad not in style.lower(), bad
    assert "display: none" not in style and "tk-r-evil3 " not in style
    # ids and langs that would not be valid (or would break out) are dropped
    assert page.get("lang") == "und"
    assert not [i for i in page.xpath("//@id") if not re.fullmatch(r"[\w.:-]+", i)]
    assert not page.xpath("//@lang[contains(., '\"')]")
    # every string is text: the script in the title and the text shows, escaped
    assert "<script>window.__pwned=1</script>" in (page.findtext(".//title") or "")
    assert 'window.__pwned = 1; alert("xhtml script");' in page.text_content()


def test_active_urls_in_facs_url_and_ref_never_become_links() -> None:
    page = _page(HOSTILE)
    # pb/@facs: no data-facs from a javascript: URL; graphic/@url: a span, not a link
    assert not page.xpath("//@data-facs")
    assert page.xpath("//span[@class='graphic'][.='[Image: A hostile image]']")
    # a data: graphic gives no text from its URL either
    assert page.xpath("//span[@class='graphic'][.='[Image]']")
    # persName/@ref with javascript: is plain text; with https: an external link
    assert page.xpath("//span[@class='persName'][.='Mallory']")
    assert page.xpath("//a[@href='https://www.wikidata.org/entity/Q42'][.='Douglas']")
    # a remote image is a link to it, never loaded
    assert page.xpath("//a[@href='https://images.example/photo.png'][@class='graphic']")


def test_every_fragment_link_resolves_everywhere() -> None:
    for path in (STRUCTURES, HOSTILE, _excerpt()):
        page = _page(path)
        ids = page.xpath("//@id")
        assert len(ids) == len(set(ids)), path
        targets = {h[1:] for h in page.xpath("//a/@href") if h.startswith("#")}
        assert targets <= set(ids), (path, targets - set(ids))


def test_fragment_is_one_div_without_style_or_shell() -> None:
    out = _render(STRUCTURES, HtmlOptions(fragment=True))
    frag = lxml.html.fragment_fromstring(out)
    assert frag.tag == "div" and frag.get("class") == "teikit" and frag.get("lang") == "en"
    assert not frag.xpath("//style | //main | //h1")
    assert _headings(frag)[0] == 2


def test_large_volume_renders() -> None:
    """The 2 MB FRUS volume renders whole. (How fast is benchmarks/convert.py's business:
    no timed tests.)"""
    loaded = load(shared_path("corpus", "frus", "frus1964-68v29p2.xml"))
    assert loaded.document is not None
    html = to_html(TeiDocument(loaded.document))
    assert len(html) > 1_000_000
    assert html.rstrip().endswith("</html>")


# --- random TEI trees: HTML's content models hold whatever the nesting ---------------------

_FUZZ_NAMES = (
    "div p head list item label table row cell figure graphic figDesc quote lg l note pb lb hi "
    "persName ref ptr gloss term date abbr choice expan supplied gap title emph del add opener "
    "closer dateline salute signed ab seg foreign cit bibl listBibl sp speaker stage "
    "floatingText anchor docImprint docDate titlePage"
).split()
_BLOCKS_IN_P = "ul ol dl table blockquote figure section div p h1 h2 h3 h4 h5 h6 li tr td".split()


def _random_tei(seed: int) -> bytes:
    """A deterministic random nesting of TEI elements, ids, pointers and text."""
    rnd = random.Random(seed)
    tei_ns = "http://www.tei-c.org/ns/1.0"

    def build(parent: etree._Element, depth: int) -> None:
        for _ in range(rnd.randint(0, 4)):
            if rnd.random() < 0.5:
                text = rnd.choice(["word ", " x ", "\n  "])
                if len(parent):
                    parent[-1].tail = (parent[-1].tail or "") + text
                else:
                    parent.text = (parent.text or "") + text
            name = rnd.choice(_FUZZ_NAMES)
            el = etree.SubElement(parent, f"{{{tei_ns}}}{name}")
            if rnd.random() < 0.15:
                el.set("{http://www.w3.org/XML/1998/namespace}id", f"id{rnd.randint(0, 20)}")
            if name in ("ref", "ptr", "gloss") or rnd.random() < 0.05:
                el.set("target", rnd.choice(["#id3", "#id5", "https://x.example/", "javascript:x"]))
            if name == "persName":
                el.set("corresp", f"#id{rnd.randint(0, 20)}")
            if depth < 6 and name not in ("pb", "lb", "gap", "graphic", "anchor"):
                build(el, depth + 1)

    root = etree.Element(f"{{{tei_ns}}}TEI", nsmap={None: tei_ns})
    body = etree.SubElement(etree.SubElement(root, f"{{{tei_ns}}}text"), f"{{{tei_ns}}}body")
    build(body, 0)
    return etree.tostring(root)


@pytest.mark.parametrize("seed", range(40))
def test_random_nesting_keeps_html_content_models(seed: int, tmp_path: Path) -> None:
    """Whatever the nesting: HTML's content models hold, ids are unique, links resolve,
    headings never skip a level, and no word of the source is lost or glued to another
    (a paragraph split inside a split lost every word after it; words inside a ptr
    were glued to its URL)."""
    source = tmp_path / "random.xml"
    source.write_bytes(_random_tei(seed))
    loaded = load(source)
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    page = lxml.html.document_fromstring(to_html(doc))
    main = page.find(".//main")
    assert main is not None
    assert not lost_words(source_words(doc, diplomatic=True), html_text(main))
    blocks = " | ".join(f"//p//{t} | //h2//{t} | //span//{t} | //a//{t}" for t in _BLOCKS_IN_P)
    assert not page.xpath(blocks)
    assert not page.xpath("//ul/*[not(self::li)] | //ol/*[not(self::li)]")
    assert not page.xpath("//dl/*[not(self::dt or self::dd)] | //a//a")
    assert not page.xpath("//li[not(parent::ul or parent::ol)] | //dd[not(parent::dl)]")
    assert not page.xpath("//tr[not(parent::tbody)] | //td[not(parent::tr)]")
    ids = page.xpath("//@id")
    assert len(ids) == len(set(ids))
    targets = {h[1:] for h in page.xpath("//a/@href") if h.startswith("#")}
    assert targets <= set(ids)
    levels = _headings(page)
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels


# --- valid HTML5: the Nu HTML Checker --------------------------------------------------------

VNU_VERSION = "26.9.27"
VNU_PREFIX = ROOT / ".cache" / "vnu"


def _vnu_jar() -> Path:
    """vnu.jar: from TEIKIT_VNU_JAR, the repository, or installed from the npm registry.

    Where npm is on the machine (as in CI) the checker is installed once into
    ``.cache/vnu`` (git-ignored), so the test runs instead of skipping.
    """
    env = os.environ.get("TEIKIT_VNU_JAR")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar")
    cached = VNU_PREFIX / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
    candidates.append(cached)
    for jar in candidates:
        if jar.is_file():
            return jar
    npm = shutil.which("npm")
    if npm is not None:
        VNU_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(VNU_PREFIX),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"vnu-jar@{VNU_VERSION}",
            ],
            capture_output=True,
            check=False,
            timeout=300,
        )
        if cached.is_file():
            return cached
    pytest.skip(
        "the Nu HTML Checker is not installed: set TEIKIT_VNU_JAR to vnu.jar, or run "
        "`npm install vnu-jar` in the repository"
    )


def test_html_is_valid_html5(tmp_path: Path) -> None:
    jar = _vnu_jar()
    java = shutil.which("java")
    if java is None:
        pytest.skip("the Nu HTML Checker needs Java (java on PATH)")
    pages: dict[Path, str] = {
        tmp_path / "letter.html": _render(LETTER),
        tmp_path / "letter-fragment.html": (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Fragment'
            "</title></head><body><main>"
            + _render(LETTER, HtmlOptions(fragment=True))
            + "</main></body></html>\n"
        ),
        tmp_path / "structures.html": _render(STRUCTURES),
        tmp_path / "hostile.html": _render(HOSTILE),
    }
    for path, text in pages.items():
        path.write_text(text, "utf-8")
    # Every page a batch run writes for the publisher's corpus (its index page too): the
    # 2 MB volume, figures, tables, labelled lists, embedded XHTML, generic XML.
    corpus = run_batch(
        [shared_path("corpus")], tmp_path / "corpus", BatchOptions(formats=("html",), jobs=2)
    )
    written = [p for p in corpus.written if p.suffix == ".html"]
    assert len(written) > 180
    result = subprocess.run(
        [java, "-jar", str(jar), "--errors-only", "--format", "json", "--stdout"]
        + [str(p) for p in [*pages, *written]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')}"
        for m in report["messages"]
        if m.get("type") in ("error", "non-document-error")
    ]
    assert not errors, "\n".join(errors[:30])
    assert result.returncode == 0, result.stderr


def test_render_rules_apply_to_html(tmp_path: Path) -> None:
    f = tmp_path / "r.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>'
        "<p>a <hi rend='italic'>b</hi> <stage>exit</stage><note type='source'>S</note></p>"
        "</body></text></TEI>"
    )
    rules = RenderRules.from_mapping(
        {
            "hi[@rend='italic']": {"html": "em", "class": "it"},
            "stage": {"before": "(", "after": ")"},
            "note[@type='source']": {"display": "omit"},
        }
    )
    loaded = load(f)
    assert loaded.document is not None
    html = to_html(TeiDocument(loaded.document), HtmlOptions(rules=rules))
    page = lxml.html.document_fromstring(html)
    (em,) = page.xpath("//em")
    assert em.text == "b" and "it" in em.get("class", "")
    assert "(exit)" in page.text_content()
    assert not page.xpath("//*[@role='doc-noteref']") and "S" not in page.xpath("string(//main)")


def test_an_omit_rule_applies_to_descriptions_too(tmp_path: Path) -> None:
    """``figDesc``/``desc`` were let through before the rules were asked (unless a graphic
    takes them as its label), so ``display = "omit"`` had no effect on them."""
    f = tmp_path / "r.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>'
        "<figure><head>Map</head><figDesc>A sketch of the bases</figDesc></figure>"
        "<p>a <desc>described</desc> b</p>"
        "</body></text></TEI>"
    )
    rules = RenderRules.from_mapping({"figDesc": {"display": "omit"}, "desc": {"display": "omit"}})
    loaded = load(f)
    assert loaded.document is not None
    page = lxml.html.document_fromstring(
        to_html(TeiDocument(loaded.document), HtmlOptions(rules=rules))
    )
    main = " ".join(page.xpath("string(//main)").split())
    assert "Map" in main and "a b" in main
    assert "sketch" not in main and "described" not in main


def test_a_rule_element_wraps_links_and_times_instead_of_stranding_them(tmp_path: Path) -> None:
    """``persName = { html = "div" }`` used to rename the name's link: ``<div href>`` is
    not HTML (the Nu HTML Checker said so) and the link was gone."""
    f = tmp_path / "r.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>'
        "<p><persName ref='#p1'>Rusk</persName> on <date when='1965-09-25'>25 Sept</date>"
        " <emph>now</emph></p>"
        "<listPerson><person xml:id='p1'><persName>Dean Rusk</persName></person></listPerson>"
        "</body></text></TEI>"
    )
    rules = RenderRules.from_mapping(
        {
            "persName": {"html": "span", "class": "who"},
            "date": {"html": "ul"},
            "emph": {"html": "b"},
        }
    )
    loaded = load(f)
    assert loaded.document is not None
    page = lxml.html.document_fromstring(
        to_html(TeiDocument(loaded.document), HtmlOptions(rules=rules))
    )
    (who,) = page.xpath("//main//span[contains(@class, 'who')][a]")
    (link,) = who.xpath("a[@href='#p1']")
    assert link.text == "Rusk" and who.get("href") is None
    (when,) = page.xpath("//main//ul/li/time")
    assert when.get("datetime") == "1965-09-25" and not page.xpath("//ul[@datetime]")
    assert page.xpath("//main//b")[0].text == "now"  # nothing bound to it: simply renamed


def test_a_source_id_never_doubles_one_of_the_page(tmp_path: Path) -> None:
    f = tmp_path / "ids.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>'
        "<p xml:id='tk-main'>a</p><p xml:id='tk-title'>b</p><p xml:id='tk-notes'>c"
        "<note>n</note></p><p><persName ref='#tk-index'>X</persName></p>"
        "<listPerson><person xml:id='tk-index'><persName>X</persName></person></listPerson>"
        "</body></text></TEI>"
    )
    page = lxml.html.document_fromstring(_render(f))
    ids = page.xpath("//@id")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert page.xpath("//main[@id='tk-main']") and page.xpath("//h1[@id='tk-title']")


def test_folding_touches_only_xml_whitespace() -> None:
    """Runs of space, tab, CR and LF become one space; a no-break space, an em space or
    any other Unicode space is content and stays (the fast path uses str.split, which
    would fold them)."""
    import random
    import re

    from teikit.convert.html import _NOT_XML_SPACE, _fold

    xml_runs = re.compile(r"[ \t\r\n]+")
    alphabet = [" ", "\t", "\n", "\r", "a", "\xa0", "\u2003", "\x85", "\u3000", "é"]
    rng = random.Random(5)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        assert _fold(text) == xml_runs.sub(" ", text), repr(text)
    others = [chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c) not in " \t\r\n"]
    assert all(_NOT_XML_SPACE.match(c) for c in others)


def test_xhtml_and_p4_breaks_are_line_breaks(tmp_path: Path) -> None:
    """An XHTML <br/> inside TEI (corpus/frus-history/events/7.xml has one) became an
    empty span: 'Wilson CenterFebruary' on the page."""
    f = tmp_path / "br.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>Center'
        '<br xmlns="http://www.w3.org/1999/xhtml"/>February</p>'
        '<p xmlns="">one<lb/>two<pb n="3"/>three</p></body></text></TEI>'
    )
    page = lxml.html.document_fromstring(_render(f))
    (first,) = page.xpath("//main//p[@class='p']")
    assert [c.tag for c in first] == ["br"] and first.text_content() == "CenterFebruary"
    (p4,) = page.xpath("//main//div[@class='p']")  # a block, in no namespace
    assert p4.xpath("br") and p4.xpath(".//a[@aria-label='Page 3']")


def test_the_index_sorts_persons_by_surname() -> None:
    """It sorted by the whole name: Anthony M. Solomon before Dean Rusk before Edwin O.
    Reischauer."""
    page = _page()
    persons = [dt.text for dt in page.xpath("//section[@id='tk-index']/dl[1]/dt")]
    assert persons[:3] == ["William P. Bundy", "Robert A. Fearey", "Robert S. McNamara"]
    assert persons.index("Edwin O. Reischauer") < persons.index("Dean Rusk")


# --- blocks that split a paragraph and are split themselves ---------------------------------


def _fragment_of(tmp_path: Path, body: str) -> lxml.html.HtmlElement:
    source = tmp_path / "split.xml"
    source.write_text(
        f'<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body>{body}</body></text></TEI>',
        "utf-8",
    )
    return lxml.html.fragment_fromstring(_render(source, HtmlOptions(fragment=True)))


@pytest.mark.parametrize(
    ("body", "blocks"),
    [
        # The paragraph and the dateline are both empty when the table splits them.
        ("<div><p><docDate><table/></docDate> AFTER</p></div>", ["table", "p: AFTER"]),
        ("<div><p>B<docDate><table/></docDate> AFTER</p></div>", ["p: B", "table", "p: AFTER"]),
        (
            "<div><p><docDate>D<table/></docDate> AFTER</p></div>",
            ["p: D", "table", "p: AFTER"],
        ),
        (
            "<sp><p><docDate><table/></docDate> A <signed>S1 <opener>OP</opener> S2</signed> E</p>"
            "</sp>",
            ["table", "p: A", "p: S1", "div: OP", "p: S2", "p: E"],
        ),
    ],
)
def test_a_block_split_inside_a_block_that_split_a_paragraph_loses_nothing(
    tmp_path: Path, body: str, blocks: list[str]
) -> None:
    """A paragraph resumed after the block that split it, even when that block (a
    dateline) was split by a table itself: the paragraph resumed inside a detached
    element, and every word after the table was lost ("AFTER", "A S1 OP S2 E")."""
    holder = _fragment_of(tmp_path, body).xpath("//div[@id='tk-text']/div/div")[0]
    got = [
        f"{child.tag}: {' '.join(child.text_content().split())}"
        if child.text_content().strip()
        else child.tag
        for child in holder
    ]
    assert got == blocks


def test_a_link_to_what_was_not_rendered_becomes_a_span(tmp_path: Path) -> None:
    """Links are looked at one by one only when a source pointer's target may be missing:
    an id of the header (never rendered), or one of the page's own that is not there."""
    source = tmp_path / "links.xml"
    source.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><fileDesc><titleStmt>'
        '<title xml:id="t">T</title></titleStmt></fileDesc>'
        '<notesStmt><note xml:id="tk-notes">not rendered</note></notesStmt></teiHeader>'
        '<text><body><p xml:id="here">See <ref target="#t">the title</ref>, '
        '<ref target="#tk-notes">the notes</ref> and <ref target="#here">here</ref>.</p>'
        "</body></text></TEI>",
        "utf-8",
    )
    page = lxml.html.document_fromstring(_render(source))
    assert [a.text for a in page.xpath("//div[@id='tk-text']//a")] == ["here"]
    assert [s.text for s in page.xpath("//span[@class='ref']")] == ["the title", "the notes"]


@pytest.mark.parametrize(
    ("figure", "shown"),
    [
        # The graphic's own desc is its label; the figure's figDesc is rendered too.
        (
            '<graphic url="https://x.example/a.png"><desc>Photo</desc></graphic>'
            "<figDesc>A long description</figDesc>",
            ["[Image: Photo]", "A long description"],
        ),
        # The first figDesc labels the graphic; a second one is rendered.
        (
            '<graphic url="https://x.example/a.png"/><figDesc>First</figDesc>'
            "<figDesc>Second</figDesc>",
            ["[Image: First]", "Second"],
        ),
        ('<graphic url="https://x.example/a.png"/><figDesc>Only</figDesc>', ["[Image: Only]"]),
    ],
)
def test_every_description_of_a_figure_is_shown(
    tmp_path: Path, figure: str, shown: list[str]
) -> None:
    """A figDesc was left out whenever its figure had a graphic, though the graphic's link
    is labelled by the graphic's own desc when it has one, and by the first figDesc only."""
    page = _fragment_of(tmp_path, f"<figure>{figure}</figure>")
    assert [el.text_content() for el in page.xpath("//figure/*")] == shown


@pytest.mark.parametrize(
    "body",
    [
        '<list><ptr target="#x"/><expan/>word <item xml:id="x">i</item></list>',
        '<p><ptr target="#x">word</ptr><anchor xml:id="x"/></p>',
    ],
)
def test_a_ptr_url_never_glues_to_a_word(tmp_path: Path, body: str) -> None:
    """A ptr's URL and the word after it: a space was added at the end of the ptr's
    parent, so when HTML's content models moved the link out of a list, the space went
    inside the list and the URL met the word ('#xword'); a word inside a ptr did too."""
    text = "".join(_fragment_of(tmp_path, body).itertext())
    assert re.search(r"#x\s+word", text), text
