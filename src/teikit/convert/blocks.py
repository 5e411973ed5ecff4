"""Which TEI elements start a block of their own, shared by the text and HTML converters."""

from __future__ import annotations

from teikit.xmlutil import tei

#: Blocks whose children are blocks too; their own loose text is rare but still kept.
CONTAINERS = frozenset(
    tei(n)
    for n in """
    div div1 div2 div3 div4 div5 div6 div7 body front back group text floatingText
    list listBibl lg table sp opener closer figure titlePage castList cit
    listPerson listOrg listPlace listEvent app
    """.split()
)

#: Every element that starts a block of its own: the containers and the paragraph-like
#: elements whose content is running text.
BLOCKS = CONTAINERS | frozenset(
    tei(n)
    for n in """
    p ab head dateline salute signed byline docAuthor docDate docTitle titlePart trailer
    epigraph argument postscript address addrLine item label l speaker stage figDesc
    caption row bibl biblStruct quote castItem person org place event entry fw egXML eg
    u lem
    """.split()
)


#: Blocks only where they stand between blocks (in a container or a note).
_BETWEEN_BLOCKS = frozenset(tei(n) for n in ("quote", "bibl", "cit", "address", "label"))
_NOTE = tei("note")


def is_block(tag: object, parent_tag: object = None) -> bool:
    """``quote``, ``bibl`` and ``address`` are blocks only when they stand between blocks."""
    if tag not in BLOCKS:
        return False
    if tag in _BETWEEN_BLOCKS:
        return parent_tag in CONTAINERS or parent_tag == _NOTE
    return True
