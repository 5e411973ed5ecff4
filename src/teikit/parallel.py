"""Running one function over many files: in this process, a process pool, or on Dask.

:func:`map_files` is the whole interface the runner and batch code use. It knows nothing
about validation: the caller hands it the per-file function (``work``), what to do once
in each worker before the first file (``warm``: compile the schemas named on the command
line), and how to report a file whose worker died (``crashed(path, reason)``). Where the
work runs is an :class:`Executor`:

* :class:`LocalExecutor` (the default): ``jobs == 1`` (or a single file) runs in this
  process, with no pool and no pickling. Otherwise a
  :class:`~concurrent.futures.ProcessPoolExecutor`. Workers are forked only when that is
  provably safe: on Linux, with SaxonC not loaded and this process running a single
  thread (SaxonC keeps a thread of its own once a Schematron schema is compiled, and a
  forked child of a threaded process can deadlock). Then ``share`` (if any) runs here
  first and the workers inherit what it built (compiled RELAX NG and XSD schemas:
  compiled once, not once per worker) and every module already imported. Otherwise
  workers start clean from ``forkserver`` (``spawn`` where there is none) and each
  compiles each schema once, in ``warm``.
* :class:`DaskExecutor`: batches of files go to the workers of a running
  ``dask.distributed`` cluster (see its docstring).

Whatever the executor:

* The largest files start first, so one big file does not finish last while the other
  workers idle; results come back in input order whatever the finishing order.
* Memory is bounded by the largest file, not by the corpus: only a few files per worker
  are handed out ahead of time (the rest wait here as paths), and a worker returns
  results (findings, never trees).
* A worker that dies (a crash in a C library, the out-of-memory killer) costs only the
  file it was working on: that file gets ``crashed(path, DIED)`` and every other file
  still gets its result. Locally: files no worker had started are run again in a new
  pool; files that were being worked on are then run one at a time in a pool of their
  own. A pool that breaks before any file started (a worker cannot even start) gives
  every file left ``crashed(path, NO_START)``.
* :class:`KeyboardInterrupt` (or any exception from ``work``) cancels what has not
  started, stops the workers and propagates; an interrupt comes out as
  :class:`teikit.output.Interrupted` saying how many files were done and how many
  outputs (:func:`write_output`) were written. Local workers ignore SIGINT: a Ctrl-C in
  a terminal reaches the whole process group, and only the parent should act on it. A
  worker told to stop (SIGTERM) finishes the output it is writing, if any, and exits;
  one that does not exit within a few seconds is killed, so stopping never hangs.
* A :class:`Progress` given to :func:`map_files` hears of every finished file, in this
  process (:class:`TerminalProgress` draws a status line; :func:`progress_for` picks it
  only for a terminal outside CI).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, Generic, Protocol, TextIO, TypeVar

from teikit.diagnostics import Diagnostic, Severity
from teikit.errors import UsageError
from teikit.loading import DEFAULT_MAX_BYTES, LoadOptions, LoadResult, load, parse_bytes
from teikit.output import (
    Interrupted,
    check_signals,
    holding_signals,
    on_signal,
    safe_keyboard_interrupt,
    write_atomic,
)

R = TypeVar("R")

#: Why ``crashed`` is called: the worker died on this file, or no worker could start.
DIED = "the worker process checking this file died (a crash in a library, or out of memory)"
NO_START = (
    "no worker process could start; a script that calls teikit with jobs other than 1 "
    "must guard its entry point with `if __name__ == '__main__':`"
)

#: Per-file state in the shared status array: not started, started, finished.
_NEW, _STARTED, _DONE = 0, 1, 2

#: Files handed to each local worker ahead of time (the rest wait here as paths).
_AHEAD = 2
#: Memory a file takes while it is worked on, in multiples of its size: the bytes read,
#: the lxml tree (about 4 times the file) and what a converter builds from it.
MEMORY_PER_BYTE = 8
#: Seconds a stopped worker gets to finish the output it is writing before it is killed.
STOP_GRACE = 5.0
#: Seconds between looks at a signal held back while a pool is driven.
_POLL = 0.1


# -- progress ---------------------------------------------------------------------------


class Progress(Protocol):
    """What a run tells about itself as it goes; called in the calling process only.

    :func:`map_files` calls :meth:`start` once, :meth:`advance` once per finished file
    (in finishing order, crashed files included) and :meth:`finish` once at the end,
    also when the run ends with an exception.
    """

    def start(self, total: int, total_bytes: int) -> None: ...

    def advance(self, path: Path, size: int) -> None: ...

    def finish(self) -> None: ...


class TerminalProgress:
    """One status line on a terminal: files done, rate, and time left.

    ``412/1,530 files (27%) · 38.2 files/s · 41.0 MB/s · about 0:29 left``. Time left
    is estimated from bytes, not files: the largest files run first, so the file rate
    rises as a run goes on while the byte rate stays steady. The line is redrawn at most
    every ``interval`` seconds and erased at the end, so reports that follow start on a
    clean line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.total = self.total_bytes = self.done = self.done_bytes = 0
        self.started = self.drawn = 0.0
        self.shown = False

    def start(self, total: int, total_bytes: int) -> None:
        self.total, self.total_bytes = total, total_bytes
        self.done = self.done_bytes = 0
        self.started = self.clock()
        self.drawn = float("-inf")

    def advance(self, path: Path, size: int) -> None:
        self.done += 1
        self.done_bytes += size
        now = self.clock()
        if now - self.drawn >= self.interval or self.done == self.total:
            self.drawn = now
            self._draw(self.line(now))

    def line(self, now: float) -> str:
        """The status text (without the terminal control characters)."""
        elapsed = max(now - self.started, 1e-9)
        pct = 100 * self.done // self.total if self.total else 100
        parts = [f"{self.done:,}/{self.total:,} files ({pct}%)"]
        parts.append(f"{self.done / elapsed:.1f} files/s")
        parts.append(f"{self.done_bytes / elapsed / 1e6:.1f} MB/s")
        if self.done < self.total:
            if self.done_bytes and self.total_bytes:
                left = (self.total_bytes - self.done_bytes) * elapsed / self.done_bytes
            else:
                left = (self.total - self.done) * elapsed / max(self.done, 1)
            parts.append(f"about {_clock(left)} left")
        return " · ".join(parts)

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def _draw(self, text: str) -> None:
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.shown = True


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def progress_for(stream: TextIO, enabled: bool | None = None) -> Progress | None:
    """A :class:`TerminalProgress` on ``stream``, or None for no progress.

    ``enabled=None`` (the default: neither ``--progress`` nor ``--no-progress``) shows
    progress only when ``stream`` is a terminal and the ``CI`` environment variable is
    unset or empty.
    """
    if enabled is None:
        isatty = getattr(stream, "isatty", None)
        enabled = bool(isatty and isatty()) and not os.environ.get("CI")
    return TerminalProgress(stream) if enabled else None


# -- executors --------------------------------------------------------------------------


class Executor(Protocol):
    """Where :func:`map_files` runs the work; see :class:`LocalExecutor`, :class:`DaskExecutor`.

    ``map_files`` returns ``[work(f) for f in files]`` in input order; a file whose
    worker died gets ``crashed(f, reason)`` instead. Exceptions from ``work`` or
    ``warm`` propagate.
    """

    def map_files(
        self,
        work: Callable[[Path], R],
        files: Sequence[Path],
        *,
        crashed: Callable[[Path, str], R],
        warm: Callable[[], object] | None = None,
        share: Callable[[], object] | None = None,
        progress: Progress | None = None,
    ) -> list[R]: ...


def map_files(
    work: Callable[[Path], R],
    files: Sequence[Path],
    jobs: int,
    *,
    crashed: Callable[[Path, str], R],
    warm: Callable[[], object] | None = None,
    share: Callable[[], object] | None = None,
    context: BaseContext | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> list[R]:
    """``[work(f) for f in files]`` on ``executor`` (default: ``jobs`` local processes).

    ``work`` and ``warm`` must be picklable (module-level functions or
    :func:`functools.partial` of them) and so must what ``work`` returns. An exception
    raised by ``warm`` in a worker is raised again by that worker's first ``work`` call.
    ``share`` must not start threads; it runs here only when workers will be forked.
    ``jobs`` and ``context`` apply to the local executor only.
    """
    chosen = executor if executor is not None else LocalExecutor(jobs, context)
    return chosen.map_files(work, files, crashed=crashed, warm=warm, share=share, progress=progress)


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
    """``fork`` (after running ``share`` here) when that is safe, else :func:`default_context`.

    Forked workers start at once with teikit imported; a ``forkserver`` worker spends
    about 0.2 s importing it again, a sixth of converting a 200-file corpus on two cores.
    """
    if fork_is_safe():
        if share is not None:
            share()
        if fork_is_safe():  # share() may have started a thread after all
            return multiprocessing.get_context("fork")
    return default_context()


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


class _Outputs:
    """Outputs :func:`write_output` wrote in this process during one run."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


#: The run going on in this process (where ``work`` runs here, or Dask outputs arrive).
_OUTPUTS: ContextVar[_Outputs | None] = ContextVar("teikit_outputs", default=None)


class _Results(Generic[R]):
    """Results by input position, telling ``progress`` of each one as it arrives.

    Also counts the outputs written, here and (``worker_outputs``, shared memory, one
    count per file) in local workers, so that an interrupted run can say what it did.
    """

    def __init__(self, files: Sequence[Path], progress: Progress | None) -> None:
        self.files = files
        self.sizes = [_size(f) for f in files]
        self.slots: list[_Slot[R]] = [_Slot() for _ in files]
        self.progress = progress
        self.outputs = _Outputs()
        self.worker_outputs: Any = None
        if progress is not None:
            progress.start(len(files), sum(self.sizes))

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        """Count the outputs written in this process; an interrupt says what was done."""
        token = _OUTPUTS.set(self.outputs)
        try:
            yield
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            done = sum(1 for slot in self.slots if slot.done)
            written = self.outputs.count
            if self.worker_outputs is not None:
                written += sum(self.worker_outputs)
            raise Interrupted(signum, done=done, total=len(self.files), written=written) from exc
        finally:
            _OUTPUTS.reset(token)

    def set(self, index: int, value: R) -> None:
        self.slots[index].set(value)
        if self.progress is not None:
            self.progress.advance(self.files[index], self.sizes[index])

    def done(self, index: int) -> bool:
        return self.slots[index].done

    def largest_first(self, indexes: Sequence[int]) -> list[int]:
        return sorted(indexes, key=lambda i: (-self.sizes[i], i))

    def values(self) -> list[R]:
        return [slot.get() for slot in self.slots]

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.finish()


def available_memory() -> int | None:
    """Bytes of memory available to new work (``MemAvailable``), where the system says."""
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass(frozen=True, slots=True)
class LocalExecutor:
    """Worker processes on this machine (see the module doc); ``jobs=0``: one per core.

    Files are handed out while the memory they need (``MEMORY_PER_BYTE`` times their
    size, summed over the files in the workers) fits ``memory_budget`` bytes: by default
    three quarters of the memory available when the run starts. Largest first, the big
    files of a corpus would otherwise all be parsed at once; a file too big for the
    budget still runs, alone.
    """

    jobs: int = 1
    context: BaseContext | None = field(default=None, compare=False)
    #: None: 3/4 of the memory available at the start (no limit where that is unknown).
    memory_budget: int | None = None

    def map_files(
        self,
        work: Callable[[Path], R],
        files: Sequence[Path],
        *,
        crashed: Callable[[Path, str], R],
        warm: Callable[[], object] | None = None,
        share: Callable[[], object] | None = None,
        progress: Progress | None = None,
    ) -> list[R]:
        jobs = resolve_jobs(self.jobs)
        results: _Results[R] = _Results(files, progress)
        try:
            with results.counting():
                if jobs <= 1 or len(files) <= 1:
                    if warm is not None:
                        warm()
                    for i, f in enumerate(files):
                        results.set(i, work(f))
                else:
                    with safe_keyboard_interrupt():
                        self._in_pools(jobs, work, files, crashed, warm, share, results)
            return results.values()
        finally:
            results.finish()

    def _in_pools(
        self,
        jobs: int,
        work: Callable[[Path], R],
        files: Sequence[Path],
        crashed: Callable[[Path, str], R],
        warm: Callable[[], object] | None,
        share: Callable[[], object] | None,
        results: _Results[R],
    ) -> None:
        ctx = self.context or choose_context(share)
        budget = self.memory_budget
        if budget is None:
            available = available_memory()
            budget = available * 3 // 4 if available is not None else None
        status = ctx.RawArray("b", len(files))
        results.worker_outputs = ctx.RawArray("i", len(files))
        todo = results.largest_first(range(len(files)))
        suspects: list[int] = []
        while todo:
            _run_pool(ctx, jobs, work, warm, status, files, todo, results, budget)
            left = [i for i in todo if not results.done(i)]
            started = [i for i in left if status[i] != _NEW]
            if left and not started:
                # The pool broke before any file was started: a worker cannot even start.
                for i in left:
                    results.set(i, crashed(files[i], NO_START))
                break
            suspects.extend(started)
            todo = [i for i in left if status[i] == _NEW]
        # Files that were in a worker when it died: one at a time, each crash is its own.
        for i in results.largest_first(suspects):
            status[i] = _NEW
            _run_pool(ctx, 1, work, warm, status, files, [i], results, budget)
            if not results.done(i):
                results.set(i, crashed(files[i], DIED))


def _run_pool(
    ctx: BaseContext,
    jobs: int,
    work: Callable[[Path], R],
    warm: Callable[[], object] | None,
    status: Any,
    files: Sequence[Path],
    order: Sequence[int],
    results: _Results[R],
    budget: int | None = None,
) -> None:
    """Run ``order`` (indexes into ``files``) in one pool; stop early if the pool breaks.

    Only ``_AHEAD`` files per worker are submitted ahead of time, so the pool's queues
    (and what the parent holds) do not grow with the number of files; and no more than
    fit ``budget`` bytes of memory (see :class:`LocalExecutor`), but always one.

    The pool's threads and this one share locks (each future's, the queues'), and an
    exception raised by a signal handler while this thread holds one would leave it held
    and hang the pool's shutdown. So signals are held back (:func:`holding_signals`)
    while the pool is driven, and taken at points where no lock is held: between waits,
    at least every ``_POLL`` seconds.
    """
    if ctx.get_start_method() == "fork" and not fork_is_safe():
        ctx = default_context()  # a thread appeared since the choice (a pool restart)
    workers = min(jobs, len(order))
    with holding_signals():
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(work, warm, status, results.worker_outputs),
        )
    clean = False
    try:
        with holding_signals():
            _drive_pool(pool, workers, files, order, results, budget)
        clean = True
    finally:
        with holding_signals():
            if clean:
                _close(pool)
            else:
                _stop(pool)


def _drive_pool(
    pool: ProcessPoolExecutor,
    workers: int,
    files: Sequence[Path],
    order: Sequence[int],
    results: _Results[R],
    budget: int | None,
) -> None:
    """Submit, collect, submit more (see :func:`_run_pool`); stops at a signal."""
    at = 0
    pending: dict[Future[R], int] = {}
    in_use = 0  # the memory the files in ``pending`` need
    broken = False

    def top_up() -> None:
        nonlocal at, in_use, broken
        while not broken and at < len(order) and len(pending) < workers * (1 + _AHEAD):
            i = order[at]
            need = results.sizes[i] * MEMORY_PER_BYTE
            if pending and budget is not None and in_use + need > budget:
                return  # wait until a file is done
            try:
                pending[pool.submit(_call, i, files[i])] = i
            except BrokenProcessPool:
                broken = True  # the caller sorts unfinished files by their status
                return
            at += 1
            in_use += need

    top_up()
    while pending:
        check_signals()  # no lock held here: stop now if a signal came
        done, _ = wait(pending, timeout=_POLL, return_when=FIRST_COMPLETED)
        for fut in done:
            i = pending.pop(fut)
            in_use -= results.sizes[i] * MEMORY_PER_BYTE
            try:
                value = fut.result()
            except BrokenProcessPool:
                broken = True
                continue
            results.set(i, value)
        top_up()


def _close(pool: ProcessPoolExecutor, grace: float = STOP_GRACE) -> None:
    """End a pool whose work is all done, without waiting on a worker that cannot end.

    ``shutdown(wait=True)`` can wait forever: a worker killed from outside (the
    out-of-memory killer) while it held the lock of the results queue leaves the others
    blocked on that lock, and the executor's own shutdown keeps waiting for them. Every
    result is in by now, so a worker still there after ``grace`` seconds is killed.
    """
    _end(pool, grace, stopping=False)


def _stop(pool: ProcessPoolExecutor, grace: float = STOP_GRACE) -> None:
    """Cancel what has not started and end the workers now (interrupt or error).

    Each worker is asked to stop (SIGTERM: it finishes the output it is writing, if any);
    one still running after ``grace`` seconds is killed. Never waits longer than that.
    """
    _end(pool, grace, stopping=True)


def _end(pool: ProcessPoolExecutor, grace: float, *, stopping: bool) -> None:
    # The executor keeps its workers in a private mapping; nothing public stops them.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=stopping)
    if stopping:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=grace)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- inside a local worker --------------------------------------------------------------


class _Worker:
    work: Callable[[Path], Any] | None = None
    status: Any = None
    #: Outputs written, per file (shared with the parent).
    outputs: Any = None
    error: BaseException | None = None
    #: The file being worked on (-1: waiting for one).
    index = -1


def _init_worker(
    work: Callable[[Path], Any],
    warm: Callable[[], object] | None,
    status: Any,
    outputs: Any = None,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the parent decides, as for SIGINT
    _Worker.work, _Worker.status, _Worker.outputs = work, status, outputs
    _Worker.error, _Worker.index = None, -1
    if warm is not None:
        try:
            warm()
        except Exception as exc:  # given back with the first file, where it can be raised
            _Worker.error = exc


def _worker_stop(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: exit now, or (while an output is written) once it is whole."""
    if _Worker.index < 0:
        os._exit(128 + signum)  # between files: nothing to finish or clean up
    on_signal(signum, frame)  # raises Interrupted in the work, or once the output is in place


def _call(index: int, path: Path) -> Any:
    if _Worker.error is not None:
        raise _Worker.error
    assert _Worker.work is not None
    _Worker.status[index] = _STARTED
    _Worker.index = index
    try:
        result = _Worker.work(path)
    except Interrupted as exc:  # told to stop: temporary files are gone, outputs whole
        os._exit(exc.exit_code)
    finally:
        _Worker.index = -1
    _Worker.status[index] = _DONE
    return result


# -- reading inputs and writing outputs, wherever the work runs --------------------------


@dataclass(slots=True)
class _Shipment:
    """What a Dask client sent along with a batch (``ship_files``), in the worker."""

    #: path as the client named it -> (display name, bytes, or the size when not sent)
    files: dict[Path, tuple[str, bytes | int]]
    #: the client's working folder, which relative paths are relative to
    cwd: str
    #: outputs the client writes (the worker has no access to the client's folders)
    outputs: list[tuple[Path, str]] = field(default_factory=list)


_SHIPMENT: ContextVar[_Shipment | None] = ContextVar("teikit_shipment", default=None)


def load_input(path: Path, options: LoadOptions | None = None) -> LoadResult:
    """:func:`teikit.loading.load` for work functions run through :func:`map_files`.

    On a Dask worker that was sent the file's bytes (``ship_files``), those bytes are
    parsed (:func:`teikit.loading.parse_bytes`) under the name the client shows;
    everywhere else this is ``load(path, options)``.
    """
    options = options if options is not None else LoadOptions()
    shipment = _SHIPMENT.get()
    sent = shipment.files.pop(path, None) if shipment is not None else None
    if sent is None:
        return load(path, options)
    shown, data = sent
    if isinstance(data, int):
        if data > options.max_bytes:  # the words of load()'s own refusal
            message = (
                f"file is {data:,} bytes, above the limit of {options.max_bytes:,} "
                "(raise it with --max-bytes)"
            )
            return _failed(shown, "io.too-large", message)
        message = (
            f"file is {data:,} bytes, more than a Dask client ships to its workers "
            "(--ship-files); let the workers read it from a shared folder instead"
        )
        return _failed(shown, "io.unreadable", message)
    return parse_bytes(data, path, options, shown=shown)


def write_output(
    path: Path,
    text: str,
    *,
    protect: tuple[Path, ...] | frozenset[Path] = (),
    real: Callable[[Path], str] = os.path.realpath,
) -> bool:
    """:func:`teikit.output.write_atomic` for work functions run through :func:`map_files`;
    False when the output was already there, unchanged.

    On a Dask worker that was sent its files' bytes, the output goes back to the client,
    which writes it as the batch's results arrive (True: it is not known here whether it
    changed); ``protect`` is checked here, on the client's paths (without resolving
    links, which live on the client's machine).
    """
    shipment = _SHIPMENT.get()
    if shipment is None:
        with holding_signals():  # in place and counted, or neither
            changed = write_atomic(path, text, protect=protect, real=real)
            _count_output()
        return changed
    target = _on_client(path, shipment.cwd)
    if any(_on_client(p, shipment.cwd) == target for p in protect):
        raise UsageError(f"{path}: refusing to overwrite an input file")
    shipment.outputs.append((path, text))
    return True


def _count_output() -> None:
    if _Worker.outputs is not None and _Worker.index >= 0:
        _Worker.outputs[_Worker.index] += 1
        return
    here = _OUTPUTS.get()
    if here is not None:
        here.count += 1


def _on_client(path: Path, cwd: str) -> str:
    return os.path.normpath(Path(cwd) / path)


def _failed(shown: str, code: str, message: str) -> LoadResult:
    return LoadResult(None, (Diagnostic(shown, 0, 0, Severity.ERROR, code, message),))


# -- Dask -------------------------------------------------------------------------------

#: Files of one batch (one Dask task) and its bytes at most: big enough that Dask's cost
#: per task (a few milliseconds) is small beside the work, small enough to share out.
BATCH_FILES = 64
BATCH_BYTES = 16 * 1024 * 1024

_Item = tuple[int, Path, str, bytes | int | None]
#: How often a run's tasks may be cancelled under it (lost data) before it gives up.
_MAX_LOST = 10


@dataclass(slots=True)
class _Batch:
    indexes: list[int]


class DaskExecutor:
    """Batches of files on the workers of a running ``dask.distributed`` cluster.

    Connects to ``scheduler_address`` (``tcp://host:8786``), or uses ``client`` (a
    :class:`distributed.Client`, e.g. of a ``LocalCluster``). Files are grouped, largest
    first, into batches of at most ``batch_files`` files (and ``batch_bytes`` bytes),
    each one task (``client.submit(..., pure=False)``); at most two batches per worker
    thread are in flight, so neither this process nor the scheduler holds the corpus.
    Results stream back (``as_completed``) and are returned in input order.

    * Schemas are compiled once per worker process and kept for later batches and later
      runs: ``warm`` runs once per worker process (for each set of schemas), and the
      engines' caches are module-level. The work itself (a function with its options)
      is sent once per run, not with every batch.
    * Workers read the files from the same paths as this process (a shared folder):
      tasks run in this process's working folder, which must exist on the workers.
      With ``ship_files=True`` this process reads each file and sends its bytes; the
      workers parse them and report the original path, and outputs (``build``,
      ``convert``) come back here to be written. Schemas are never shipped: name them so
      that workers can read them too (a shared path, or a URL in their cache).
    * A worker that dies has its tasks run again on another worker by the scheduler
      (up to ``distributed.scheduler.allowed-failures`` times, 3 by default). The files
      of a batch that still kills its workers run again at the end, alone and one at a
      time: only a file that kills a worker on its own gets ``crashed(path, DIED)``.
      ``retries`` re-runs tasks that raised an exception (the default, 0, raises it).
    """

    def __init__(
        self,
        scheduler_address: str | None = None,
        *,
        ship_files: bool = False,
        client: Any = None,
        batch_files: int = BATCH_FILES,
        batch_bytes: int = BATCH_BYTES,
        ship_limit: int = DEFAULT_MAX_BYTES,
        retries: int = 0,
        timeout: float = 30.0,
    ) -> None:
        if scheduler_address is None and client is None:
            raise UsageError("the Dask executor needs a scheduler address (--scheduler)")
        if batch_files < 1 or batch_bytes < 1:
            raise UsageError("Dask batches need at least one file and one byte")
        _import_distributed()  # not installed: a usage error now, not at the first file
        self.scheduler_address = scheduler_address
        self.ship_files = ship_files
        self.client = client
        self.batch_files = batch_files
        self.batch_bytes = batch_bytes
        self.ship_limit = ship_limit
        self.retries = retries
        self.timeout = timeout

    def __repr__(self) -> str:
        where = self.scheduler_address or "a given client"
        return f"DaskExecutor({where!r}, ship_files={self.ship_files})"

    def __getstate__(self) -> dict[str, Any]:
        # A Client does not travel; a copy sent elsewhere connects by address.
        return {**self.__dict__, "client": None}

    def map_files(
        self,
        work: Callable[[Path], R],
        files: Sequence[Path],
        *,
        crashed: Callable[[Path, str], R],
        warm: Callable[[], object] | None = None,
        share: Callable[[], object] | None = None,
        progress: Progress | None = None,
    ) -> list[R]:
        distributed = _import_distributed()
        results: _Results[R] = _Results(files, progress)
        try:
            if not files:
                return []
            with results.counting(), self._connected(distributed) as client:
                _DaskRun(self, client, distributed, work, files, crashed, warm, results).run()
            return results.values()
        finally:
            results.finish()

    @contextlib.contextmanager
    def _connected(self, distributed: Any) -> Iterator[Any]:
        if self.client is not None:
            yield self.client
            return
        try:
            client = distributed.Client(
                self.scheduler_address, timeout=self.timeout, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {self.scheduler_address}: {exc}"
            ) from None
        try:
            yield client
        finally:
            client.close()

    def batches(
        self, files: Sequence[Path], sizes: Sequence[int], threads: int = 1
    ) -> list[_Batch]:
        """Largest first; a batch ends at ``batch_files`` files or ``batch_bytes`` bytes,
        and at an eighth of each worker thread's share of the bytes, so that every
        thread gets several batches (the last ones small) and none waits for the rest."""
        order = sorted(range(len(files)), key=lambda i: (-sizes[i], i))
        limit = max(1, min(self.batch_bytes, sum(sizes) // (8 * max(1, threads))))
        out: list[_Batch] = []
        current: list[int] = []
        weight = 0
        for i in order:
            if current and (len(current) >= self.batch_files or weight + sizes[i] > limit):
                out.append(_Batch(current))
                current, weight = [], 0
            current.append(i)
            weight += sizes[i]
        if current:
            out.append(_Batch(current))
        return out


def _import_distributed() -> Any:
    try:
        distributed = importlib.import_module("distributed")
    except ImportError:
        raise UsageError(
            "the Dask executor needs dask.distributed: pip install 'teikit[dask]'"
        ) from None
    return distributed


class _DaskRun(Generic[R]):
    """One :meth:`DaskExecutor.map_files` call: submit, collect, retry, write outputs."""

    def __init__(
        self,
        executor: DaskExecutor,
        client: Any,
        distributed: Any,
        work: Callable[[Path], R],
        files: Sequence[Path],
        crashed: Callable[[Path, str], R],
        warm: Callable[[], object] | None,
        results: _Results[R],
    ) -> None:
        self.ex = executor
        self.client = client
        self.distributed = distributed
        self.dask_config = importlib.import_module("dask.config")
        self.work = work
        self.files = files
        self.crashed = crashed
        self.warm = warm
        self.results = results
        self.cwd = str(Path.cwd())
        self.run_id = uuid.uuid4().hex[:12]
        self.counter = itertools.count()
        # What identifies ``warm`` in a worker, so that it runs once per process.
        self.warm_key = hashlib.sha256(pickle.dumps(warm)).hexdigest() if warm else ""
        self.job: Any = None
        self.lost = 0

    def run(self) -> None:
        self.send_work()
        threads = sum(self.client.nthreads().values()) or 1
        suspects: list[int] = []
        try:
            batches = self.ex.batches(self.files, self.results.sizes, threads)
            self.drive(batches, max(2, 2 * threads), suspects)
            # Files of batches whose workers died: alone, one at a time, so that a worker
            # that dies now can only have died of that file.
            for i in self.results.largest_first(suspects):
                self.drive([_Batch([i])], 1, None)
        finally:
            self.job.release()

    def drive(self, queue: list[_Batch], limit: int, suspects: list[int] | None) -> None:
        """Run ``queue`` with at most ``limit`` batches in flight.

        Files of a batch that killed its workers go to ``suspects``; without it (the
        files run alone), such a file is crashed.
        """
        running: dict[Any, _Batch] = {}
        done = self.distributed.as_completed(loop=self.client.loop)
        try:
            while queue or running:
                while queue and len(running) < limit:
                    batch = queue.pop(0)
                    future = self._submit(batch)
                    if future is not None:
                        running[future] = batch
                        done.add(future)
                if not running:
                    continue
                future = next(done)
                batch = running.pop(future)
                queue[:0] = self._collect(future, batch, suspects)
        except BaseException:
            self.client.cancel(list(running), force=True)
            raise

    def send_work(self) -> None:
        """Send the work (with its options) once, not with every batch.

        It travels as a task of its own, not as scattered data: workers fetch it from
        each other, and if every worker holding it dies, the scheduler makes it again.
        """
        self.job = self.client.submit(
            _hold,
            (self.work, self.warm),
            key=f"teikit-{self.run_id}-work-{self.lost}",
            pure=False,
        )

    def _submit(self, batch: _Batch) -> Any:
        items: list[_Item] = []
        for i in batch.indexes:
            path = self.files[i]
            if not self.ex.ship_files:
                items.append((i, path, "", None))
                continue
            data = self._read(path, self.results.sizes[i])
            if data is None:
                # Not a file this process can read: load() here says why, as it would
                # locally (it stops before parsing anything).
                self.results.set(i, self.work(path))
            else:
                items.append((i, path, _display(path), data))
        if not items:
            return None
        key = f"teikit-{self.run_id}-{next(self.counter)}"
        # Shipped bytes are the point of the task, not a badly built graph: no warning.
        with self.dask_config.set({"distributed.admin.large-graph-warning-threshold": "4GiB"}):
            return self.client.submit(
                _dask_batch,
                self.job,
                self.warm_key,
                self.cwd,
                items,
                self.ex.ship_files,
                key=key,
                pure=False,
                retries=self.ex.retries,
            )

    def _read(self, path: Path, size: int) -> bytes | int | None:
        """The bytes to ship, the size when above ``ship_limit``, None if unreadable."""
        try:
            if not path.is_file():
                return None
            if size > self.ex.ship_limit:
                return size
            return path.read_bytes()
        except OSError:
            return None

    def _collect(self, future: Any, batch: _Batch, suspects: list[int] | None) -> list[_Batch]:
        """Take a finished batch's results; give back the batches to run again."""
        try:
            values = future.result()  # a task's own exception is raised here
        except self.distributed.KilledWorker:
            left = [i for i in batch.indexes if not self.results.done(i)]
            if suspects is not None:
                suspects.extend(left)
            else:
                for i in left:
                    self.results.set(i, self.crashed(self.files[i], DIED))
            return []
        except CancelledError:
            # Cancelled under us (the scheduler restarted?): send the work again and rerun.
            self.lost += 1
            if self.lost > _MAX_LOST:
                message = "Dask keeps cancelling this run's tasks; is the cluster up?"
                raise RuntimeError(message) from None
            self.send_work()
            return [batch]
        for index, value, outputs in values:
            for target, text in outputs:
                with holding_signals():
                    write_atomic(target, text)  # checked against the inputs in the worker
                    _count_output()
            self.results.set(index, value)
        future.release()
        return []


def _display(path: Path) -> str:
    from teikit.loading import display_name

    return display_name(path)


# -- inside a Dask worker ---------------------------------------------------------------

#: The ``warm`` calls made in this worker process (by a hash of the pickled call).
_warmed: set[str] = set()
_warm_lock = threading.Lock()
_folder = threading.Condition()
_folder_state: dict[str, Any] = {"cwd": None, "users": 0, "home": None}


def _hold(job: Any) -> Any:
    return job


def _dask_batch(
    job: tuple[Callable[[Path], Any], Callable[[], object] | None],
    warm_key: str,
    cwd: str,
    items: list[_Item],
    shipped: bool,
) -> list[tuple[int, Any, list[tuple[Path, str]]]]:
    """Run ``work`` on a batch in a Dask worker, in the client's working folder."""
    work, warm = job
    with _in_folder(cwd, required=not shipped):
        if warm is not None:
            with _warm_lock:
                if warm_key not in _warmed:
                    warm()  # an error ends the run; a later run tries again
                    _warmed.add(warm_key)
        out: list[tuple[int, Any, list[tuple[Path, str]]]] = []
        for index, path, shown, data in items:
            if data is None:
                out.append((index, work(path), []))
                continue
            shipment = _Shipment({path: (shown, data)}, cwd)
            token = _SHIPMENT.set(shipment)
            try:
                value = work(path)
            finally:
                _SHIPMENT.reset(token)
            out.append((index, value, shipment.outputs))
        items.clear()  # let the shipped bytes go as soon as possible
        return out


@contextlib.contextmanager
def _in_folder(cwd: str, *, required: bool) -> Iterator[None]:
    """Run in the client's working folder (relative paths, display names, configuration).

    The working folder belongs to the process: tasks of clients in other folders wait
    until the tasks in this one are done.
    """
    if not Path(cwd).is_dir():
        if required:
            raise UsageError(
                f"the Dask worker on {_host()} cannot see the client's working folder {cwd}; "
                "run teikit from a folder every worker shares, or use --ship-files"
            )
        yield
        return
    with _folder:
        while _folder_state["users"] and _folder_state["cwd"] != cwd:
            _folder.wait()
        if not _folder_state["users"]:
            _folder_state["home"] = str(Path.cwd())
            os.chdir(cwd)
            _folder_state["cwd"] = cwd
        _folder_state["users"] += 1
    try:
        yield
    finally:
        with _folder:
            _folder_state["users"] -= 1
            if not _folder_state["users"]:
                with contextlib.suppress(OSError):
                    os.chdir(_folder_state["home"])
                _folder_state["cwd"] = None
                _folder.notify_all()


def _host() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # not on a POSIX system
        return "this worker"
