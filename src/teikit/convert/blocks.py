"""Which elements start a block of their own, or separate words without one, shared by the
text-like and HTML converters.

TEI P5 is matched by its Clark names (one set lookup per element, as ever). Older and
looser input must not glue words either: a TEI name in no namespace (TEI P4,
``<TEI>`` without ``xmlns``) behaves as in TEI, and XHTML elements, in the XHTML
namespace or in none, separate words as a browser would (blocks as blocks, ``br`` as a
line break, cells apart). Every name is in the same sets, so no lookup is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree

from teikit.xmlutil import tei

XHTML_NS = "http://www.w3.org/1999/xhtml"

_TEI_CONTAINERS = """
    div div1 div2 div3 div4 div5 div6 div7 body front back group text floatingText
    list listBibl lg table sp opener closer figure titlePage castList cit
    listPerson listOrg listPlace listEvent app
    """.split()
_TEI_BLOCKS = """
    p ab head dateline salute signed byline docAuthor docDate docTitle titlePart trailer
    epigraph argument postscript address addrLine item label l speaker stage figDesc
    caption row bibl biblStruct quote castItem person org place event entry fw egXML eg
    u lem
    """.split()
_HTML_CONTAINERS = """
    html body section article aside nav main header footer hgroup ul ol dl menu dir
    table thead tbody tfoot blockquote figure fieldset details dialog center
    """.split()
_HTML_BLOCKS = """
    head title p div li dt dd tr h1 h2 h3 h4 h5 h6 address caption figcaption hr pre
    legend summary form noscript
    """.split()
#: HTML block names that are inline elements in TEI: in no namespace, TEI wins.
_TEI_INLINE = frozenset({"title", "form"})


def _xhtml(local: str) -> str:
    return f"{{{XHTML_NS}}}{local}"


def all_forms(tei_names: Iterable[str], html_names: Iterable[str] = ()) -> frozenset[str]:
    """The TEI names in the TEI namespace and in none, the HTML names in XHTML and in none
    (except where a name in none is TEI's: :data:`_TEI_INLINE`). Every converter that
    reads older or looser input builds its sets of names with this."""
    teis, htmls = list(tei_names), list(html_names)
    return frozenset(
        [tei(n) for n in teis]
        + teis
        + [_xhtml(n) for n in htmls]
        + [n for n in htmls if n not in _TEI_INLINE]
    )


#: Blocks whose children are blocks too; their own loose text is rare but still kept.
CONTAINERS = all_forms(_TEI_CONTAINERS, _HTML_CONTAINERS)

#: Every element that starts a block of its own: the containers and the paragraph-like
#: elements whose content is running text.
BLOCKS = CONTAINERS | all_forms(_TEI_BLOCKS, _HTML_BLOCKS)

#: Table cells: inline, but cells of one row are joined by :data:`CELL_SEPARATOR`.
CELLS = all_forms(["cell"], ["td", "th"])
CELL_SEPARATOR = " | "
#: Breaks that separate words (unless ``break="no"``) without starting a block.
LINE_BREAKS = all_forms(["lb", "cb"], ["br"])
PAGE_BREAKS = all_forms(["pb"], [])
#: Blocks shown as list items ("- ").
ITEMS = all_forms(["item"], ["li"])
#: Notes in the TEI namespace and in none (TEI P4).
NOTES = all_forms(["note"], [])

#: Blocks only where they stand between blocks (in a container or a note).
_BETWEEN_BLOCKS = all_forms(["quote", "bibl", "cit", "address", "label"], [])


def is_block(tag: object, parent_tag: object = None) -> bool:
    """``quote``, ``bibl`` and ``address`` are blocks only when they stand between blocks."""
    if tag not in BLOCKS:
        return False
    if tag in _BETWEEN_BLOCKS:
        return between_blocks(parent_tag)
    return True


def is_block_in_place(tag: object, parent_tag: object = None) -> bool:
    """:func:`is_block` for what is rendered where it stands, notes included: a note
    that is (one left in place, see :func:`in_place`) is a block between blocks, as a
    quote is. Notes that are collected never ask."""
    return between_blocks(parent_tag) if tag in NOTES else is_block(tag, parent_tag)


def between_blocks(parent_tag: object) -> bool:
    """Whether a child of ``parent_tag`` stands between blocks (in a container or a note),
    not in running text."""
    return parent_tag in CONTAINERS or parent_tag in NOTES


def parent_tag(el: etree._Element) -> object:
    """The tag of ``el``'s parent (``None`` at the root), as :func:`is_block` takes it."""
    parent = el.getparent()
    return parent.tag if parent is not None else None


def in_place(note: etree._Element | Mapping[str, str]) -> bool:
    """Whether a note stays where it stands in the text instead of being numbered and
    collected after it: ``place="inline"`` in TEI's terms, or ``rend="inline"``, which
    the FRUS volumes use for the source notes of documents not declassified and which
    the TEI Stylesheets read the same way. Only asked of notes (a few per document);
    ``note`` may be its attributes alone."""
    for attr in ("place", "rend"):
        value = note.get(attr)
        if value and "inline" in value.split():
            return True
    return False
