"""Plain-text rules on small hand-made documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from teikit import TeiDocument, TextOptions
from teikit.convert import to_text
from teikit.loading import load


def _text(tmp_path: Path, body: str, **opts: object) -> str:
    f = tmp_path / "t.xml"
    f.write_text(
        f'<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><fileDesc><titleStmt>'
        f"<title>HEADER</title></titleStmt></fileDesc></teiHeader>"
        f"<text><body>{body}</body></text></TEI>",
        "utf-8",
    )
    loaded = load(f)
    assert loaded.document is not None
    return to_text(TeiDocument(loaded.document), TextOptions(**opts))  # type: ignore[arg-type]


def test_header_is_not_part_of_the_text(tmp_path: Path) -> None:
    assert "HEADER" not in _text(tmp_path, "<p>x</p>")


def test_words_never_glued_across_elements(tmp_path: Path) -> None:
    out = _text(tmp_path, "<p>one<lb/>two<pb n='2'/>three<!-- c -->four<lb break='no'/>five</p>")
    assert out == "one two threefourfive\n"


def test_line_break_without_break_no_separates(tmp_path: Path) -> None:
    assert _text(tmp_path, "<p>a<lb/>b</p>") == "a b\n"


def test_pages_on_request(tmp_path: Path) -> None:
    body = "<p>before <pb n='7'/> after</p>"
    assert _text(tmp_path, body) == "before after\n"
    assert _text(tmp_path, body, pages=True) == "before [Page 7] after\n"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("end", "See this.[1]\n\nNotes\n\n[1] A note.\n"),
        ("inline", "See this. [1: A note.]\n"),
        ("omit", "See this.\n"),
    ],
)
def test_notes_modes(tmp_path: Path, mode: str, expected: str) -> None:
    out = _text(tmp_path, "<p>See this.<note n='1'>A note.</note></p>", notes=mode)
    assert out == expected


def test_notes_without_n_are_numbered(tmp_path: Path) -> None:
    out = _text(tmp_path, "<p>a<note>x</note> b<note>y</note></p>")
    assert out == "a[1] b[2]\n\nNotes\n\n[1] x\n\n[2] y\n"


def test_choice_shows_edited_reading_unless_diplomatic(tmp_path: Path) -> None:
    body = "<p><choice><abbr>SIG</abbr><expan>Senior Group</expan></choice> met</p>"
    assert _text(tmp_path, body) == "Senior Group met\n"
    assert _text(tmp_path, body, diplomatic=True) == "SIG met\n"
    sic = (
        "<p>the <choice><sic>teh</sic><corr>the</corr></choice> "
        "<choice><orig>colour</orig><reg>color</reg></choice></p>"
    )
    assert _text(tmp_path, sic) == "the the color\n"
    assert _text(tmp_path, sic, diplomatic=True) == "the teh colour\n"


def test_editorial_marks(tmp_path: Path) -> None:
    body = (
        "<p>a <del>gone</del><add>added</add> <gap/> <supplied>sup</supplied> "
        "<unclear>un</unclear></p>"
    )
    assert _text(tmp_path, body) == "a added […] [sup] un[?]\n"
    assert _text(tmp_path, body, diplomatic=True) == "a ⟦gone⟧added […] [sup] un[?]\n"


def test_wrapping_and_blocks(tmp_path: Path) -> None:
    body = (
        "<head>Title</head><p>" + "word " * 30 + "</p><list><item>" + "x " * 40 + "</item></list>"
    )
    out = _text(tmp_path, body, width=40)
    blocks = out.split("\n\n")
    assert blocks[0] == "Title"
    assert all(len(line) <= 40 for line in out.splitlines())
    assert blocks[2].startswith("- x") and blocks[2].splitlines()[1].startswith("  x")
    assert len(_text(tmp_path, body, width=0).splitlines()[2]) > 100


def test_lone_div_document(tmp_path: Path) -> None:
    f = tmp_path / "d.xml"
    f.write_text('<div xmlns="http://www.tei-c.org/ns/1.0"><p>Just a div.</p></div>')
    loaded = load(f)
    assert loaded.document is not None
    assert to_text(TeiDocument(loaded.document)) == "Just a div.\n"


def test_spans_of_tracked_elements_point_into_the_text() -> None:
    from teikit.convert.text import render_text
    from teikit.document import NAME_KINDS

    from conftest import LETTER

    loaded = load(LETTER)
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    opts = TextOptions(width=0, diplomatic=True)
    render = render_text(doc, opts, track=lambda el: el.tag in NAME_KINDS)
    assert render.text == to_text(doc, opts)
    assert len(render.spans) > 70
    shown = {render.text[s.start : s.end] for s in render.spans}
    assert {"Rusk", "Bob", "Washington", "SIG", "Department of Defense"} <= shown
    # in the notes too, after the "[n] " label
    notes_at = render.text.index("\n\nNotes\n\n")
    assert any(
        s.start > notes_at and render.text[s.start : s.end] == "Fearey" for s in render.spans
    )


def test_header_citation_block(tmp_path: Path) -> None:
    out = _text(tmp_path, "<p>x</p>", header=True)
    assert out == "HEADER\n\nx\n"
    from conftest import LETTER

    letter = load(LETTER).document
    assert letter is not None
    lines = to_text(TeiDocument(letter), TextOptions(header=True)).split("\n\n")
    assert lines[0].startswith("Letter from Secretary of State Dean Rusk")
    assert lines[1] == "Author: Dean Rusk"
    assert any(b.startswith("Licence: ") and "creativecommons.org" in b for b in lines[:6])


def test_render_rules_change_how_elements_render(tmp_path: Path) -> None:
    from teikit.convert.rules import RenderRules

    rules = RenderRules.from_mapping(
        {
            "hi[@rend='italic']": {"before": "_", "after": "_"},
            "note[@type='source']": {"display": "omit"},
            "stage": {"display": "block", "before": "(", "after": ")"},
            "hi": {"before": "*", "after": "*"},
        }
    )
    body = (
        "<p>a <hi rend='bold italic'>b</hi> <hi>c</hi><note type='source'>S</note>"
        "<note>N</note><stage>exit</stage> d</p>"
    )
    out = _text(tmp_path, body, rules=rules)
    assert out == "a _b_ *c*[1]\n\n(exit)\n\nd\n\nNotes\n\n[1] N\n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"p[": {}}, "selector"),
        ({"p": {"display": "hidden"}}, "display must be"),
        ({"p": {"html": "script"}}, "not an allowed element"),
        ({"p": {"colour": "red"}}, "unknown key"),
    ],
)
def test_bad_render_rules_are_usage_errors(spec: dict[str, object], message: str) -> None:
    from teikit.convert.rules import RenderRules
    from teikit.errors import UsageError

    with pytest.raises(UsageError, match=message):
        RenderRules.from_mapping(spec)


def test_structured_bibl_citation_has_punctuation() -> None:
    from lxml import etree

    from teikit.document import cite_bibl

    bibl = etree.fromstring(
        '<bibl xmlns="http://www.tei-c.org/ns/1.0"><title>Book</title><editor>A. B.</editor>'
        "<pubPlace>Washington</pubPlace><publisher>GPO</publisher><date>2006</date>"
        '<citedRange unit="page">pp. 1–2</citedRange></bibl>'
    )
    assert cite_bibl(bibl) == "Book; A. B. (ed.); Washington: GPO, 2006; pp. 1–2"
    mixed = etree.fromstring(
        '<bibl xmlns="http://www.tei-c.org/ns/1.0"><author>X</author>, <title>Y</title>.</bibl>'
    )
    assert cite_bibl(mixed) == "X, Y."


def test_wrapping_matches_textwrap() -> None:
    """The fast wrapper gives exactly what textwrap.fill gives for normalised text."""
    import random
    import textwrap

    from teikit.convert.text import _wrap

    words = "a bb ccc dddd Ryukyus Interdepartmental—political, economic 1964–66 x".split()
    rng = random.Random(7)
    for _ in range(2000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 60)))
        if rng.random() < 0.1:
            text += " " + "y" * rng.randint(30, 90)
        width, hang = rng.choice([10, 20, 40, 72]), rng.choice([0, 2, 4])
        expected = textwrap.fill(
            text,
            width=width,
            subsequent_indent=" " * hang,
            break_long_words=False,
            break_on_hyphens=False,
        )
        assert _wrap(text, width, hang) == expected


def test_wrapping_keeps_runs_of_spaces_as_the_word_loop_does() -> None:
    """Text that is not single-spaced (an empty note's "[1] ", a rule's "  ") is wrapped
    word by word, every space kept, exactly as the line pattern would never do."""
    import random

    from teikit.convert.text import _wrap, _wrap_words

    words = ["a", "bb", "ccc", "", "x" * 30, "line\nbreak", "é"]
    rng = random.Random(11)
    for _ in range(5000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
        width, hang = rng.choice([1, 3, 8, 20]), rng.choice([0, 2, 4])
        expected = _wrap_words(text, width, hang) if len(text) > width else text
        assert _wrap(text, width, hang) == expected
    assert _wrap("[1] ", 3) == "[1]\n"


def _text_of(tmp_path: Path, xml: str, **opts: object) -> str:
    """The text of a whole document given as it is (any root, any namespace)."""
    f = tmp_path / "any.xml"
    f.write_text(xml, "utf-8")
    loaded = load(f)
    assert loaded.document is not None
    return to_text(TeiDocument(loaded.document), TextOptions(**opts))  # type: ignore[arg-type]


def test_table_cells_are_set_apart(tmp_path: Path) -> None:
    body = (
        "<table><row><cell>seven</cell><cell>eight</cell></row>"
        "<row><cell/><cell>nine<note>n</note></cell><cell>ten</cell></row></table>"
    )
    assert _text(tmp_path, body, notes="omit") == "seven | eight\n\n| nine | ten\n"
    assert _text(tmp_path, body).startswith("seven | eight\n\n| nine[1] | ten\n\n")


#: The same text as TEI P4, as TEI without its namespace, and with its XHTML equivalents.
P4_BODY = (
    "<p>one</p><p>two<lb/>three<pb n='2'/>four<note>five</note></p>"
    "<list><item>six</item></list><table><row><cell>seven</cell><cell>eight</cell></row></table>"
)
P4_TEXT = "one\n\ntwo three four[1]\n\n- six\n\nseven | eight\n\nNotes\n\n[1] five\n"


@pytest.mark.parametrize(
    "xml",
    [
        f"<TEI.2><teiHeader><title>HEADER</title></teiHeader><text><body>{P4_BODY}"
        "</body></text></TEI.2>",
        f"<TEI><teiHeader><title>HEADER</title></teiHeader><text><body>{P4_BODY}"
        "</body></text></TEI>",
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader/><text><body>'
        '<div xmlns="http://www.w3.org/1999/xhtml"><p>one</p><p>two<br/>three<br/>four</p>'
        "<ul><li>six</li></ul><table><tr><td>seven</td><td>eight</td></tr></table></div>"
        "</body></text></TEI>",
        "<event><div><p>one</p><div>two<br/>three<br/>four</div><ul><li>six</li></ul>"
        "<table><tbody><tr><th>seven</th><td>eight</td></tr></tbody></table></div></event>",
    ],
    ids=["P4", "no-namespace", "XHTML", "generic-XML"],
)
def test_words_never_glued_outside_tei_p5(tmp_path: Path, xml: str) -> None:
    out = _text_of(tmp_path, xml)
    if "note" in xml:
        assert out == P4_TEXT
        assert _text_of(tmp_path, xml, pages=True).startswith("one\n\ntwo three [Page 2] four")
    else:
        assert out == "one\n\ntwo three four\n\n- six\n\nseven | eight\n"


def test_xhtml_line_break_in_a_real_file() -> None:
    from conftest import shared_path

    loaded = load(shared_path("corpus", "frus-history", "events", "7.xml"))
    assert loaded.document is not None
    out = to_text(TeiDocument(loaded.document), TextOptions(width=0))
    assert "CenterFebruary" not in out
    assert "A panel discussion at the Wilson Center February 2, 2012" in out


def test_a_bad_selector_names_the_file_it_is_in(tmp_path: Path) -> None:
    """The message named the selector but not the rules file or configuration key."""
    from teikit.convert.rules import RenderRules
    from teikit.errors import UsageError
    from teikit.schemas import load_config

    rules = tmp_path / "rules.toml"
    rules.write_text('[render]\n"note[@type=" = { display = "omit" }\n')
    with pytest.raises(UsageError, match=rf"^{re.escape(str(rules))}: render rule selector"):
        RenderRules.load(rules)
    config = tmp_path / ".teikit.toml"
    config.write_text('[render]\n"p[" = { display = "omit" }\n')
    with pytest.raises(UsageError, match=r"\.teikit\.toml: render: render rule selector 'p\['"):
        load_config(config)


def test_a_supplied_page_number_is_not_bracketed_twice(tmp_path: Path) -> None:
    """pb n="[I]" (the FRUS volume has them) read '[Page [I]]' in text, '[[I]]' in HTML."""
    from teikit.convert import to_html

    f = tmp_path / "pb.xml"
    f.write_text(
        '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>one <pb n="[I]"/>two</p>'
        "</body></text></TEI>"
    )
    loaded = load(f)
    assert loaded.document is not None
    doc = TeiDocument(loaded.document)
    assert "one [Page I] two" in to_text(doc, TextOptions(pages=True))
    assert ">[I]</a>" in to_html(doc) and "[[" not in to_html(doc)
