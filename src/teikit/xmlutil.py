"""Small helpers over lxml that several modules need: names, paths, namespaces."""

from __future__ import annotations

from lxml import etree

TEI_NS = "http://www.tei-c.org/ns/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_ID = f"{{{XML_NS}}}id"
XML_LANG = f"{{{XML_NS}}}lang"

#: Prefixes people recognise, used when showing names outside the TEI namespace.
KNOWN_PREFIXES = {
    XML_NS: "xml",
    "http://www.w3.org/2001/XInclude": "xi",
    "http://www.w3.org/1999/xhtml": "html",
    "http://www.w3.org/1998/Math/MathML": "mml",
    "http://www.w3.org/2000/svg": "svg",
    "http://www.tei-c.org/ns/Examples": "egXML",
}


def tei(local: str) -> str:
    """Clark name of a TEI element: ``tei("p") == "{http://www.tei-c.org/ns/1.0}p"``."""
    return f"{{{TEI_NS}}}{local}"


def display_name(tag: str, nsmap: dict[str | None, str] | None = None) -> str:
    """``{TEI}p`` -> ``p``; other namespaces keep a prefix so nothing is ambiguous."""
    if not tag.startswith("{"):
        return tag
    qn = etree.QName(tag)
    if qn.namespace == TEI_NS:
        return qn.localname
    prefix = KNOWN_PREFIXES.get(qn.namespace or "")
    if prefix is None and nsmap:
        prefix = next((p for p, u in nsmap.items() if u == qn.namespace and p), None)
    return f"{prefix}:{qn.localname}" if prefix else f"{{{qn.namespace}}}{qn.localname}"


def element_name(elem: etree._Element) -> str:
    """Readable name of an element (comments and PIs get a descriptive stand-in)."""
    tag = elem.tag
    if isinstance(tag, str):
        return display_name(tag, dict(elem.nsmap))
    return "comment" if isinstance(elem, etree._Comment) else "node"


def readable_path(elem: etree._Element) -> str:
    """``/TEI/text/body/div/p[3]``: positions only where siblings share the name."""
    steps: list[str] = []
    node: etree._Element | None = elem
    while node is not None:
        parent = node.getparent()
        name = element_name(node)
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


def resolve_libxml2_path(tree: etree._ElementTree, path: str) -> etree._Element | None:
    """Find the element a libxml2 error path (``/*/*[2]/xi:include``) names, if possible."""
    nsmap: dict[str, str] = {}
    for el in tree.iter():
        for prefix, uri in el.nsmap.items():
            if prefix and prefix not in nsmap:
                nsmap[prefix] = uri
    try:
        found = tree.xpath(path, namespaces=nsmap)
    except etree.XPathError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None
