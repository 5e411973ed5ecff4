"""stream_text writes exactly what to_text returns, in memory that does not grow with the file.

Compared on every file of the shared corpus, the project's letter and the fixtures, with
each notes mode, the header, pages, the diplomatic reading and render rules; on hand-made
cases for what streaming makes hard (a ``choice`` whose chosen side comes last, tails
after skipped elements and comments, a root without ``text``, a ``text`` after other
content); and on generated files of 20 MB (always) and 300 MB (``TEIKIT_SLOW=1``), each
streamed in a process of its own whose peak memory is measured.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from teikit import InputError, TeiDocument, TextOptions
from teikit.convert import to_text
from teikit.convert.rules import RenderRules
from teikit.loading import LoadOptions, load, parse_bytes
from teikit.stream import stream_text
from teikit.xmlutil import TEI_NS

from conftest import FIXTURES, LETTER, shared_path, streamed

RULES = RenderRules.from_mapping(
    {
        "note[@type='source']": {"display": "omit"},
        "hi[@rend='italic']": {"before": "_", "after": "_"},
        "persName": {"display": "block"},
    }
)
VARIANTS = {
    "default": TextOptions(),
    "inline-notes": TextOptions(notes="inline"),
    "no-notes": TextOptions(notes="omit", width=0),
    "header-pages": TextOptions(header=True, pages=True),
    "diplomatic": TextOptions(diplomatic=True, width=40),
    "rules": TextOptions(rules=RULES, notes="inline", header=True),
}
UNLIMITED = LoadOptions(max_elements=10**9)


def _files() -> list[Path]:
    found = [LETTER, *sorted(FIXTURES.rglob("*.xml"))]
    with contextlib.suppress(pytest.skip.Exception):
        found += sorted(shared_path("corpus").rglob("*.xml"))
    return found


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_streaming_equals_to_text_on_every_real_file(variant: str) -> None:
    options = VARIANTS[variant]
    compared, differ = 0, []
    for path in _files():
        loaded = load(path, UNLIMITED)
        if loaded.document is None:
            continue
        want = to_text(TeiDocument(loaded.document), options)
        compared += 1
        if streamed(path, options) != want:
            differ.append(str(path))
    assert compared > 20
    assert differ == []


def _both(tmp_path: Path, xml: str, options: TextOptions) -> tuple[str, str]:
    path = tmp_path / "case.xml"
    path.write_text(xml, encoding="utf-8")
    loaded = parse_bytes(xml.encode(), path)
    assert loaded.document is not None
    return streamed(path, options), to_text(TeiDocument(loaded.document), options)


CASES = {
    "choice-chosen-last": """<TEI xmlns="{ns}"><text><body><p>An
        <choice><abbr>abbr.</abbr><expan>abbreviation</expan></choice> and
        <choice><sic>teh</sic><corr>the</corr></choice> end.</p></body></text></TEI>""",
    "tails-after-skips": """<TEI xmlns="{ns}"><teiHeader><fileDesc><titleStmt><title>T</title>
        </titleStmt></fileDesc></teiHeader><text><body><p>one<del>gone</del>two
        <!-- c -->three<?pi x?>four<note n="a">a <note>nested</note> note</note>five
        <pb n="3"/>six<lb break="no"/>seven</p><list><item>i</item><item>j</item></list>
        </body></text></TEI>""",
    "corpus-without-text": """<teiCorpus xmlns="{ns}"><teiHeader><fileDesc><titleStmt>
        <title>Corpus</title></titleStmt></fileDesc></teiHeader>
        <TEI><teiHeader/><text><body><p>first <note>n1</note></p></body></text></TEI>
        <TEI><teiHeader/><text><body><p>second</p></body></text></TEI></teiCorpus>""",
    "text-after-other-content": """<TEI xmlns="{ns}"><teiHeader/><fsdDecl>loose words
        </fsdDecl><text><front><head>H</head></front><body><p>body</p></body></text>
        <standOff><p>not read</p></standOff></TEI>""",
    "no-text-child": """<div xmlns="{ns}"><head>Head</head><p>para <hi>graph</hi></p>
        <note>x</note>tail</div>""",
    "header-after-text": """<TEI xmlns="{ns}"><text><body><p>text first</p></body></text>
        <teiHeader><fileDesc><titleStmt><title>Late</title></titleStmt></fileDesc>
        </teiHeader></TEI>""",
    "text-entities": """<!DOCTYPE TEI [<!ENTITY us "the United States">]>
        <TEI xmlns="{ns}"><text><body><p>Said &us; and &us;.</p></body></text></TEI>""",
    "markup-entities": """<!DOCTYPE TEI [<!ENTITY who "the <hi>Secretary</hi> x">]>
        <TEI xmlns="{ns}"><text><body><p>Said &who; today, &who; again.</p></body>
        </text></TEI>""",
    "empty": """<TEI xmlns="{ns}"/>""",
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", ["default", "inline-notes", "header-pages", "diplomatic"])
def test_streaming_equals_to_text_on_hard_cases(tmp_path: Path, case: str, variant: str) -> None:
    got, want = _both(tmp_path, CASES[case].format(ns=TEI_NS), VARIANTS[variant])
    assert got == want


def test_a_broken_file_is_an_input_error_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text(f'<TEI xmlns="{TEI_NS}"><text><body><p>fine</p>\n<p>broken</body></TEI>')
    with pytest.raises(InputError, match=r"broken\.xml:2:\d+: not well-formed"):
        stream_text(path, io.StringIO())


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<!DOCTYPE TEI [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        f'<TEI xmlns="{TEI_NS}"><text><body><p>a &x; b</p></body></text></TEI>'
    )
    out = io.StringIO()
    with pytest.raises(InputError, match="'x'"):  # as load() refuses it
        stream_text(path, out)
    assert "SECRET" not in out.getvalue()


# -- large generated files, each streamed in a process of its own ------------------------

GENERATE = """
import sys
from pathlib import Path
letter = Path(sys.argv[1]).read_text("utf-8")
head, rest = letter.split("<body>", 1)
body, tail = rest.rsplit("</body>", 1)
target = int(sys.argv[3])
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(head + "<body>")
    written, i = len(head), 0
    while written < target:
        chunk = body.replace('xml:id="', f'xml:id="c{i}-')
        out.write(chunk)
        written += len(chunk)
        i += 1
    out.write("</body>" + tail)
"""

RUN = """
import hashlib, json, resource, sys, time
from pathlib import Path
from teikit.convert.text import TextOptions
path, how = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
if how == "stream":
    from teikit.stream import stream_text
    class Digest:
        def __init__(self): self.h = hashlib.sha256()
        def write(self, s): self.h.update(s.encode()); return len(s)
    out = Digest()
    stream_text(path, out, TextOptions())
    digest = out.h.hexdigest()
else:
    from teikit.convert.text import to_text
    from teikit.document import TeiDocument
    from teikit.loading import LoadOptions, load
    loaded = load(path, LoadOptions(max_bytes=2**31, max_elements=2**40, huge_tree=True))
    digest = hashlib.sha256(to_text(TeiDocument(loaded.document)).encode()).hexdigest()
# The high-water mark of this process's own memory (ru_maxrss would count the memory of
# the process that started it, which Linux carries across exec).
try:
    status = Path("/proc/self/status").read_text()
    rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
except (OSError, IndexError):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"digest": digest, "peak_mb": rss, "seconds": time.perf_counter() - started}))
"""


def _generate(tmp_path: Path, megabytes: int) -> Path:
    path = tmp_path / f"big{megabytes}.xml"
    source = shared_path("corpus", "frus", "frus1964-68v29p2.xml")
    subprocess.run(
        [sys.executable, "-c", GENERATE, str(source), str(path), str(megabytes * 10**6)],
        check=True,
    )
    return path


def _run(path: Path, how: str) -> dict[str, float | str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUN), str(path), how],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_20_mb_file_streams_in_memory_independent_of_its_size(tmp_path: Path) -> None:
    path = _generate(tmp_path, 20)
    stream, tree = _run(path, "stream"), _run(path, "tree")
    assert stream["digest"] == tree["digest"]
    # An interpreter with lxml and teikit takes about 45 MB; the tree alone takes more
    # than the file's size.
    assert float(stream["peak_mb"]) < 80, stream
    assert float(tree["peak_mb"]) > float(stream["peak_mb"]) + 20, (stream, tree)


@pytest.mark.skipif(not os.environ.get("TEIKIT_SLOW"), reason="set TEIKIT_SLOW=1 (about 60 s)")
def test_a_300_mb_file_streams_in_the_memory_of_a_small_one(tmp_path: Path) -> None:
    path = _generate(tmp_path, 300)
    try:
        stream = _run(path, "stream")
        tree = _run(path, "tree")
    finally:
        path.unlink()
    print(f"\nstream: {stream}\ntree:   {tree}")
    assert stream["digest"] == tree["digest"]
    assert float(stream["peak_mb"]) < 80, stream
