"""The one traversal every converter uses.

lxml stores the text *after* an element in that element's ``tail``; code that walks the
tree ad hoc tends to drop tails, or emit them twice, or emit them inside a subtree it
meant to skip. :func:`walk` yields a flat stream of start / text / end events in which
each piece of text appears exactly once, in document order, including the tails of
skipped elements, comments and processing instructions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from lxml import etree

EventKind = Literal["start", "text", "end"]


#: ``start``/``end`` carry the element; ``text`` carries the string and its parent.
#: A plain tuple, and the parent of a tail taken from a stack of open elements: with a
#: named tuple and ``getparent()`` per tail the walk took twice as long.
Event = tuple[EventKind, etree._Element, str]


def walk(
    root: etree._Element,
    skip: Callable[[etree._Element], bool] | None = None,
) -> Iterator[Event]:
    """Yield events for ``root``'s subtree; ``skip(el)`` true omits el and its content.

    A skipped element yields no events at all, but its tail still follows as text of its
    parent: skipping an element never swallows the words after it.
    """
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    skipped: etree._Element | None = None
    # The open elements: the last is the parent of any tail met (cheaper than getparent()).
    open_: list[etree._Element] = [root]
    for action, node in walker:
        if action == "start":
            if skip is not None and node is not root and skip(node):
                # iterwalk still sends this element's "end"; its tail is emitted there.
                walker.skip_subtree()
                skipped = node
                continue
            open_.append(node)
            yield ("start", node, "")
            text = node.text
            if text:
                yield ("text", node, text)
            continue
        if action == "end":
            if node is skipped:
                skipped = None
            else:
                open_.pop()
                yield ("end", node, "")
        # comments and processing instructions are not text, but what follows them is
        tail = node.tail
        if tail and node is not root:
            yield ("text", open_[-1], tail)


def text_outside(root: etree._Element, leave_out: Callable[[etree._Element], bool]) -> str:
    """``root``'s text in document order without the elements ``leave_out`` picks (the
    words after each still count), comments and processing instructions.

    Iterative, as the walk is: an element nested thousands deep cannot exhaust the stack.
    """
    return "".join(text for kind, _, text in walk(root, leave_out) if kind == "text")
