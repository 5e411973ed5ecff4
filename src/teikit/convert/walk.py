"""The one traversal every converter uses.

lxml stores the text *after* an element in that element's ``tail``; code that walks the
tree ad hoc tends to drop tails, or emit them twice, or emit them inside a subtree it
meant to skip. :func:`walk` yields a flat stream of start / text / end events in which
each piece of text appears exactly once, in document order, including the tails of
skipped elements, comments and processing instructions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, NamedTuple

from lxml import etree

EventKind = Literal["start", "text", "end"]


class Event(NamedTuple):
    """``start``/``end`` carry the element; ``text`` carries the string and its parent.

    A named tuple: the walk makes one per node and text, and a tuple is made at a
    fraction of a frozen dataclass's cost.
    """

    kind: EventKind
    node: etree._Element
    text: str = ""


def walk(
    root: etree._Element,
    skip: Callable[[etree._Element], bool] | None = None,
) -> Iterator[Event]:
    """Yield events for ``root``'s subtree; ``skip(el)`` true omits el and its content.

    A skipped element yields no events at all, but its tail still follows as text of its
    parent: skipping an element never swallows the words after it.
    """
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    # Event(...) goes through a Python-level __new__; this is the same tuple, made in C.
    new = tuple.__new__
    skipped: etree._Element | None = None
    for action, node in walker:
        if action == "start":
            if skip is not None and node is not root and skip(node):
                # iterwalk still sends this element's "end"; its tail is emitted there.
                walker.skip_subtree()
                skipped = node
                continue
            yield new(Event, ("start", node, ""))
            if node.text:
                yield new(Event, ("text", node, node.text))
            continue
        if action == "end":
            if node is skipped:
                skipped = None
            else:
                yield new(Event, ("end", node, ""))
        # comments and processing instructions are not text, but what follows them is
        if node is not root and node.tail:
            parent = node.getparent()
            if parent is not None:
                yield new(Event, ("text", parent, node.tail))


def text_outside(root: etree._Element, leave_out: Callable[[etree._Element], bool]) -> str:
    """``root``'s text in document order without the elements ``leave_out`` picks (the
    words after each still count), comments and processing instructions.

    Iterative, as the walk is: an element nested thousands deep cannot exhaust the stack.
    """
    return "".join(text for kind, _, text in walk(root, leave_out) if kind == "text")
