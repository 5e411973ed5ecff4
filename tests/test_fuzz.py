"""Property tests (hypothesis): random TEI-like documents and damaged corpus files.

1. Generated documents: random nesting of ``p``, ``hi``, ``note``, ``choice``, ``lb``,
   ``pb``, ``persName``... with random text (any Unicode XML allows, XML-special
   characters included) and random attributes, built with lxml (so always well-formed),
   serialised and read back through :func:`teikit.loading.parse_bytes`. Every converter
   gives output (CMIF may refuse a document without ``correspDesc``, with an InputError
   naming it), and the text converter loses no word of the source (words as the corpus
   test counts them: :func:`wordcount.source_words`), in the edited and the
   diplomatic reading. (The HTML is converted too but not counted: it turns a quotation
   holding paragraphs into a block, which the word count of the source does not know.)
2. Damaged corpus files: byte flips, truncation, a deleted tag, inserted bytes. Loading
   gives a document or diagnostics naming the file, never an exception, and whatever
   loads converts.

The default profile is quick (CI); ``TEIKIT_FUZZ_LONG=1`` runs thousands of examples.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from teikit.convert import FORMATS, convert_document
from teikit.convert.text import TextOptions, to_text
from teikit.document import TeiDocument
from teikit.errors import InputError
from teikit.loading import LoadOptions, parse_bytes

from conftest import shared_path
from wordcount import UNMARKED, lost_words, source_words

settings.register_profile(
    "teikit-ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)
settings.register_profile(
    "teikit-long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("teikit-long" if os.environ.get("TEIKIT_FUZZ_LONG") else "teikit-ci")

TEI = "http://www.tei-c.org/ns/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# -- generated documents ----------------------------------------------------------------

#: Characters XML 1.0 allows (no C0 controls but tab, LF, CR; no surrogates; no U+FFFE/F).
_XML_CHAR = st.characters(
    exclude_categories=["Cs"],
    exclude_characters="\x00\ufffe\uffff",
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
TEXT = st.one_of(
    st.text(_XML_CHAR, max_size=12),
    st.sampled_from(["", " ", "\n  ", "Rusk", "McNamara", "<&>\"'", "a&amp;b", "]]>", "--"]),
    st.text(st.sampled_from("abc xyz\u00e9\u4e2d<>&\"' \n"), max_size=10),
)
ATTRIBUTE_VALUES = st.one_of(
    st.text(_XML_CHAR, max_size=10),
    st.sampled_from(
        [
            "#p1",
            "#nowhere",
            "https://example.org/x",
            "javascript:alert(1)",
            "italic",
            "bold italic",
            "no",
            "1965-09-25",
            "en",
            "x\" onclick='y'",
        ]
    ),
)
ATTRIBUTES = ["rend", "type", "n", "ref", "target", "when", "break", "resp", "facs"]
INLINE = [
    "hi",
    "persName",
    "placeName",
    "orgName",
    "date",
    "emph",
    "title",
    "del",
    "add",
    "supplied",
    "unclear",
    "ref",
    "seg",
    "foreign",
    "term",
    "abbr",
    "expan",
]
EMPTY = ["lb", "pb", "gap", "cb", "ptr"]
BLOCK = ["p", "note", "quote", "list", "head", "ab", "lg"]
BREAKING = {f"{{{TEI}}}{n}" for n in ("lb", "pb", "cb")}


@st.composite
def node(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    """One random element with random text, attributes and children."""
    kinds = ["inline", "empty", "choice"] + (["block"] if depth < 4 else [])
    kind = draw(st.sampled_from(kinds)) if depth < 6 else "empty"
    if kind == "choice":
        el = etree.Element(f"{{{TEI}}}choice")
        pair = draw(st.sampled_from([("abbr", "expan"), ("sic", "corr"), ("orig", "reg")]))
        for name in pair:
            child = etree.SubElement(el, f"{{{TEI}}}{name}")
            child.text = draw(TEXT)
        el.tail = draw(TEXT)
        return el
    names = {"inline": INLINE, "empty": EMPTY, "block": BLOCK}[kind]
    el = etree.Element(f"{{{TEI}}}{draw(st.sampled_from(names))}")
    for attr in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=3, unique=True)):
        if attr == "target" and el.tag == f"{{{TEI}}}ptr":
            continue  # a ptr shows its URL: words around it are split on purpose
        if attr == "break" and el.tag not in BREAKING:
            continue  # @break belongs to lb, pb and cb (a gap is always marked […])
        el.set(attr, draw(ATTRIBUTE_VALUES))
    if draw(st.booleans()):
        el.set(f"{{{XML_NS}}}id", f"p{draw(st.integers(0, 5))}")
    if kind != "empty":
        el.text = draw(TEXT)
        if el.tag == f"{{{TEI}}}list":
            for _ in range(draw(st.integers(0, 3))):
                item = etree.SubElement(el, f"{{{TEI}}}item")
                item.text = draw(TEXT)
                item.tail = draw(TEXT)
        else:
            for child in draw(st.lists(node(depth + 1), max_size=4)):
                el.append(child)
    el.tail = draw(TEXT)
    return el


@st.composite
def tei_documents(draw: st.DrawFn) -> bytes:
    root = etree.Element(f"{{{TEI}}}TEI", nsmap={None: TEI})
    header = etree.SubElement(root, f"{{{TEI}}}teiHeader")
    title = etree.SubElement(
        etree.SubElement(etree.SubElement(header, f"{{{TEI}}}fileDesc"), f"{{{TEI}}}titleStmt"),
        f"{{{TEI}}}title",
    )
    title.text = draw(TEXT)
    body = etree.SubElement(etree.SubElement(root, f"{{{TEI}}}text"), f"{{{TEI}}}body")
    for _ in range(draw(st.integers(1, 4))):
        p = etree.SubElement(body, f"{{{TEI}}}p")
        p.text = draw(TEXT)
        for child in draw(st.lists(node(1), max_size=5)):
            p.append(child)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


@given(tei_documents())
def test_generated_documents_convert_and_lose_no_word(data: bytes) -> None:
    loaded = parse_bytes(data, Path("fuzz.xml"))
    assert loaded.document is not None, loaded.diagnostics
    doc = TeiDocument(loaded.document)
    for fmt in FORMATS:
        try:
            out = convert_document(doc, fmt)
        except InputError as exc:  # CMIF needs a correspDesc and says so
            assert fmt == "cmif" and "fuzz.xml" in str(exc)
            continue
        assert isinstance(out, str)
    for diplomatic in (False, True):
        text = to_text(doc, TextOptions(width=0, diplomatic=diplomatic, rules=UNMARKED))
        lost = lost_words(source_words(doc, diplomatic), text)
        assert not lost, (diplomatic, lost)


# -- damaged corpus files ---------------------------------------------------------------

#: Small enough that every converter runs on each example in a moment.
_MAX_SOURCE = 120_000


def _corpus_files() -> list[Path]:
    try:
        root = shared_path("corpus")
    except pytest.skip.Exception:
        return []
    return sorted(p for p in root.rglob("*.xml") if p.stat().st_size <= _MAX_SOURCE)


SOURCES = _corpus_files()
_TAG = re.compile(rb"<[^<>]{1,200}>")


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(SOURCES))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "truncate", "delete-tag", "insert", "duplicate"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[at:]
        elif how == "delete-tag":
            tags = list(_TAG.finditer(bytes(data)))
            if tags:
                m = tags[draw(st.integers(0, len(tags) - 1))]
                del data[m.start() : m.end()]
        elif how == "insert":
            data[at:at] = draw(
                st.one_of(
                    st.binary(max_size=8),
                    st.sampled_from(
                        [
                            b"<",
                            b"&",
                            b"]]>",
                            b"<!--",
                            b"\x00",
                            b"\xff\xfe",
                            b"<p>",
                            b"</p>",
                            b'<!DOCTYPE x [<!ENTITY a "&a;">]>',
                            b"&nbsp;",
                            b"\xc3",
                        ]
                    ),
                )
            )
        else:
            end = min(len(data), at + draw(st.integers(1, 200)))
            data[at:at] = data[at:end]
    return path.name, bytes(data)


@pytest.mark.skipif(not SOURCES, reason="the shared corpus (../shared/corpus) is missing")
@given(damaged())
def test_damaged_corpus_files_never_crash(case: tuple[str, bytes]) -> None:
    name, data = case
    loaded = parse_bytes(data, Path(name), LoadOptions())
    if loaded.document is None:
        assert loaded.diagnostics
        for d in loaded.diagnostics:
            assert d.file == name and d.code and d.message
        return
    doc = TeiDocument(loaded.document)
    for fmt in FORMATS:
        try:
            convert_document(doc, fmt)
        except InputError as exc:
            assert fmt == "cmif" and name in str(exc), exc


def test_profiles_are_registered() -> None:
    """The long profile exists for runs like ``TEIKIT_FUZZ_LONG=1 pytest tests/test_fuzz.py``."""
    assert settings.get_profile("teikit-long").max_examples >= 1000
    assert settings.get_profile("teikit-ci").deadline is None
