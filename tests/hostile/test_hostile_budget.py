"""Bounded cost: every hostile case, through the loader and every converter, stays within
a time and memory budget, and a 10,000-deep tree crashes nothing.

Each case runs in a forked child process: its wall time is measured there, and its peak
resident memory comes from ``os.wait4`` (``ru_maxrss`` of that child alone). A child that
does nothing gives the baseline the parent's own memory contributes. With
``TEIKIT_HOSTILE_REPORT=FILE`` the figures are written there as JSON (the README quotes
them); ``TEIKIT_HOSTILE_TRACEMALLOC=1`` adds the Python heap's peak (slower).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import hostile_support
import pytest
from hostile_cases import Case, cases
from hostile_support import Corpus, load_options, unreadable
from lxml import etree
from xss_cases import CASES as XSS_CASES

from teikit.convert import FORMATS, convert_document
from teikit.document import TeiDocument
from teikit.errors import InputError
from teikit.info import describe
from teikit.loading import Document, LoadOptions, load

corpus = hostile_support.corpus
server = hostile_support.server

#: Seconds and megabytes (above the baseline) one case may take, loader plus converters.
#: The cost cases get less: each once took minutes, and now takes seconds at most.
TIME_BUDGET = 60.0
COST_TIME_BUDGET = 30.0
MEMORY_BUDGET_MB = 1536
CASES = [c for c in cases() if c.make != "fifo"]
FIGURES: dict[str, dict[str, Any]] = {}


def _work(case: Case, path: Path) -> dict[str, Any]:
    """Load the case and run every converter on what loads (in the child)."""
    trace = bool(os.environ.get("TEIKIT_HOSTILE_TRACEMALLOC"))
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    guard = unreadable(path) if case.make == "unreadable" else contextlib.nullcontext()
    with guard:
        loaded = load(path, load_options(case))
    formats = 0
    if loaded.document is not None:
        doc = TeiDocument(loaded.document)
        for fmt in FORMATS:
            with contextlib.suppress(InputError):
                convert_document(doc, fmt)
                formats += 1
        describe(loaded.document)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    return {
        "seconds": round(seconds, 3),
        "loaded": loaded.document is not None,
        "codes": sorted({d.code for d in loaded.diagnostics}),
        "formats": formats,
        "python_peak_mb": round(peak / 2**20, 1),
    }


def _in_child(fn: Any) -> tuple[dict[str, Any], float]:
    """Run ``fn()`` in a forked child: (its JSON result, its peak RSS in MB)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read)
            data = json.dumps(fn()).encode()
        except BaseException as exc:
            data = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
            code = 1
        with os.fdopen(write, "wb") as handle:
            handle.write(data)
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        raw = handle.read()
    _, _status, usage = os.wait4(pid, 0)
    return json.loads(raw or b"{}"), usage.ru_maxrss / 1024  # Linux reports kilobytes


@pytest.fixture(scope="module")
def baseline_mb() -> float:
    return _in_child(lambda: {})[1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_within_budget(corpus: Corpus, case: Case, baseline_mb: float) -> None:
    result, peak_mb = _in_child(lambda: _work(case, corpus.path(case)))
    assert "error" not in result, result
    assert result["loaded"] == case.loads, result
    assert set(case.codes) <= set(result["codes"]), result
    extra_mb = max(0.0, peak_mb - baseline_mb)
    FIGURES[case.id] = {**result, "rss_mb": round(extra_mb, 1), "group": case.group}
    budget = COST_TIME_BUDGET if case.id.startswith("cost-") else TIME_BUDGET
    assert result["seconds"] < budget, result
    assert extra_mb < MEMORY_BUDGET_MB, (extra_mb, result)


def test_report_figures(baseline_mb: float) -> None:
    """Runs after the cases: the figures for the README (and a file when asked)."""
    if not FIGURES:
        pytest.skip("no case ran")
    worst_time = max(FIGURES.items(), key=lambda kv: kv[1]["seconds"])
    worst_mem = max(FIGURES.items(), key=lambda kv: kv[1]["rss_mb"])
    summary = {
        "cases": len(FIGURES),
        "manifest_cases": len(cases()),
        "xss_documents": len(XSS_CASES),
        "deep_tree_shapes": len(DEEP_CASES),
        "baseline_rss_mb": round(baseline_mb, 1),
        "worst_seconds": {"case": worst_time[0], "seconds": worst_time[1]["seconds"]},
        "worst_rss_mb": {"case": worst_mem[0], "rss_mb": worst_mem[1]["rss_mb"]},
        "figures": FIGURES,
    }
    target = os.environ.get("TEIKIT_HOSTILE_REPORT")
    if target:
        Path(target).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    print(
        f"\n{len(FIGURES)} hostile cases of {len(cases())} in the manifest (the FIFO is not "
        f"timed), {len(XSS_CASES)} XSS documents, {len(DEEP_CASES)} deep-tree shapes: "
        f"worst time {worst_time[1]['seconds']:.2f} s ({worst_time[0]}), worst memory "
        f"+{worst_mem[1]['rss_mb']:.0f} MB above {baseline_mb:.0f} MB ({worst_mem[0]})",
        file=sys.stderr,
    )


# -- deep trees: no RecursionError anywhere ------------------------------------------------

TEI = "http://www.tei-c.org/ns/1.0"
DEEP_TAGS = [
    "hi", "note", "p", "div", "list", "item", "choice", "persName", "gloss", "ref",
    "quote", "table", "row", "cell", "figure", "lb",
]  # fmt: skip


def _deep_document(tag: str, where: str, depth: int) -> Document:
    """A tree ``depth`` deep, built with lxml (libxml2 parses at most 2048 levels)."""

    def sub(parent: etree._Element, name: str, **attrib: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{TEI}}}{name}")
        for key, value in attrib.items():
            el.set(key, value)
        return el

    root = etree.Element(f"{{{TEI}}}TEI", nsmap={None: TEI})
    header = sub(root, "teiHeader")
    title = sub(sub(sub(header, "fileDesc"), "titleStmt"), "title")
    title.text = "Deep"
    action = sub(sub(sub(header, "profileDesc"), "correspDesc"), "correspAction", type="sent")
    name = sub(action, "persName")
    name.text = "X"
    p = sub(sub(sub(root, "text"), "body"), "p")
    current = {"body": p, "title": title, "persName": name}[where]
    for i in range(depth):
        current = sub(current, tag)
        current.text = f"w{i} "
        current.tail = " t"
    return Document(Path("deep.xml"), "deep.xml", root.getroottree())


#: Tags nested 10,000 deep in the text; every other combination is nested 1,500 deep,
#: which is already past Python's recursion limit (1,000) for any recursive code path,
#: and keeps the test quick where an output grows with the square of the depth (Markdown
#: list indentation, HTML notes that look up their ancestors).
TEN_THOUSAND = {"hi", "p", "div", "list"}
DEEP_CASES = [(tag, "body") for tag in DEEP_TAGS] + [
    (tag, where) for where in ("title", "persName") for tag in ("hi", "note", "choice", "lb")
]


@pytest.mark.parametrize(("tag", "where"), DEEP_CASES, ids=lambda v: str(v))
def test_deep_trees_crash_nothing(tag: str, where: str) -> None:
    """Every converter, info and the document model on a very deep tree: no RecursionError."""
    depth = 10_000 if where == "body" and tag in TEN_THOUSAND else 1_500
    assert depth > sys.getrecursionlimit()
    doc = _deep_document(tag, where, depth)
    limit = sys.getrecursionlimit()
    for fmt in FORMATS:
        try:
            out = convert_document(TeiDocument(doc), fmt)
        except InputError:
            assert fmt == "cmif"
            continue
        assert isinstance(out, str) and out
    describe(doc)
    tei_doc = TeiDocument(doc)
    assert tei_doc.title
    assert tei_doc.entries == {} or tei_doc.entries
    assert sys.getrecursionlimit() == limit


def test_parsed_depth_limit_is_libxml2s_ceiling(tmp_path: Path) -> None:
    """max_depth can go up to 2048 (libxml2's hard ceiling) and not beyond."""
    path = tmp_path / "deep.xml"
    for depth, options, loads in (
        (2040, LoadOptions(max_depth=2048), True),
        (2040, LoadOptions(huge_tree=True), True),
        (2100, LoadOptions(max_depth=100_000), False),
    ):
        path.write_bytes(b"<a>" * depth + b"x" + b"</a>" * depth)
        result = load(path, options)
        assert (result.document is not None) is loads, result.diagnostics
        if not loads:
            assert result.diagnostics[0].code == "xml.too-deep"
            assert "2048" in result.diagnostics[0].message
