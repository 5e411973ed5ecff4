"""Dask: the same results as a local run, from a real two-process LocalCluster.

Worker deaths are real too: a worker process is killed in the middle of a run (its files
run again elsewhere), and a file that kills every worker it meets is reported as
``internal.worker-crashed`` while the other files get their results.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from teikit import UsageError, ValidateOptions, validate
from teikit.batch import BatchOptions, run_batch
from teikit.parallel import DaskExecutor, _dask_batch, load_input, map_files

from conftest import FIXTURES, LETTER, ROOT

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed: pip install -e '.[dask]'"
)
dask = importlib.import_module("dask")
# Workers unpickle this module's functions by value: they need not import the tests.
importlib.import_module("cloudpickle").register_pickle_by_value(sys.modules[__name__])

PROJECT = tuple(ROOT / "schemas" / f"teikit-letter.{s}" for s in ("rng", "xsd", "sch"))


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # One death per task is enough to call it the task's fault (3 by default).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        )
    # Not the default client: teikit must never rely on one.
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def ready(client: Any) -> Any:
    """The client, once both workers are up (a test before may have killed one)."""
    client.wait_for_workers(2, timeout=60)
    return client


def shout(path: Path) -> str:
    return f"{path.name.upper()}@{os.getpid()}"


def slow_shout(path: Path) -> str:
    time.sleep(0.1)
    return shout(path)


def shout_or_die(path: Path) -> str:
    if path.name.startswith("boom"):
        os._exit(7)  # what a segfault or the OOM killer looks like from outside
    return shout(path)


def crashed(path: Path, reason: str) -> str:
    return f"CRASHED {path.name}"


def _files(tmp_path: Path, names: list[str]) -> list[Path]:
    out = []
    for i, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"x" * (i * 100 + 1))
        out.append(p)
    return out


class Seen:
    def __init__(self) -> None:
        self.started: tuple[int, int] | None = None
        self.paths: list[Path] = []
        self.finished = False

    def start(self, total: int, total_bytes: int) -> None:
        self.started = (total, total_bytes)

    def advance(self, path: Path, size: int) -> None:
        self.paths.append(path)

    def finish(self) -> None:
        self.finished = True


def test_results_come_back_in_input_order_from_both_workers(ready: Any, tmp_path: Path) -> None:
    names = [f"f{i:02}.xml" for i in range(24)]
    files = _files(tmp_path, names)
    seen = Seen()
    executor = DaskExecutor(client=ready, batch_files=3)
    got = map_files(slow_shout, files, 1, crashed=crashed, executor=executor, progress=seen)
    assert [g.split("@")[0] for g in got] == [n.upper() for n in names]
    pids = {int(g.split("@")[1]) for g in got}
    assert os.getpid() not in pids and len(pids) == 2
    assert seen.started is not None and seen.started[0] == 24 and seen.finished
    assert sorted(seen.paths) == sorted(files)


@pytest.mark.parametrize("ship", [False, True], ids=["shared-path", "ship-files"])
def test_validation_on_dask_equals_validation_here(ready: Any, ship: bool) -> None:
    paths = [FIXTURES / "letters", LETTER]
    here = validate(paths, ValidateOptions(schemas=PROJECT))
    there = validate(
        paths,
        ValidateOptions(schemas=PROJECT, executor=DaskExecutor(client=ready, ship_files=ship)),
    )
    assert there.results == here.results
    assert replace(there.summary, seconds=0) == replace(here.summary, seconds=0)
    assert there.ok == here.ok
    codes = {d.code for r in there.results for d in r.diagnostics}
    assert {"rng.invalid", "xsd.invalid", "sch.assert"} <= codes  # Saxon ran in workers


@pytest.mark.parametrize("ship", [False, True], ids=["shared-path", "ship-files"])
def test_conversion_on_dask_writes_what_a_local_run_writes(
    ready: Any, tmp_path: Path, ship: bool
) -> None:
    source = FIXTURES / "letters"
    here = run_batch([source], tmp_path / "here", BatchOptions())
    executor = DaskExecutor(client=ready, ship_files=ship, batch_files=2)
    there = run_batch([source], tmp_path / "there", BatchOptions(executor=executor))
    assert there.run.results == here.run.results
    rel_here = sorted(p.relative_to(tmp_path / "here") for p in here.written)
    assert sorted(p.relative_to(tmp_path / "there") for p in there.written) == rel_here
    for rel in rel_here:
        assert (tmp_path / "there" / rel).read_bytes() == (tmp_path / "here" / rel).read_bytes()


def test_the_executor_connects_by_address_as_the_cli_does(ready: Any) -> None:
    paths = [FIXTURES / "letters"]
    here = validate(paths, ValidateOptions(schemas=PROJECT[:1]))
    executor = DaskExecutor(ready.scheduler.address)
    there = validate(paths, ValidateOptions(schemas=PROJECT[:1], executor=executor))
    assert there.results == here.results


def test_a_worker_killed_mid_run_costs_no_file(ready: Any, tmp_path: Path) -> None:
    names = [f"f{i:02}.xml" for i in range(40)]
    files = _files(tmp_path, names)
    victim = next(iter(ready.run(os.getpid).values()))  # worker address -> pid
    killed_at: list[float] = []

    def kill() -> None:
        time.sleep(1.0)  # 40 files of 0.1 s on two workers: about 2 s of work
        os.kill(victim, signal.SIGKILL)
        killed_at.append(time.monotonic())

    killer = threading.Thread(target=kill)
    killer.start()
    executor = DaskExecutor(client=ready, batch_files=2)
    try:
        got = map_files(slow_shout, files, 1, crashed=crashed, executor=executor)
        finished_at = time.monotonic()
    finally:
        killer.join()
    assert killed_at and killed_at[0] < finished_at  # the worker died mid-run
    assert [g.split("@")[0] for g in got] == [n.upper() for n in names]


def test_a_file_that_kills_every_worker_it_meets_is_reported_alone(
    ready: Any, tmp_path: Path
) -> None:
    names = [f"f{i:02}.xml" for i in range(8)]
    names[5] = "boom5.xml"
    files = _files(tmp_path, names)
    executor = DaskExecutor(client=ready, batch_files=4)
    got = map_files(shout_or_die, files, 1, crashed=crashed, executor=executor)
    assert [g.split("@")[0] for g in got] == [
        f"CRASHED {n}" if n.startswith("boom") else n.upper() for n in names
    ]


def test_shipped_bytes_are_parsed_under_the_path_the_client_shows(tmp_path: Path) -> None:
    # What a worker does with a shipped batch; the path exists nowhere.
    ghost = tmp_path / "nowhere" / "letter.xml"
    data = LETTER.read_bytes()
    out = _dask_batch(
        (_parsed_root, None), "", str(tmp_path), [(0, ghost, "shown/letter.xml", data)], True
    )
    assert out == [(0, ("shown/letter.xml", "TEI"), [])]
    too_big = _dask_batch(
        (_parsed_root, None), "", str(tmp_path), [(0, ghost, "big.xml", 10**12)], True
    )
    assert too_big[0][1][0] == "io.too-large"


def _parsed_root(path: Path) -> tuple[str, str]:
    loaded = load_input(path)
    if loaded.document is None:
        return (loaded.diagnostics[0].code, "")
    return (loaded.document.display, str(loaded.document.root.tag).split("}")[-1])


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    files = _files(tmp_path, ["a.xml", "b.xml"])
    executor = DaskExecutor("tcp://127.0.0.1:9", timeout=2)
    with pytest.raises(UsageError, match="cannot reach the Dask scheduler"):
        map_files(shout, files, 1, crashed=crashed, executor=executor)


def test_a_worker_without_the_clients_folder_says_so(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent")
    with pytest.raises(UsageError, match="cannot see the client's working folder"):
        _dask_batch((shout, None), "", absent, [(0, Path("a.xml"), "", None)], False)
