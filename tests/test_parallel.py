"""Worker processes: same results as one process, in input order, and no hang on a crash.

The functions given to workers live at module level here, so that workers (started by
``forkserver``/``spawn``, never ``fork``) can import them by name.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from teikit import (
    Diagnostic,
    FileResult,
    SchemaError,
    Severity,
    UsageError,
    ValidateOptions,
    validate,
)
from teikit.parallel import (
    choose_context,
    default_context,
    fork_is_safe,
    map_files,
    resolve_jobs,
)

from conftest import FIXTURES, LETTER, ROOT

PROJECT = tuple(ROOT / "schemas" / f"teikit-letter.{s}" for s in ("rng", "xsd", "sch"))


def shout(path: Path) -> str:
    return f"{path.name.upper()}@{os.getpid()}"


def shout_or_die(path: Path) -> str:
    if path.name.startswith("boom"):
        os._exit(7)  # what a segfault or the OOM killer looks like from outside
    return shout(path)


def crashed(path: Path, reason: str) -> str:
    return f"CRASHED {path.name}"


def refuse() -> None:
    raise SchemaError("no schema for you")


def _files(tmp_path: Path, names: list[str], sizes: list[int] | None = None) -> list[Path]:
    out = []
    for i, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"x" * (sizes[i] if sizes else 1))
        out.append(p)
    return out


def test_results_come_back_in_input_order_from_several_workers(tmp_path: Path) -> None:
    names = [f"f{i:02}.xml" for i in range(12)]
    files = _files(tmp_path, names, sizes=[i * 1000 for i in range(12)])
    got = map_files(shout, files, 2, crashed=crashed)
    assert [g.split("@")[0] for g in got] == [n.upper() for n in names]
    assert os.getpid() not in {int(g.split("@")[1]) for g in got}


def started_at(path: Path) -> float:
    time.sleep(0.05)
    return time.monotonic()


def test_the_largest_files_are_started_first(tmp_path: Path) -> None:
    names = [f"f{i:02}.xml" for i in range(10)]
    files = _files(tmp_path, names, sizes=[10 + i for i in range(9)] + [100_000])
    got = map_files(started_at, files, 2, crashed=lambda p, r: 0.0)
    assert got[-1] < min(got[:5])


def test_one_job_runs_in_this_process_and_needs_nothing_picklable(tmp_path: Path) -> None:
    files = _files(tmp_path, ["a.xml", "b.xml"])
    warmed: list[bool] = []
    got = map_files(lambda p: p.name, files, 1, crashed=crashed, warm=lambda: warmed.append(True))
    assert got == ["a.xml", "b.xml"] and warmed == [True]


@pytest.mark.parametrize("method", ["default", "fork"])
def test_a_crashing_worker_costs_only_its_own_file(tmp_path: Path, method: str) -> None:
    if method != "default" and method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    context = multiprocessing.get_context(method) if method != "default" else None
    names = [f"f{i:02}.xml" for i in range(10)]
    names[3], names[8] = "boom3.xml", "boom8.xml"
    files = _files(tmp_path, names)
    started = time.perf_counter()
    got = map_files(shout_or_die, files, 2, crashed=crashed, context=context)
    assert time.perf_counter() - started < 60
    assert [g.split("@")[0] for g in got] == [
        f"CRASHED {n}" if n.startswith("boom") else n.upper() for n in names
    ]


def test_an_error_while_warming_a_worker_is_raised(tmp_path: Path) -> None:
    files = _files(tmp_path, ["a.xml", "b.xml", "c.xml"])
    with pytest.raises(SchemaError, match="no schema for you"):
        map_files(shout, files, 2, crashed=crashed, warm=refuse)


def test_jobs_zero_means_every_core_and_negative_is_refused() -> None:
    assert resolve_jobs(0) >= 1 and resolve_jobs(3) == 3
    with pytest.raises(UsageError):
        resolve_jobs(-1)


def test_workers_are_forked_only_when_that_is_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_context().get_start_method() in {"forkserver", "spawn"}
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not fork_is_safe()  # another thread: a forked child could deadlock
    finally:
        release.set()
        thread.join()
    monkeypatch.setitem(sys.modules, "saxonche", sys)
    assert not fork_is_safe()
    shared: list[bool] = []
    assert choose_context(lambda: shared.append(True)).get_start_method() != "fork"
    assert shared == []


CHOOSE = """
import sys
if sys.argv[1] == "saxon":
    import saxonche
from teikit.parallel import choose_context
shared = []
share = None if sys.argv[2] == "none" else lambda: shared.append(1)
print(choose_context(share).get_start_method(), shared)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
@pytest.mark.parametrize(
    ("loaded", "share", "expected"),
    [
        ("nothing", "schemas", "fork [1]"),
        # nothing to share still forks: the workers start with teikit imported
        ("nothing", "none", "fork []"),
        ("saxon", "schemas", "forkserver []"),
        ("saxon", "none", "forkserver []"),
    ],
)
def test_a_clean_process_forks_after_sharing_its_compiled_schemas(
    loaded: str, share: str, expected: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHOOSE, loaded, share], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == expected


def test_results_survive_pickling() -> None:
    d = Diagnostic("a.xml", 3, 4, Severity.WARNING, "x.y", "m", xpath="/TEI", schema="s.rng")
    result = FileResult("a.xml", (d,))
    back = pickle.loads(pickle.dumps(result))
    assert back == result and back.diagnostics[0].severity is Severity.WARNING


def test_validation_in_workers_equals_validation_in_one_process() -> None:
    paths = [FIXTURES / "letters", LETTER]
    one = validate(paths, ValidateOptions(schemas=PROJECT))
    two = validate(paths, ValidateOptions(schemas=PROJECT, jobs=2))
    assert two.results == one.results
    assert replace(two.summary, seconds=0) == replace(one.summary, seconds=0)
    codes = {d.code for r in two.results for d in r.diagnostics}
    assert {"rng.invalid", "xsd.invalid", "sch.assert"} <= codes  # Saxon ran in workers


def test_an_unusable_schema_stops_a_parallel_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rng"
    bad.write_text("<grammar xmlns='http://relaxng.org/ns/structure/1.0'><nonsense/></grammar>")
    with pytest.raises(SchemaError):
        validate([FIXTURES / "letters"], ValidateOptions(schemas=(bad,), jobs=2))
    with pytest.raises(SchemaError):
        validate([FIXTURES / "letters"], ValidateOptions(schemas=(tmp_path / "no.rng",), jobs=2))


SLOW_RUN = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {tests!r})
from teikit.parallel import map_files
from test_parallel import crashed, nap

if __name__ == "__main__":
    files = [Path(f"f{{i}}.xml") for i in range(40)]
    started = time.perf_counter()
    try:
        map_files(nap, files, 2, crashed=crashed)
    except KeyboardInterrupt:
        print(f"interrupted {{time.perf_counter() - started:.1f}}", flush=True)
        sys.exit(130)
    print("finished", flush=True)
"""


def nap(path: Path) -> str:
    time.sleep(1)
    return path.name


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_ctrl_c_cancels_pending_work_and_stops_the_workers(tmp_path: Path) -> None:
    script = tmp_path / "slow_run.py"
    script.write_text(textwrap.dedent(SLOW_RUN.format(tests=str(Path(__file__).parent))))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(2.5)  # workers started and busy; 40 files would take 20 s
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out.startswith("interrupted"), out
    assert float(out.split()[1]) < 10


UNGUARDED = """
import saxonche  # loaded, as after a Schematron run: workers come from the forkserver
from teikit import ValidateOptions, validate
run = validate([{folder!r}], ValidateOptions(jobs=2, use_xml_model=False, use_config=False))
print(sorted({{d.code for r in run.results for d in r.diagnostics}}), len(run.results))
"""


def test_workers_that_cannot_start_give_findings_not_a_hang(tmp_path: Path) -> None:
    # A script without `if __name__ == "__main__":` re-runs itself in each new worker.
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED.format(folder=str(FIXTURES / "corpus" / "xref")))
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.stdout.strip() == "['internal.worker-crashed'] 4", proc.stderr


def test_every_teikit_error_survives_the_trip_back_from_a_worker() -> None:
    """RelaxNGCompileError (schema, lxml error) could not be rebuilt by pickle, which
    calls cls(*args): an unusable schema in a forkserver worker stopped being a
    SchemaError in the parent (this file's test above failed after any Saxon run)."""
    import pickle
    import pkgutil

    import teikit
    from teikit.errors import TeikitError

    for module in pkgutil.walk_packages(teikit.__path__, "teikit."):
        if not module.name.endswith("__main__"):  # that one runs the command line
            __import__(module.name)
    classes: list[type[TeikitError]] = []
    todo: list[type[TeikitError]] = [TeikitError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    assert len(classes) > 6
    for cls in classes:
        error = cls.__new__(cls)
        error.args = (f"{cls.__name__}: message",)
        error.__dict__["url"] = "u"
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is cls and str(again) == str(error) and again.__dict__ == error.__dict__
