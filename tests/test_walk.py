from __future__ import annotations

from lxml import etree

from teikit.convert.walk import walk


def _events(xml: str, skip: set[str] | None = None) -> list[tuple[str, str, str]]:
    root = etree.fromstring(xml)
    pred = (lambda el: el.tag in skip) if skip else None
    return [(e.kind, str(e.node.tag), e.text) for e in walk(root, pred)]


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
    assert "".join(e.text for e in walk(root[0])) == "in"


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
