"""Time and peak memory against corpus size: validation and conversion, local and on Dask.

Run from the repository root with the project's interpreter (``pip install -e '.[dask,bench]'``)::

    .venv/bin/python benchmarks/scale.py                  # 100 MB and 1 GB
    .venv/bin/python benchmarks/scale.py --quick          # 20 MB and 100 MB
    .venv/bin/python benchmarks/scale.py --sizes 50,200 --tasks parse,text-html

A synthetic corpus of each size is made under a temporary folder by replicating the TEI
files of ``../shared/corpus`` (hard links where the file system allows, so the copies cost
no disk), and deleted afterwards. On each corpus, every task runs in a fresh process:

* ``parse``: a bare lxml parse of every file (the parser teikit uses), the floor;
* ``validate``: ``teikit.validate`` against ``tei_all.rng``;
* ``text-html``: ``teikit.batch.run_batch`` writing text and HTML for every file;
* ``stream``: :func:`teikit.stream.stream_text` of every file (one process only);

each with ``--jobs 1``, ``--jobs 2`` and, for validate and text-html, a two-worker local
Dask cluster (``LocalCluster(n_workers=2, threads_per_worker=1)``; ``--no-dask`` to leave
it out). The clock covers the call only (not the interpreter, the imports or the cluster's
start); peak memory is the largest sum of the resident sizes of the process and all its
descendants (workers, Dask's scheduler and nannies), sampled every 50 ms.

It prints a Markdown table (time, throughput, peak memory, time relative to the fastest
parse of the same corpus) and draws the curves to ``docs/scale.png``
(``--plot PATH``; needs matplotlib).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SCHEMA = SHARED / "schemas" / "tei_all" / "tei_all.rng"
TEI = "http://www.tei-c.org/ns/1.0"
TASKS = ("parse", "validate", "text-html", "stream")
MB = 1e6


# -- the corpus -------------------------------------------------------------------------


def tei_files() -> list[Path]:
    """Files of the shared corpus whose root element is in the TEI namespace."""
    from lxml import etree

    found = []
    for path in sorted(CORPUS.rglob("*.xml")):
        for _, elem in etree.iterparse(str(path), events=("start",), resolve_entities=False):
            if etree.QName(elem).namespace == TEI:
                found.append(path)
            break
    return found


def build_corpus(target: Path, size_mb: float) -> tuple[int, int]:
    """Copies of the TEI files under ``target`` until ``size_mb`` MB; (files, bytes)."""
    sources = tei_files()
    want = int(size_mb * MB)
    total = count = 0
    copy = 0
    while total < want:
        for src in sources:
            if total >= want:
                break
            dest = target / f"copy{copy:04}" / src.relative_to(CORPUS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest)
            except OSError:
                shutil.copyfile(src, dest)
            total += src.stat().st_size
            count += 1
        copy += 1
    return count, total


# -- one measurement, in a child process -------------------------------------------------


def parse_one(path: str) -> int:
    from lxml import etree

    from teikit.loading import make_parser

    tree = etree.parse(path, make_parser())
    return len(tree.getroot())


def child(task: str, corpus: Path, mode: str, out: Path) -> dict[str, float]:
    """Run one task on the corpus; give back the seconds the call took."""
    from teikit.batch import BatchOptions, run_batch
    from teikit.convert import ConvertOptions
    from teikit.convert.text import TextOptions
    from teikit.discovery import discover_files
    from teikit.parallel import DaskExecutor
    from teikit.runner import ValidateOptions, validate
    from teikit.stream import stream_text

    files = list(discover_files([corpus]).files)
    jobs = 2 if mode == "jobs 2" else 1
    cluster = client = None
    executor = None
    if mode == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        executor = DaskExecutor(client=client)
    started = time.perf_counter()
    failed = 0
    if task == "parse":
        if jobs == 1:
            for f in files:
                parse_one(str(f))
        else:
            import multiprocessing

            with multiprocessing.get_context("forkserver").Pool(jobs) as pool:
                for _ in pool.imap_unordered(parse_one, map(str, files), chunksize=8):
                    pass
    elif task == "validate":
        run = validate(files, ValidateOptions(schemas=(SCHEMA,), jobs=jobs, executor=executor))
        failed = run.summary.failed_files
    elif task == "text-html":
        result = run_batch(
            [corpus],
            out,
            BatchOptions(
                formats=("text", "html"),
                convert=ConvertOptions(),
                jobs=jobs,
                index=False,
                executor=executor,
            ),
        )
        failed = result.run.summary.failed_files
    elif task == "stream":
        options = TextOptions()
        with Path(os.devnull).open("w", encoding="utf-8") as sink:
            for f in files:
                stream_text(f, sink, options)
    seconds = time.perf_counter() - started
    if client is not None and cluster is not None:
        client.close()
        cluster.close()
    return {"seconds": seconds, "files": len(files), "failed": failed}


def measure(task: str, corpus: Path, mode: str) -> tuple[dict[str, float], float]:
    """Run ``child`` in a fresh process, sampling the memory of its process tree."""
    import psutil

    with tempfile.TemporaryDirectory(prefix="teikit-scale-out-") as out:
        command = [sys.executable, str(Path(__file__)), "--child", task, str(corpus), mode, out]
        # Bytecode may be kept, as in an install (else every worker compiles teikit anew).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        peak = 0
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                procs = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.NoSuchProcess):
                    rss += p.memory_info().rss
            peak = max(peak, rss)
            time.sleep(0.05)
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{task} ({mode}) failed with exit code {proc.returncode}")
    return json.loads(stdout.strip().splitlines()[-1]), peak / MB


# -- the report ---------------------------------------------------------------------------


@dataclass
class Row:
    size_mb: float
    files: int
    task: str
    mode: str
    seconds: float
    peak_mb: float

    @property
    def rate(self) -> float:
        return self.size_mb / self.seconds if self.seconds else 0.0


def table(rows: list[Row]) -> str:
    floors: dict[float, float] = {}
    for r in rows:
        if r.task == "parse":
            floors[r.size_mb] = min(r.seconds, floors.get(r.size_mb, r.seconds))
    lines = [
        "| corpus | files | task | run | seconds | MB/s | peak MB | × parse |",
        "|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        floor = floors.get(r.size_mb)
        ratio = f"{r.seconds / floor:.1f}" if floor else ""
        lines.append(
            f"| {r.size_mb:,.0f} MB | {r.files:,} | {r.task} | {r.mode} | {r.seconds:,.1f} "
            f"| {r.rate:.1f} | {r.peak_mb:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    series = sorted({(r.task, r.mode) for r in rows}, key=lambda s: (TASKS.index(s[0]), s[1]))
    styles = {"jobs 1": "-", "jobs 2": "--", "dask": ":"}
    markers = {"parse": "o", "validate": "s", "text-html": "^", "stream": "D"}
    for task, mode in series:
        points = sorted(
            (r.size_mb, r.seconds, r.peak_mb) for r in rows if (r.task, r.mode) == (task, mode)
        )
        xs = [p[0] for p in points]
        style, marker = styles.get(mode, "-"), markers.get(task, ".")
        label = f"{task} ({mode})"
        left.plot(xs, [p[1] for p in points], label=label, linestyle=style, marker=marker)
        right.plot(xs, [p[2] for p in points], label=label, linestyle=style, marker=marker)
    for ax, what in ((left, "seconds"), (right, "peak memory, MB (all processes)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("corpus size, MB of TEI")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    left.set_title("Time against corpus size")
    right.set_title("Peak memory against corpus size")
    left.legend(fontsize=8)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        task, folder, mode, out = sys.argv[2:6]
        print(json.dumps(child(task, Path(folder), mode, Path(out))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="corpus sizes in MB (default 100,1000)")
    parser.add_argument("--quick", action="store_true", help="sizes 20,100")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"among {','.join(TASKS)}")
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask runs")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "scale.png")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--from-json", type=Path, help="only print and plot these rows")
    args = parser.parse_args()
    if args.from_json:
        saved = [Row(**r) for r in json.loads(args.from_json.read_text())]
        print(table(saved))
        if args.plot:
            plot(saved, args.plot)
        return
    if not CORPUS.is_dir() or not SCHEMA.is_file():
        raise SystemExit(f"needs the shared corpus and schemas under {SHARED}")
    sizes = [20.0, 100.0] if args.quick else [float(s) for s in args.sizes.split(",")]
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise SystemExit(f"unknown task(s): {', '.join(sorted(unknown))}")
    try:
        import distributed  # noqa: F401

        dask = not args.no_dask
    except ImportError:
        dask = False
    rows: list[Row] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="teikit-scale-") as tmp:
            corpus = Path(tmp, "corpus")
            files, total = build_corpus(corpus, size)
            size_mb = total / MB
            print(f"corpus: {files:,} files, {size_mb:,.0f} MB", file=sys.stderr)
            for task in tasks:
                modes = ["jobs 1"] if task == "stream" else ["jobs 1", "jobs 2"]
                if dask and task in ("validate", "text-html"):
                    modes.append("dask")
                for mode in modes:
                    data, peak = measure(task, corpus, mode)
                    row = Row(size_mb, files, task, mode, data["seconds"], peak)
                    rows.append(row)
                    print(
                        f"  {task:9} {mode:6} {row.seconds:8.1f} s {row.rate:6.1f} MB/s "
                        f"{peak:8,.0f} MB",
                        file=sys.stderr,
                    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    if args.plot:
        plot(rows, args.plot)
        print(f"\nplot: {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
