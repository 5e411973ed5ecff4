from __future__ import annotations

from lxml import etree

from teikit.convert.walk import walk


def _events(xml: str, skip: set[str] | None = None) -> list[tuple[str, str, str]]:
    root = etree.fromstring(xml)
    pred = (lambda el: el.tag in skip) if skip else None
    return [(kind, str(el.tag), text) for kind, el, text in walk(root, pred)]


def test_every_text_and_tail_once_in_order() -> None:
    xml = "<a>x<b>y<c>z</c>w</b>t<!--c-->u<?pi d?>v<d>s</d>r</a>"
    text = "".join(e[2] for e in _events(xml))
    assert text == "xyzwtuvsr"


def test_skipped_element_keeps_its_tail_once() -> None:
    events = _events("<a>x<b>y<c>z</c>w</b>t<d>s</d>v</a>", skip={"b"})
    assert "".join(e[2] for e in events) == "xtsv"
    assert ("start", "b", "") not in events and ("end", "b", "") not in events


def test_root_tail_is_outside_the_walk() -> None:
    root = etree.fromstring("<r><a>in</a>after</r>")
    assert "".join(text for _, _, text in walk(root[0])) == "in"


def test_text_events_name_the_element_the_text_stands_in() -> None:
    # Tails of comments, processing instructions and skipped elements belong to the
    # element that holds them (the walk tracks open elements instead of asking lxml).
    xml = "<a>x<b>y<!--c-->z<?pi d?>w<s>no</s>v</b>t<s/>u</a>"
    texts = [(tag, text) for kind, tag, text in _events(xml, skip={"s"}) if kind == "text"]
    assert texts == [
        ("a", "x"),
        ("b", "y"),
        ("b", "z"),
        ("b", "w"),
        ("b", "v"),
        ("a", "t"),
        ("a", "u"),
    ]


def test_starts_and_ends_balance() -> None:
    events = _events("<a><b><c/></b><d>t</d></a>")
    assert [e[:2] for e in events if e[0] != "text"] == [
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("end", "c"),
        ("end", "b"),
        ("start", "d"),
        ("end", "d"),
        ("end", "a"),
    ]
