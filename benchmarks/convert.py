"""Conversion of the shared TEI corpus to text and HTML: teikit against its floor and peers.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/convert.py [--repeat N]

Rows (every TEI file of ``../shared/corpus``, root element in the TEI namespace):

* bare lxml parse of the same files: the floor no converter can beat;
* teikit text, teikit HTML, and both, in one process (import not timed; each file
  parsed once, then converted); and both in two forked processes, each given half the
  corpus by size: the conversion work alone on two cores, without the command line's
  start-up, writing and worker pool;
* ``teikit convert CORPUS --to text --to html -o NEW --jobs 1`` and ``--jobs 2``: the
  command line with its start-up, worker processes, atomic writes and the index page,
  each run into a new folder (the target's row: ``--jobs 2``); and with ``--jobs 2``, a
  run just after the last run's outputs were removed (what ext4 adds then: see
  :class:`Scratch`), and a run into the folder of an earlier one (every output unchanged:
  read and compared, not written);
* the TEI Consortium Stylesheets (XSLT 2 on Saxon), figures measured by the issue's author
  on this corpus and machine (39 s for HTML, 2.8 s for text): they are not run here;
* two floors for what any converter costs: the bare event walk every teikit converter
  runs (Python sees each element and text once, and does nothing with it), and a toy
  XSLT 1.0 stylesheet on libxslt (C) that maps every element to a ``span`` and folds
  whitespace, with none of the notes, index, links or HTML content-model repair;
* the floor of a command written in Python: start-up with lxml imported, two forked
  workers, and per file the parse, one walk that joins the words for the text and one
  that wraps every element in an escaped ``span`` for the HTML, both written through a
  temporary file and a rename. No notes, wrapping, index, links or repair: what is left
  of the 1 s target once it is paid is what every feature together may cost;
* how well this machine runs two processes at once: a pure-Python loop alone and two
  copies side by side (1.0 would be perfect scaling).

Each row gives the fastest and the median of ``--repeat`` runs (this machine varies by
15% from run to run, more when its host is busy); peak memory is the process's max RSS.
Commands run with their bytecode kept, as in an install (``PYTHONDONTWRITEBYTECODE``
is dropped from their environment), as ``validate.py`` and ``scale.py`` run theirs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
TEI = "{http://www.tei-c.org/ns/1.0}"

TOY = """<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:t="http://www.tei-c.org/ns/1.0" exclude-result-prefixes="t">
  <xsl:output method="html"/>
  <xsl:template match="/"><div><xsl:apply-templates select="//t:text"/></div></xsl:template>
  <xsl:template match="t:p"><p><xsl:apply-templates/></p></xsl:template>
  <xsl:template match="t:list"><ul><xsl:apply-templates/></ul></xsl:template>
  <xsl:template match="t:item"><li><xsl:apply-templates/></li></xsl:template>
  <xsl:template match="t:div"><section class="{@type}"><xsl:apply-templates/></section>
  </xsl:template>
  <xsl:template match="*"><span class="{local-name()}"><xsl:apply-templates/></span>
  </xsl:template>
  <xsl:template match="text()"><xsl:value-of select="normalize-space(.)"/></xsl:template>
</xsl:stylesheet>"""

SPIN = (
    "import time; t = time.perf_counter(); sum(range(30_000_000)); print(time.perf_counter() - t)"
)

IN_PROCESS = r"""
import json, resource, sys, time
from pathlib import Path
from lxml import etree
from teikit.loading import load, make_parser
from teikit.document import TeiDocument
from teikit.convert import to_text, to_html
files = [Path(p) for p in json.loads(sys.argv[1])]
what = sys.argv[2]
TOY = sys.argv[3]
start = time.perf_counter()
if what == "parse":
    parser = make_parser()
    for f in files:
        etree.parse(str(f), parser)
elif what == "walk":
    from teikit.convert.walk import walk
    from teikit.convert.text import body_of
    for f in files:
        for _ in walk(body_of(TeiDocument(load(f).document))):
            pass
elif what == "xslt":
    toy = etree.XSLT(etree.XML(TOY))
    for f in files:
        str(toy(load(f).document.tree))
elif what == "both2":
    import multiprocessing, os
    halves = [[], []]
    for f in sorted(files, key=lambda f: -os.path.getsize(f)):  # largest first, to the lighter
        min(halves, key=lambda h: sum(os.path.getsize(g) for g in h)).append(f)
    def convert(half):
        for f in half:
            doc = TeiDocument(load(f).document)
            to_text(doc)
            to_html(doc)
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=convert, args=(half,)) for half in halves]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
else:
    for f in files:
        doc = TeiDocument(load(f).document)
        if what in ("text", "both"):
            to_text(doc)
        if what in ("html", "both"):
            to_html(doc)
seconds = time.perf_counter() - start
who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)  # the forked halves are children
peak = max(resource.getrusage(w).ru_maxrss for w in who)
print(json.dumps({"seconds": seconds, "rss_mb": peak / 1024}))
"""


#: The floor of a Python command (see the module doc): run as ``python -c``, so that its
#: start-up is timed as the command line's is.
FLOOR_COMMAND = r"""
import json, multiprocessing, os, sys
from concurrent.futures import ProcessPoolExecutor
from lxml import etree

TEXT = "{http://www.tei-c.org/ns/1.0}text"
EVENTS = ("start", "end", "comment", "pi")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one(job):
    source, out = job
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(source, parser).getroot()
    body = root.find(TEXT)
    body = root if body is None else body
    words = []
    for action, node in etree.iterwalk(body, events=EVENTS):
        if action == "start":
            if node.text:
                words.append(node.text)
        elif node.tail and node is not body:
            words.append(node.tail)
    write(out + ".txt", " ".join("".join(words).split()))
    html = ["<!DOCTYPE html><html><body>"]
    for action, node in etree.iterwalk(body, events=EVENTS):
        if action == "start":
            html.append('<span class="' + etree.QName(node).localname + '">')
            if node.text:
                html.append(escape(node.text))
            continue
        if action == "end":
            html.append("</span>")
        if node.tail and node is not body:
            html.append(escape(node.tail))
    html.append("</body></html>")
    write(out + ".html", "".join(html))


files = sorted(json.loads(sys.argv[1]), key=lambda f: -os.path.getsize(f))
jobs = [(f, os.path.join(sys.argv[2], str(i))) for i, f in enumerate(files)]
with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
    list(pool.map(one, jobs))
"""


def tei_files() -> list[Path]:
    from lxml import etree

    found = []
    for path in sorted(CORPUS.rglob("*.xml")):
        try:
            for _, el in etree.iterparse(str(path), events=("start",)):
                if str(el.tag).startswith(TEI):
                    found.append(path)
                break
        except etree.XMLSyntaxError:
            continue
    return found


def in_process(files: list[Path], what: str) -> tuple[float, float]:
    import json

    out = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, json.dumps([str(f) for f in files]), what, TOY],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    return float(data["seconds"]), float(data["rss_mb"])


#: The commands' environment: Python may keep its bytecode (see the module doc).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class Scratch:
    """The folders the commands write to: a new one per run, all removed at the end.

    Not one removed before the next run: on ext4 a new file made within a minute or so of
    many others being removed costs a search past each of them (``recently_deleted`` in
    the kernel's inode allocator), so removing each run's 391 outputs before the next run
    would time the file system's bookkeeping of the benchmark's own clean-up. That cost is
    a row of its own (:func:`after_removal`).
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="teikit-bench-"))
        self.made = 0

    def fresh(self) -> Path:
        self.made += 1
        return self.root / str(self.made)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak MB of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=ENV)  # a failed run is no figure
    seconds = time.perf_counter() - start
    return seconds, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def cli(jobs: int, out: Path) -> tuple[float, float]:
    teikit = Path(sys.executable).with_name("teikit")
    formats = ["--to", "text", "--to", "html"]
    return timed(
        [str(teikit), "convert", str(CORPUS), *formats, "-o", str(out), "--jobs", str(jobs)]
    )


def after_removal(scratch: Scratch) -> tuple[float, float]:
    """A run into a new folder just after the last run's outputs were removed (untimed)."""
    last = scratch.fresh()
    cli(2, last)
    shutil.rmtree(last)
    return cli(2, scratch.fresh())


def floor_command(files: list[Path], out: Path) -> tuple[float, float]:
    import json

    out.mkdir()
    paths = json.dumps([str(f) for f in files])
    return timed([sys.executable, "-c", FLOOR_COMMAND, paths, str(out)])


def two_at_once() -> float:
    """One CPU-bound process's time over its time when two run side by side (ideal 1.0)."""
    alone = float(
        subprocess.run(
            [sys.executable, "-c", SPIN], capture_output=True, text=True, check=True
        ).stdout
    )
    pair = [
        subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    together = max(float(p.communicate()[0]) for p in pair)
    return alone / together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is missing: the benchmark needs ../shared/corpus")
    files = tei_files()
    #: label, every run's wall seconds, peak MB, note
    rows: list[tuple[str, list[float], float, str]] = []

    def runs(run: Callable[..., tuple[float, float]], *a: object) -> tuple[list[float], float]:
        """Wall seconds of each of ``--repeat`` runs, and the peak memory among them."""
        measured = [run(*a) for _ in range(args.repeat)]
        return [seconds for seconds, _ in measured], max(rss for _, rss in measured)

    scratch = Scratch()
    try:
        target = _rows(files, rows, runs, scratch)
    finally:
        scratch.remove()
    _table(files, rows, target, args.repeat)


def _rows(
    files: list[Path],
    rows: list[tuple[str, list[float], float, str]],
    runs: Callable[..., tuple[list[float], float]],
    scratch: Scratch,
) -> tuple[str, list[float], float, str]:
    """Every row, in the table's order (the commands write into ``scratch``); returns the
    row the target is about: ``--jobs 2`` into a new folder."""

    floors, rss = runs(in_process, files, "parse")
    rows.append(("bare lxml parse (the floor)", floors, rss, "hardened parser, no conversion"))
    for what, label, note in (
        ("walk", "floor of a Python converter: the event walk alone", "no output made"),
        ("xslt", "floor of compiled code: a toy stylesheet on libxslt", "no notes, links, repair"),
    ):
        times, rss = runs(in_process, files, what)
        rows.append((label, times, rss, note))
    times, rss = runs(lambda: floor_command(files, scratch.fresh()))
    rows.append(
        (
            "floor of a Python command: two workers, one walk per output",
            times,
            rss,
            "start-up and writing included; no features",
        )
    )
    for what, label in (
        ("text", "teikit text"),
        ("html", "teikit HTML"),
        ("both", "teikit text + HTML"),
    ):
        times, rss = runs(in_process, files, what)
        rows.append((label, times, rss, "one process; import not timed"))
    times, rss = runs(in_process, files, "both2")
    rows.append(
        (
            "teikit text + HTML, two forked processes",
            times,
            rss,
            "library calls, halves by size; no start-up, writing or pool",
        )
    )
    command = "teikit convert --to text --to html --jobs"
    for jobs in (1, 2):
        times, rss = runs(lambda jobs=jobs: cli(jobs, scratch.fresh()))
        rows.append((f"{command} {jobs}", times, rss, "into a new folder; start-up and writing"))
    target = rows[-1]
    times, rss = runs(after_removal, scratch)
    label = f"{command} 2, just after the last run's outputs were removed"
    rows.append((label, times, rss, "ext4's cost"))
    again = scratch.fresh()
    cli(2, again)
    times, rss = runs(cli, 2, again)
    rows.append((f"{command} 2, into the same folder again", times, rss, "outputs unchanged"))
    return target


def _table(
    files: list[Path],
    rows: list[tuple[str, list[float], float, str]],
    target: tuple[str, list[float], float, str],
    repeat: int,
) -> None:
    floor = min(rows[0][1])
    size = sum(f.stat().st_size for f in files) / 1e6
    cores = os.cpu_count()
    print(f"{len(files)} TEI files, {size:.1f} MB, {cores} cores; {repeat} runs each\n")
    print("| run | best s | median s | × floor (best) | peak MB | note |")
    print("|---|---|---|---|---|---|")
    for label, times, rss, note in rows:
        best, median = min(times), statistics.median(times)
        print(f"| {label} | {best:.2f} | {median:.2f} | {best / floor:.1f} | {rss:.0f} | {note} |")
    for label, seconds in (("HTML (XSLT 2, Saxon)", "39"), ("text", "2.8")):
        print(f"| TEI Stylesheets, {label} | {seconds} | – | – | – | the issue's figure, not run |")
    two = target[1]
    under = sum(1 for seconds in two if seconds < 1.0)
    print(
        f"\nThe target, text and HTML in under 1 s on 2 cores ({target[0]}, into a new "
        f"folder): {under} of {len(two)} runs."
    )
    scaling = max(two_at_once() for _ in range(repeat))
    print(f"\nTwo processes at once each run at {scaling:.2f} of the speed of one alone here.")


if __name__ == "__main__":
    main()
