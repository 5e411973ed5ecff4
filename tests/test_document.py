"""The document model over real TEI: pointers resolve the ways projects write them."""

from __future__ import annotations

from pathlib import Path

from teikit import TeiDocument
from teikit.loading import load
from teikit.xmlutil import tei

from conftest import FIXTURES, LETTER, shared_path


def _doc(path: Path) -> TeiDocument:
    loaded = load(path)
    assert loaded.document is not None
    return TeiDocument(loaded.document)


def test_pointers_into_a_sibling_register_prefix_and_authority() -> None:
    doc = _doc(FIXTURES / "document" / "letter.xml")
    names = list(doc.root.iter(tei("persName")))
    found = [doc.entry_for(n) for n in names]
    assert [e.id if e else None for e in found] == ["p1", "p1", "p1", None, None]
    ada = found[0]
    assert ada is not None and ada.name == "Ada Lovelace" and ada.description == "mathematician"
    assert doc.expand("reg:p1") == "register/persons.xml#p1"
    assert doc.locate("reg:p1").kind == "file"
    assert doc.locate("register/missing.xml#p9").kind == "unresolved"
    assert doc.locate("https://example.org/").kind == "external"


def test_files_outside_the_allowed_roots_are_never_read() -> None:
    doc = _doc(FIXTURES / "document" / "letter.xml")
    target = doc.locate("../../../../../../../etc/hosts#x")
    assert target.kind == "unresolved" and target.document is None


def test_each_register_file_is_parsed_once() -> None:
    doc = _doc(FIXTURES / "document" / "letter.xml")
    first = doc.locate("register/persons.xml#p1").document
    second = doc.locate("reg:p1").document
    assert first is not None and first is second


def test_publisher_persons_and_terms_lists_are_entries() -> None:
    doc = _doc(shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml"))
    rusk = doc.all_entries["p_RD3"]
    assert rusk.kind == "person" and rusk.source == "list"
    assert rusk.name == "Rusk, Dean"
    assert rusk.description == "Secretary of State from January 21, 1961 to January 20, 1969"
    assert doc.all_entries["t_SIG1"].description == "Senior Interdepartmental Group"
    mention = next(n for n in doc.root.iter(tei("persName")) if n.get("corresp") == "#p_RD3")
    assert doc.entry_for(mention) is rusk


def test_the_entry_table_is_built_once_not_once_per_name() -> None:
    # Each name's lookup used to merge the two entry tables afresh: quadratic in a volume
    # with thousands of entries and names.
    doc = _doc(shared_path("corpus", "frus", "frus1964-68v29p2-excerpt.xml"))
    table = doc.all_entries
    for name in doc.root.iter(tei("persName")):
        doc.entry_for(name)
    assert doc.all_entries is table
    assert list(table) == [*doc.entries, *(k for k in doc.list_entries if k not in doc.entries)]


def test_letter_entries_are_unchanged() -> None:
    doc = _doc(LETTER)
    assert len(doc.entries) == 28 and not doc.list_entries
    assert doc.expand("frus:frus1964-68v29p2/d62").startswith("https://history.state.gov/")


def test_nested_tei_corpus_reads_every_text_and_no_header() -> None:
    from teikit.convert import to_html, to_markdown, to_text

    doc = _doc(FIXTURES / "document" / "corpus.xml")
    for out in (to_text(doc), to_markdown(doc), to_html(doc)):
        assert "First text." in out and "Second text." in out
        assert "HEADERONE" not in out and "NESTEDHEADER" not in out
    assert to_text(doc) == "First text.\n\nSecond text.\n"


def test_a_comment_in_a_title_is_not_part_of_it() -> None:
    """Comments are the encoder's, not the text's: a title never shows one (it did)."""
    from teikit.loading import parse_bytes

    loaded = parse_bytes(
        b'<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><fileDesc><titleStmt>'
        b"<title>Memorandum<!-- check the date --> to <persName>McNamara</persName>"
        b"<note>a note</note>, 1965</title></titleStmt></fileDesc></teiHeader>"
        b"<text><body><p/></body></text></TEI>",
        Path("memo.xml"),
    )
    assert loaded.document is not None
    assert TeiDocument(loaded.document).title == "Memorandum to McNamara, 1965"


def test_register_files_are_read_under_the_documents_limits() -> None:
    """A file a pointer leads into is read with the limits the document was read with:
    lowering a limit bounds the register too, and the register is refused when it
    breaks it (it was read with the defaults whatever the user asked)."""
    from teikit.loading import LoadOptions

    register = FIXTURES / "document" / "register" / "persons.xml"
    depth = max(len(list(el.iterancestors())) for el in _doc(register).root.iter()) + 1
    letter = FIXTURES / "document" / "letter.xml"
    assert max(len(list(el.iterancestors())) for el in _doc(letter).root.iter()) + 1 < depth

    loaded = load(letter, LoadOptions(max_depth=depth - 1))
    assert loaded.document is not None
    strict = TeiDocument(loaded.document)
    assert strict.locate("register/persons.xml#p1").kind == "unresolved"
    assert _doc(letter).locate("register/persons.xml#p1").kind == "file"
