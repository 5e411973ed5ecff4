"""The hostile corpus: inputs built at test time from ``manifest.toml``.

Each case of the manifest names a maker here (``make = "billion_laughs"``). A maker gets a
:class:`Context` (a folder to write into, the secret that must never leak, the address of a
local HTTP server that must never be asked for anything) and creates the input: usually
bytes written to ``<case id>.xml``, sometimes a folder, a symbolic link or a FIFO. Big and
bomb-shaped inputs exist only in the test's temporary folder, never in the repository.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.toml"
#: Text that exists only in files teikit must never read or fetch.
TOKEN = "TEIKIT-SECRET-5e1f7c"
TEI_NS = "http://www.tei-c.org/ns/1.0"


@dataclass(frozen=True, slots=True)
class Context:
    """Where a case is made, and the things it may point at."""

    folder: Path
    #: A folder beside ``folder`` (outside it) holding the secrets.
    secrets: Path
    #: ``http://127.0.0.1:<port>`` of a server that records every request.
    http: str

    @property
    def secret_txt(self) -> Path:
        return self.secrets / "secret.txt"

    @property
    def secret_dtd(self) -> Path:
        return self.secrets / "secret.dtd"

    @property
    def secret_xml(self) -> Path:
        return self.secrets / "secret.xml"


@dataclass(frozen=True, slots=True)
class Case:
    """One manifest entry: what to make and what teikit must say about it."""

    id: str
    group: str
    make: str
    description: str
    #: Codes that must all be among the file's diagnostics.
    codes: tuple[str, ...]
    #: Whether a document comes out (warnings only) or not (an error).
    loads: bool
    #: Further codes validation reports (a schema named by URL is unavailable...).
    validate_codes: tuple[str, ...] = ()
    #: ``LoadOptions`` fields for this case (e.g. a lowered element limit).
    options: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    #: Whether the CLI can be pointed at it (a FIFO is made only where the test needs it).
    cli: bool = True
    #: Whether a folder walk finds it (a directory named x.xml is not a file to find).
    walked: bool = True
    #: Seconds to load, not milliseconds: checked through load, one converter and the
    #: CLI, not through every entry point (they all load the same way).
    heavy: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.id}.xml"

    @property
    def error(self) -> bool:
        return not self.loads


def cases(group: str | None = None) -> list[Case]:
    """The manifest's cases, optionally of one group, in manifest order."""
    data = tomllib.loads(MANIFEST.read_text("utf-8"))
    out = []
    for raw in data["case"]:
        case = Case(
            id=raw["id"],
            group=raw["group"],
            make=raw["make"],
            description=raw["description"],
            codes=tuple(raw.get("codes", ())),
            loads=raw["loads"],
            validate_codes=tuple(raw.get("validate", ())),
            options=dict(raw.get("options", {})),
            args=dict(raw.get("args", {})),
            cli=raw.get("cli", True),
            walked=raw.get("walked", True),
            heavy=raw.get("heavy", False),
        )
        if group is None or case.group == group:
            out.append(case)
    return out


def make_secrets(secrets: Path) -> None:
    """Files outside every input folder whose content must never appear anywhere."""
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "secret.txt").write_text(TOKEN + "\n", "utf-8")
    (secrets / "secret.dtd").write_text(
        f'<!ENTITY leak "{TOKEN}">\n<!ENTITY % inner "<!ENTITY pleak \'{TOKEN}\'>">\n%inner;\n'
        f'<!ATTLIST p rend CDATA "{TOKEN}">\n',
        "utf-8",
    )
    (secrets / "secret.xml").write_text(
        f'<TEI xmlns="{TEI_NS}"><teiHeader/><text><body><listPerson>'
        f'<person xml:id="p1"><persName>{TOKEN}</persName></person>'
        "</listPerson><p>secret</p></body></text></TEI>",
        "utf-8",
    )


def make(case: Case, ctx: Context) -> Path:
    """Create the case's input in ``ctx.folder``; the path to hand to teikit."""
    maker = MAKERS[case.make]
    target = ctx.folder / case.file_name
    produced = maker(ctx, target, **case.args)
    if isinstance(produced, bytes):
        target.write_bytes(produced)
    return target


# -- building blocks --------------------------------------------------------------------


def tei(body: str, prolog: str = "", header: str = "") -> bytes:
    """A small TEI document around ``body`` (the content of ``<body>``)."""
    return (
        f'{prolog}<TEI xmlns="{TEI_NS}"><teiHeader><fileDesc><titleStmt><title>Hostile</title>'
        f"</titleStmt><publicationStmt><p>x</p></publicationStmt><sourceDesc><p>x</p>"
        f"</sourceDesc></fileDesc>{header}</teiHeader><text><body>{body}</body></text></TEI>"
    ).encode()


def _good_text() -> str:
    return "<p>Dean Rusk wrote to Robert McNamara about the islands.</p>"


Maker = Callable[..., bytes | None]


def good(ctx: Context, target: Path) -> bytes:
    return tei(_good_text())


def billion_laughs(ctx: Context, target: Path, levels: int = 10, width: int = 10) -> bytes:
    decls = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        decls.append(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * width}">')
    prolog = f"<!DOCTYPE TEI [{''.join(decls)}]>"
    return tei(f"<p>&lol{levels - 1};</p>", prolog)


def quadratic_blowup(ctx: Context, target: Path, size: int = 100_000, refs: int = 100_000) -> bytes:
    prolog = f'<!DOCTYPE TEI [<!ENTITY a "{"x" * size}">]>'
    return tei(f"<p>{'&a;' * refs}</p>", prolog)


def entity_loop(ctx: Context, target: Path) -> bytes:
    prolog = '<!DOCTYPE TEI [<!ENTITY a "&b;"><!ENTITY b "&a;">]>'
    return tei("<p>&a;</p>", prolog)


def entity_elements(ctx: Context, target: Path, per_entity: int = 50, refs: int = 400) -> bytes:
    """Internal entities that expand to many elements (within the amplification limit)."""
    prolog = f'<!DOCTYPE TEI [<!ENTITY e "{"<lb/>" * per_entity}">]>'
    return tei(f"<p>{'&e;' * refs}</p>", prolog)


def external_entity(
    ctx: Context, target: Path, where: str = "file", attribute: bool = False
) -> bytes:
    url = {
        "file": ctx.secret_txt.as_uri(),
        "http": f"{ctx.http}/entity.txt",
        "relative": os.path.relpath(ctx.secret_txt, target.parent),
        "absolute": str(ctx.secret_txt),
    }[where]
    prolog = f'<!DOCTYPE TEI [<!ENTITY x SYSTEM "{url}">]>'
    if attribute:
        return tei('<p rend="&x;">text</p>', prolog)
    return tei("<p>&x;</p>", prolog)


def external_dtd(ctx: Context, target: Path, where: str = "file", use: bool = True) -> bytes:
    url = {
        "file": ctx.secret_dtd.as_uri(),
        "http": f"{ctx.http}/tei.dtd",
        "relative": os.path.relpath(ctx.secret_dtd, target.parent),
    }[where]
    prolog = f'<!DOCTYPE TEI PUBLIC "-//TEI//DTD TEI P5//EN" "{url}">'
    return tei("<p>&leak;</p>" if use else "<p>no entity used</p>", prolog)


def parameter_entity(ctx: Context, target: Path, where: str = "file") -> bytes:
    if where == "internal":
        decl = f"<!ENTITY % p \"<!ENTITY pleak '{'internal'}'>\"> %p;"
    else:
        url = ctx.secret_dtd.as_uri() if where == "file" else f"{ctx.http}/param.dtd"
        decl = f'<!ENTITY % p SYSTEM "{url}"> %p;'
    return tei("<p>&pleak; &leak;</p>", f"<!DOCTYPE TEI [{decl}]>")


def xinclude(ctx: Context, target: Path, where: str = "file", parse: str = "text") -> bytes:
    url = ctx.secret_txt.as_uri() if where == "file" else f"{ctx.http}/include.xml"
    return tei(
        f'<p>before <xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}" '
        f'parse="{parse}"/> after</p>'
    )


def schema_by_url(ctx: Context, target: Path, kind: str = "xml-model") -> bytes:
    if kind == "xml-model":
        prolog = (
            f'<?xml-model href="{ctx.http}/tei_all.rng" '
            'schematypens="http://relaxng.org/ns/structure/1.0"?>'
            f'<?xml-stylesheet type="text/xsl" href="{ctx.http}/style.xsl"?>'
        )
        return tei(_good_text(), prolog)
    data = tei(_good_text()).decode()
    data = data.replace(
        "<TEI ",
        '<TEI xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{TEI_NS} {ctx.http}/tei_all.xsd" ',
        1,
    )
    return data.encode()


def schema_secret(ctx: Context, target: Path) -> bytes:
    """A document naming a local non-schema file as its schema."""
    prolog = (
        f'<?xml-model href="{ctx.secret_txt}" '
        'schematypens="http://relaxng.org/ns/structure/1.0"?>'
        f'<?xml-model href="{ctx.secret_dtd}" '
        'schematypens="http://purl.oclc.org/dsdl/schematron"?>'
    )
    return tei(_good_text(), prolog)


def pointers_out(ctx: Context, target: Path) -> bytes:
    """Names pointing at files outside the document's folder (and the web)."""
    rel = os.path.relpath(ctx.secret_xml, target.parent)
    body = (
        f'<p><persName ref="{rel}#p1">A</persName> <persName ref="{ctx.secret_xml}#p1">B'
        f'</persName> <persName ref="{ctx.secret_xml.as_uri()}#p1">C</persName> '
        f'<persName ref="{ctx.http}/person#p1">D</persName> '
        f'<ref target="{ctx.http}/page">E</ref> <graphic url="{ctx.http}/img.png"/> '
        f'<pb n="1" facs="{ctx.http}/facs.jpg"/></p>'
    )
    header = (
        '<encodingDesc><tagsDecl><rendition xml:id="r1">background: url('
        f"{ctx.http}/bg.png); font-style: italic</rendition></tagsDecl></encodingDesc>"
    )
    return tei(body, header=header)


def deep(ctx: Context, target: Path, depth: int = 300) -> bytes:
    return tei("<p>" + "<hi>" * depth + "deep" + "</hi>" * depth + "</p>")


def huge_text(ctx: Context, target: Path, size: int = 11_000_000) -> bytes:
    return tei("<p>" + "word " * (size // 5 + 1) + "</p>")


def huge_attribute(ctx: Context, target: Path, size: int = 11_000_000) -> bytes:
    return tei(f'<p rend="{"x" * size}">text</p>')


def many_elements(ctx: Context, target: Path, count: int = 2_100_000) -> bytes:
    return tei("<p>@@@</p>").replace(b"@@@", b"<lb/>" * count)


def too_many_bytes(ctx: Context, target: Path, size: int = 300 * 1024 * 1024) -> None:
    """A sparse file above the default size limit (no disk space used, never read)."""
    with target.open("wb") as handle:
        handle.write(tei(_good_text()))
        handle.truncate(size)


def raw(ctx: Context, target: Path, data: str = "", encoding: str = "utf-8") -> bytes:
    """Bytes given in the manifest (Python escapes allowed), encoded as asked."""
    text = data.encode("latin-1").decode("unicode_escape")
    return text.encode(encoding, "replace") if encoding != "bytes" else text.encode("latin-1")


def random_binary(ctx: Context, target: Path, size: int = 4096) -> bytes:
    return bytes((i * 7919 + 13) % 256 for i in range(size))


def png(ctx: Context, target: Path) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def encoded(
    ctx: Context, target: Path, codec: str = "utf-16", declare: str = "", bom: str = ""
) -> bytes:
    decl = f'<?xml version="1.0" encoding="{declare}"?>' if declare else ""
    text = decl + tei("<p>Caf\u00e9 \u20ac \u2014 M\u00fcller wrote.</p>").decode()
    data = text.encode(codec)
    return bom.encode("latin-1").decode("unicode_escape").encode("latin-1") + data


def lying_declaration(
    ctx: Context, target: Path, declare: str = "UTF-8", codec: str = "latin-1"
) -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{declare}"?>'
        + tei("<p>Caf\u00e9 M\u00fcller \u00e0 la cr\u00e8me.</p>").decode()
    )
    return text.encode(codec)


def truncated(ctx: Context, target: Path, fraction: float = 0.5) -> bytes:
    data = tei(_good_text() * 20)
    return data[: int(len(data) * fraction)]


def truncated_utf8(ctx: Context, target: Path) -> bytes:
    data = tei("<p>na\u00efve</p>")
    return data[: data.index("\u00ef".encode()) + 1]


def nul_inside(ctx: Context, target: Path) -> bytes:
    return tei("<p>before\x00after</p>")


def directory(ctx: Context, target: Path) -> None:
    target.mkdir()
    (target / "inner.txt").write_text("not xml")


def dangling_symlink(ctx: Context, target: Path) -> None:
    target.symlink_to(ctx.folder / "does-not-exist.xml")


def symlink_loop(ctx: Context, target: Path) -> None:
    other = target.with_name(target.stem + "-other.lnk")
    target.symlink_to(other)
    other.symlink_to(target)


def fifo(ctx: Context, target: Path) -> None:
    os.mkfifo(target)


def unreadable(ctx: Context, target: Path) -> bytes:
    """Readable bytes on disk; the tests make reading them fail (they run as root)."""
    return tei(_good_text())


# -- cost: shapes that once made a converter quadratic (or worse) ------------------------


def many_children(ctx: Context, target: Path, kind: str = "del", count: int = 30_000) -> bytes:
    """One paragraph (or list, table...) with very many children of one kind."""
    piece = {
        "del": "a<del>x</del>",
        "comment": "a<!--c-->",
        "pb": 'a<pb n="1"/>',
        "note": "a<note>n</note>",
        "hi": '<hi rend="italic">a</hi> ',
        "name": '<persName ref="#p1">A</persName> ',
    }
    if kind == "item":
        return tei("<list>" + "<label>l</label><item>x</item>" * count + "</list>")
    if kind == "rendition":
        decls = "".join(
            f'<rendition xml:id="r{i}">font-style: italic</rendition>' for i in range(count)
        )
        return tei(
            '<p rendition="#r1">x</p>',
            header=f"<encodingDesc><tagsDecl>{decls}</tagsDecl></encodingDesc>",
        )
    entries = '<listPerson><person xml:id="p1"><persName>A</persName></person></listPerson>'
    return tei("<p>" + piece[kind] * count + "</p>" + (entries if kind == "name" else ""))


def deep_wide(ctx: Context, target: Path, depth: int = 250, count: int = 30_000) -> bytes:
    """Many paragraphs at the bottom of deeply nested divisions."""
    return tei("<div>" * depth + "<p>x</p>" * count + "</div>" * depth)


def nested(ctx: Context, target: Path, tag: str = "item", depth: int = 2000) -> bytes:
    """One element nested in itself ``depth`` times (within a raised max_depth)."""
    return tei("<p>" + f"<{tag}>w " * depth + "x" + f"</{tag}>" * depth + "</p>")


def redos_prefix(ctx: Context, target: Path, count: int = 200) -> bytes:
    """prefixDef patterns that backtrack catastrophically, and pointers that trigger them."""
    header = (
        "<encodingDesc><listPrefixDef>"
        '<prefixDef ident="evil" matchPattern="(a+)+$" replacementPattern="#$1"/>'
        '<prefixDef ident="poly" matchPattern="(.*)(.*)(.*)(.*)x" replacementPattern="#$1"/>'
        '<prefixDef ident="alt" matchPattern="(a|aa)+$" replacementPattern="#$1"/>'
        "</listPrefixDef></encodingDesc>"
    )
    names = "".join(
        f'<persName ref="{p}:{"a" * (40 + i % 50)}!">n</persName> '
        for i in range(count)
        for p in ("evil", "poly", "alt")
    )
    return tei(f"<p>{names}</p>", header=header)


MAKERS: dict[str, Maker] = {
    name: fn
    for name, fn in globals().items()
    if callable(fn)
    and getattr(fn, "__module__", None) == __name__
    and name
    not in {"cases", "make", "make_secrets", "tei", "Context", "Case", "field", "dataclass"}
    and not name.startswith("_")
}
