"""TEI that tries to put live content into HTML (and Markdown rendered as HTML).

Each case is a small TEI document carrying one family of attack: markup and script in text,
event handlers and foreign elements, dangerous URL schemes (disguised with entities,
whitespace, control characters and mixed case) in every attribute that becomes a link,
CSS that loads or runs something in ``@style`` and ``rendition``, and quotes that try to
break out of ``@rend``, ``@style``, ``@target``, ``@url``, ``xml:id`` and friends. Every
payload, if it ever ran, would set ``window.__pwned`` or open a dialog, which the browser
test watches for; :func:`assert_inert` is the static check.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml import etree, html

TEI_NS = "http://www.tei-c.org/ns/1.0"
RUN = "window.__pwned=1;alert(1)"

#: URLs that must never become links (as written into XML attributes; &#...; are
#: character references the parser turns into the characters they name).
BAD_URLS = [
    f"javascript:{RUN}",
    f"JaVaScRiPt:{RUN}",
    f"  javascript:{RUN}",
    f"java&#x09;script:{RUN}",
    f"java&#x0A;script:{RUN}",
    f"java&#x0D;script:{RUN}",
    f"&#x20;&#x0C;javascript:{RUN}".replace("&#x0C;", ""),  # form feed is not XML
    f"&#106;&#97;vascript:{RUN}",
    f"javascript&amp;colon;{RUN}",
    f"jav&#x61;script:{RUN}",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+",
    "data:text/html,<script>window.__pwned=1</script>",
    "DATA:image/svg+xml,<svg onload='window.__pwned=1'/>",
    "file:///etc/passwd",
    "//evil.example/x.js",
    "\\\\evil.example\\x",
    f"https:{RUN}",
    "https://example.org/&quot; onmouseover=&quot;window.__pwned=1",
    "https://example.org/' onclick='window.__pwned=1",
    "https://example.org/<script>window.__pwned=1</script>",
    "https://example.org/\u2028x",
    'mailto:a@b.example" onclick="window.__pwned=1',
    f"&#xFEFF;javascript:{RUN}",
    f"\u00a0javascript:{RUN}",
]

#: Strings that try to leave an attribute, a class, an id or the style element.
BREAKOUTS = [
    '" onclick="window.__pwned=1',
    "' onclick='window.__pwned=1",
    '"><script>window.__pwned=1</script>',
    "x onmouseover=window.__pwned=1",
    "</style><script>window.__pwned=1</script>",
    "javascript:window.__pwned=1",
    "expression(window.__pwned=1)",
    "url(javascript:window.__pwned=1)",
]

#: CSS a rendition or @style may hold.
BAD_CSS = [
    "background: url(javascript:window.__pwned=1)",
    "background-image: url('https://evil.example/x.png')",
    "width: expression(window.__pwned=1)",
    "behavior: url(x.htc)",
    "-moz-binding: url(https://evil.example/x.xml#y)",
    "@import url(https://evil.example/x.css)",
    "color: red} body { background: url(https://evil.example/y.png)",
    "font-style: italic; } </style><script>window.__pwned=1</script><style>",
    "b\\61 ckground: u\\72 l(javascript:window.__pwned=1)",
    "list-style: url(https://evil.example/z.png)",
    "content: '\\3c script\\3e'",
    "text-align: center; background: #fff url(https://evil.example/w.png)",
]


def _q(value: str) -> str:
    """``value`` for a double-quoted XML attribute (references in it are kept as written)."""
    return value.replace('"', "&quot;").replace("<", "&lt;")


def tei(body: str, header: str = "", back: str = "") -> bytes:
    return (
        f'<TEI xmlns="{TEI_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:svg="http://www.w3.org/2000/svg">'
        "<teiHeader><fileDesc><titleStmt><title>Hostile &lt;/title&gt;&lt;script&gt;"
        "window.__pwned=1&lt;/script&gt;</title></titleStmt><publicationStmt><p>p</p>"
        "</publicationStmt><sourceDesc><bibl>&lt;img src=x onerror=window.__pwned=1&gt;</bibl>"
        f"</sourceDesc></fileDesc>{header}</teiHeader><text><body>{body}</body>{back}</text></TEI>"
    ).encode()


def _urls_everywhere() -> bytes:
    parts = []
    for i, url in enumerate(BAD_URLS):
        u = _q(url) if "&#" not in url and "&amp;" not in url and "&quot;" not in url else url
        parts.append(
            f'<p xml:id="p{i}"><ref target="{u}">ref {i}</ref> <ptr target="{u}"/> '
            f'<persName ref="{u}">name {i}</persName> <placeName ref="{u}">place</placeName> '
            f'<graphic url="{u}"/> <pb n="{i}" facs="{u}"/> '
            f'<ref target="#p{i}" xlink:href="{u}">local</ref> '
            f'<orgName corresp="{u}" sameAs="{u}">org</orgName></p>'
        )
    people = "".join(
        f'<person xml:id="x{i}"><persName>P{i}</persName><idno type="URI">'
        f"{_q(url) if '&' not in url else url}</idno></person>"
        for i, url in enumerate(BAD_URLS)
    )
    names = "".join(f'<persName ref="#x{i}">p{i}</persName> ' for i in range(len(BAD_URLS)))
    return tei(
        "".join(parts) + f"<p>{names}</p>",
        back="",
        header=f"<profileDesc><particDesc><listPerson>{people}</listPerson></particDesc>"
        "</profileDesc>",
    )


def _breakouts_everywhere() -> bytes:
    parts = []
    for i, bad in enumerate(BREAKOUTS):
        q = _q(bad)
        parts.append(
            f'<p rend="{q}" type="{q}" style="{q}" n="{q}"><hi rend="{q}" style="{q}">hi</hi> '
            f'<note n="{q}" type="{q}">note {i}</note> <date when="2020-01-01{q}">d</date> '
            f'<gap reason="{q}"/> <pb n="{q}"/> <lb n="{q}"/> '
            f"<choice><abbr>A{i}</abbr><expan>{_q(bad).replace('&quot;', '')}</expan></choice> "
            f'<seg xml:lang="{q}">lang</seg></p>'
            f'<table><row><cell cols="2{q}" rows="{q}">c</cell></row></table>'
            f'<list type="{q}" rend="{q}"><item n="{q}">item</item></list>'
        )
    return tei("".join(parts))


def _ids() -> bytes:
    bad_ids = [
        'x" onclick="window.__pwned=1',
        "javascript:window.__pwned=1",
        "x' onmouseover='window.__pwned=1",
        "tk-text",
        "tk-notes",
    ]
    parts = [
        f'<p xml:id="{_q(ident)}">id {n} <ref target="#{_q(ident)}">to it</ref></p>'
        for n, ident in enumerate(bad_ids)
    ]
    return tei("".join(parts))


def _renditions() -> bytes:
    decls = "".join(
        f'<rendition xml:id="r{i}" scheme="css">{css.replace("&", "&amp;").replace("<", "&lt;")}'
        "</rendition>"
        for i, css in enumerate(BAD_CSS)
    )
    body = "".join(
        f'<p rendition="#r{i}" style="{_q(css).replace("&", "&amp;")}">styled {i}</p>'
        for i, css in enumerate(BAD_CSS)
    )
    return tei(
        body,
        header=f"<encodingDesc><tagsDecl>{decls}"
        '<rendition xml:id="r&quot;x" scheme="css">font-style: italic</rendition>'
        "</tagsDecl></encodingDesc>",
    )


def _markup_in_text() -> bytes:
    return tei(
        "<p>&lt;script&gt;window.__pwned=1&lt;/script&gt; "
        "<![CDATA[<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>]]> "
        "<!-- --><script>window.__pwned=1</script><!-- --> "
        "<?xml-stylesheet href='javascript:window.__pwned=1'?> "
        "&lt;img src=x onerror=window.__pwned=1&gt; &amp;lt;script&amp;gt; "
        "[click](javascript:window.__pwned=1) <hi>[x](javascript:alert(1))</hi> "
        "&lt;javascript:alert(1)&gt; ![i](javascript:alert(1)) "
        "&lt;a href='javascript:alert(1)'&gt;a&lt;/a&gt; `code` *em* _u_ "
        "&amp;#106;avascript:alert(1) \\&lt;script&gt;</p>"
        "<p>[a]: javascript:window.__pwned=1</p>"
        "<p>[^1]: javascript:window.__pwned=1</p>"
        "<p>&lt;!-- x --&gt; &lt;style&gt;*{background:url(https://evil.example/)}&lt;/style&gt;</p>"
        "<head>&lt;/h2&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;</head>"
        '<div><head>&lt;iframe src="javascript:alert(1)"&gt;</head><p>in div</p></div>'
    )


def _foreign_elements() -> bytes:
    return tei(
        '<p onclick="window.__pwned=1" onmouseover="window.__pwned=1">handlers '
        '<hi onfocus="window.__pwned=1" tabindex="1" autofocus="">focus</hi> '
        "<h:script>window.__pwned=1</h:script> "
        '<h:img src="x" onerror="window.__pwned=1"/> '
        '<h:iframe src="javascript:window.__pwned=1"/> '
        '<h:a href="javascript:window.__pwned=1">a</h:a> '
        '<h:form action="javascript:window.__pwned=1"><h:button formaction="javascript:'
        'window.__pwned=1">b</h:button></h:form> '
        '<h:object data="javascript:window.__pwned=1"/> <h:embed src="x.swf"/> '
        '<h:base href="https://evil.example/"/> '
        '<h:meta http-equiv="refresh" content="0;url=javascript:window.__pwned=1"/> '
        '<h:link rel="stylesheet" href="https://evil.example/x.css"/> '
        '<svg:svg onload="window.__pwned=1"><svg:script>window.__pwned=1</svg:script>'
        '<svg:a xlink:href="javascript:window.__pwned=1"><svg:text>t</svg:text></svg:a></svg:svg> '
        "<script>window.__pwned=1</script> <style>*{x:expression(1)}</style> "
        '<iframe src="javascript:window.__pwned=1"/> '
        '<figure><graphic url="javascript:window.__pwned=1"><desc>d</desc></graphic>'
        "<figDesc>&lt;img src=x onerror=window.__pwned=1&gt;</figDesc></figure></p>"
    )


def _prefix_tricks() -> bytes:
    header = (
        "<encodingDesc><listPrefixDef>"
        '<prefixDef ident="js" matchPattern="(.+)" replacementPattern="javascript:$1"/>'
        '<prefixDef ident="web" matchPattern="(.+)" replacementPattern="https://example.org/$1"/>'
        "</listPrefixDef></encodingDesc>"
    )
    return tei(
        '<p><ref target="js:window.__pwned=1">js</ref> '
        '<persName ref="js:window.__pwned=1">n</persName> '
        '<ref target="web:%22onclick=%22x">web</ref> '
        '<persName ref="web:x&quot; onclick=&quot;window.__pwned=1">m</persName></p>',
        header=header,
    )


CASES: dict[str, bytes] = {
    "urls": _urls_everywhere(),
    "breakouts": _breakouts_everywhere(),
    "ids": _ids(),
    "renditions": _renditions(),
    "markup-in-text": _markup_in_text(),
    "foreign-elements": _foreign_elements(),
    "prefix-tricks": _prefix_tricks(),
}

# --- the static check -------------------------------------------------------------------

FORBIDDEN_ELEMENTS = frozenset(
    "script iframe frame frameset object embed applet base form input button textarea "
    "select option img video audio source track picture svg math link meta portal "
    "template noscript marquee isindex keygen".split()
)
#: Elements the page shell itself has (one charset meta, viewport, generator).
SHELL_META = frozenset({"charset", "viewport", "generator"})
URL_ATTRIBUTES = frozenset(
    "href src action formaction data poster background cite srcset longdesc ping "
    "manifest codebase lowsrc dynsrc xlink:href {http://www.w3.org/1999/xlink}href "
    "data-facs".split()
)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u2028\u2029\ufeff]+")
BAD_CSS_WORDS = ("url(", "expression", "@import", "javascript", "behavior", "binding", "</")


def url_is_safe(value: str) -> bool:
    """A fragment, or an absolute http, https or mailto URL (as a browser would read it)."""
    cleaned = _CONTROL.sub("", value)
    if cleaned.startswith("#"):
        return True
    scheme = urlsplit(cleaned).scheme.lower()
    return scheme in SAFE_SCHEMES and bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", cleaned))


def assert_inert(page: str, *, fragment: bool = False) -> None:
    """No script, handler, active URL, loading CSS or foreign active element in ``page``."""
    assert "<script" not in page.lower()
    root = (
        html.fragment_fromstring(page, create_parent="div") if fragment else html.fromstring(page)
    )
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = etree.QName(el).localname.lower()
        if tag == "meta":
            assert not fragment and (el.get("charset") or el.get("name") in SHELL_META), (
                etree.tostring(el)
            )
            assert el.get("http-equiv") is None
            continue
        assert tag not in FORBIDDEN_ELEMENTS, etree.tostring(el)[:200]
        for name, value in el.attrib.items():
            lowered = str(name).lower()
            assert not lowered.startswith("on"), (name, value)
            assert lowered not in ("style", "srcdoc", "formaction", "autofocus"), (name, value)
            if lowered in URL_ATTRIBUTES or lowered.endswith("href"):
                assert url_is_safe(value), (tag, name, value)
        if tag == "style":
            css = (el.text or "").lower()
            for word in BAD_CSS_WORDS:
                assert word not in css, (word, css[:300])
