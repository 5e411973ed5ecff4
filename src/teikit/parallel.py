"""Running one function over many files in worker processes, safely and in order.

:func:`map_files` is the whole interface. It knows nothing about validation: the runner
hands it the per-file function (``work``), what to do once in each worker before the
first file (``warm``: compile the schemas named on the command line), and how to report a
file whose worker died (``crashed(path, reason)``).

* ``jobs == 1`` (or a single file) runs in this process: no pool, no pickling.
* Otherwise a :class:`~concurrent.futures.ProcessPoolExecutor`. Workers are forked only
  when that is provably safe: on Linux, with SaxonC not loaded and this process running a
  single thread (SaxonC keeps a thread of its own once a Schematron schema is compiled,
  and a forked child of a threaded process can deadlock). Then ``share`` runs here first
  and the workers inherit what it built (compiled RELAX NG and XSD schemas: compiled
  once, not once per worker). Otherwise workers start clean from ``forkserver``
  (``spawn`` where there is none) and each compiles each schema once, in ``warm``.
* The largest files are submitted first, so one big file does not finish last while the
  other workers idle; results come back in input order whatever the finishing order.
* A worker that dies (a crash in a C library, the out-of-memory killer) breaks the pool.
  Files no worker had started are run again in a new pool; files that were being worked
  on are then run one at a time in a pool of their own, so that only the file that kills
  its worker gets ``crashed(path, DIED)``, and every other file still gets its result.
  A pool that breaks before any file started (a worker cannot even start) gives every
  file left ``crashed(path, NO_START)``.
* :class:`KeyboardInterrupt` (or any exception from ``work``) cancels what has not
  started, stops the workers and propagates. Workers ignore SIGINT: a Ctrl-C in a
  terminal reaches the whole process group, and only the parent should act on it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, Generic, TypeVar

from teikit.errors import UsageError

R = TypeVar("R")

#: Why ``crashed`` is called: the worker died on this file, or no worker could start.
DIED = "the worker process checking this file died (a crash in a library, or out of memory)"
NO_START = (
    "no worker process could start; a script that calls teikit with jobs other than 1 "
    "must guard its entry point with `if __name__ == '__main__':`"
)

#: Per-file state in the shared status array: not started, started, finished.
_NEW, _STARTED, _DONE = 0, 1, 2


def resolve_jobs(jobs: int) -> int:
    """``0`` means one worker per usable core; negative numbers are a usage error."""
    if jobs < 0:
        raise UsageError(f"--jobs must be 0 (all cores) or a positive number, not {jobs}")
    if jobs:
        return jobs
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_context() -> BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``: safe whatever is loaded."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def fork_is_safe() -> bool:
    """True on Linux when this process runs one thread and has not loaded SaxonC."""
    if not sys.platform.startswith("linux") or "saxonche" in sys.modules:
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir()) == 1
    except OSError:
        return False


def choose_context(share: Callable[[], object] | None = None) -> BaseContext:
    """``fork`` after running ``share`` here when that is safe, else :func:`default_context`."""
    if share is not None and fork_is_safe():
        share()
        if fork_is_safe():  # share() may have started a thread after all
            return multiprocessing.get_context("fork")
    return default_context()


def map_files(
    work: Callable[[Path], R],
    files: Sequence[Path],
    jobs: int,
    *,
    crashed: Callable[[Path, str], R],
    warm: Callable[[], object] | None = None,
    share: Callable[[], object] | None = None,
    context: BaseContext | None = None,
) -> list[R]:
    """``[work(f) for f in files]``, on ``jobs`` worker processes; see the module doc.

    ``work`` and ``warm`` must be picklable (module-level functions or
    :func:`functools.partial` of them) and so must what ``work`` returns. An exception
    raised by ``warm`` in a worker is raised again by that worker's first ``work`` call.
    ``share`` must not start threads; it runs here only when workers will be forked.
    """
    jobs = resolve_jobs(jobs)
    if jobs <= 1 or len(files) <= 1:
        if warm is not None:
            warm()
        return [work(f) for f in files]
    ctx = context or choose_context(share)
    status = ctx.RawArray("b", len(files))
    results: list[_Slot[R]] = [_Slot() for _ in files]
    todo = sorted(range(len(files)), key=lambda i: (-_size(files[i]), i))
    suspects: list[int] = []
    while todo:
        _run_pool(ctx, jobs, work, warm, status, files, todo, results)
        left = [i for i in todo if not results[i].done]
        started = [i for i in left if status[i] != _NEW]
        if left and not started:
            # The pool broke before any file was started: a worker cannot even start.
            for i in left:
                results[i].set(crashed(files[i], NO_START))
            break
        suspects.extend(started)
        todo = [i for i in left if status[i] == _NEW]
    # Files that were in a worker when it died: one at a time, each crash is its own.
    for i in sorted(suspects, key=lambda i: (-_size(files[i]), i)):
        status[i] = _NEW
        _run_pool(ctx, 1, work, warm, status, files, [i], results)
        if not results[i].done:
            results[i].set(crashed(files[i], DIED))
    return [slot.get() for slot in results]


class _Slot(Generic[R]):
    """A result that may not be there yet (None is a valid result of ``work``)."""

    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = False
        self.value: R | None = None

    def set(self, value: R) -> None:
        self.done, self.value = True, value

    def get(self) -> R:
        assert self.done
        return self.value  # type: ignore[return-value]


def _run_pool(
    ctx: BaseContext,
    jobs: int,
    work: Callable[[Path], R],
    warm: Callable[[], object] | None,
    status: Any,
    files: Sequence[Path],
    order: Sequence[int],
    results: list[_Slot[R]],
) -> None:
    """Run ``order`` (indexes into ``files``) in one pool; stop early if the pool breaks."""
    if ctx.get_start_method() == "fork" and not fork_is_safe():
        ctx = default_context()  # a thread appeared since the choice (a pool restart)
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(order)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(work, warm, status),
    )
    clean = False
    try:
        futures: dict[Future[R], int] = {pool.submit(_call, i, files[i]): i for i in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                # A broken pool: the caller sorts unfinished files by their status.
                with contextlib.suppress(BrokenProcessPool):
                    results[futures[fut]].set(fut.result())
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (interrupt or error)."""
    # The executor keeps its workers in a private mapping; nothing public stops them.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- inside a worker --------------------------------------------------------------------


class _Worker:
    work: Callable[[Path], Any] | None = None
    status: Any = None
    error: BaseException | None = None


def _init_worker(
    work: Callable[[Path], Any], warm: Callable[[], object] | None, status: Any
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Worker.work, _Worker.status, _Worker.error = work, status, None
    if warm is not None:
        try:
            warm()
        except Exception as exc:  # given back with the first file, where it can be raised
            _Worker.error = exc


def _call(index: int, path: Path) -> Any:
    if _Worker.error is not None:
        raise _Worker.error
    assert _Worker.work is not None
    _Worker.status[index] = _STARTED
    result = _Worker.work(path)
    _Worker.status[index] = _DONE
    return result
