"""Writing outputs without ever leaving a half-written file or touching an input.

An output appears under its final name whole or not at all: it is written to a temporary
file beside the target (``.NAME.XXXX.tmp``) and renamed into place. An interrupt does
not break that promise either:

* :func:`stop_on_signals` (the command line runs inside it) turns SIGINT, SIGTERM and
  SIGHUP into :class:`Interrupted`, a :class:`KeyboardInterrupt`, so the same clean-up
  runs whichever signal stopped the run (temporary files removed, worker processes
  stopped);
* while an output is being written, or a worker process started (:func:`holding_signals`),
  such a signal is held back until that is done, so a run that is stopped knows exactly
  which outputs it wrote and which workers it must stop;
* :func:`remove_stale_temporaries` clears what a worker process killed outright
  (``SIGKILL``, the out-of-memory killer) may have left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from teikit.errors import OutputError, UsageError

#: The signals :func:`stop_on_signals` handles (those a terminal or a job runner sends).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_TEMP_SUFFIX = ".tmp"


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; says how far it got when it knows.

    A :class:`KeyboardInterrupt`, so that everything that cleans up after Ctrl-C does the
    same for SIGTERM. ``done`` of ``total`` files were finished and ``written`` outputs
    are in place (each whole); ``None`` where that does not apply. The exit status a
    shell expects is :attr:`exit_code` (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(
        self,
        signum: int = signal.SIGINT,
        *,
        done: int | None = None,
        total: int | None = None,
        written: int | None = None,
    ) -> None:
        super().__init__(signum)
        self.signum = int(signum)
        self.done = done
        self.total = total
        self.written = written

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def with_counts(
        self, *, done: int | None, total: int | None, written: int | None
    ) -> Interrupted:
        """The same interruption, with the figures of the run it stopped."""
        return Interrupted(self.signum, done=done, total=total, written=written)

    def __str__(self) -> str:
        text = f"interrupted ({self.signal_name})"
        if self.done is None or self.total is None:
            return text
        text += f": {self.done:,} of {self.total:,} files done"
        if self.written is not None:
            text += f", {self.written:,} {'output' if self.written == 1 else 'outputs'} written"
        if self.done < self.total:
            text += "; run again to finish"
        return text


# -- holding signals back while an output is written -------------------------------------


class _State:
    """Per process: how deep in :func:`holding_signals` we are, and a signal held back."""

    depth = 0
    pending: int | None = None
    #: Set once a signal has been raised: the run is stopping, later ones are ignored.
    stopping = False


def _raise(signum: int) -> None:
    _State.stopping = True
    raise Interrupted(signum)


def on_signal(signum: int, frame: FrameType | None = None) -> None:
    """A signal handler: raise :class:`Interrupted`, unless an output is being written
    (then once it is in place), or the run is already stopping (then nothing)."""
    if _State.stopping:
        return
    if _State.depth:
        _State.pending = signum
        return
    _raise(signum)


@contextlib.contextmanager
def holding_signals() -> Iterator[None]:
    """Hold back :func:`on_signal` until the block ends (and then raise, if one came).

    For short steps that must not be cut in two: an output written and counted, a
    worker process started and registered.
    """
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if not _State.depth and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            _raise(signum)  # the interruption wins over an error in the block


def check_signals() -> None:
    """Inside :func:`holding_signals`, at a point where stopping is safe: raise
    :class:`Interrupted` now if a signal was held back."""
    if _State.pending is not None:
        signum, _State.pending = _State.pending, None
        _raise(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Run the block with SIGINT, SIGTERM and SIGHUP raising :class:`Interrupted`.

    For programs (the command line) rather than libraries: it replaces the process's
    handlers for the block, and restores them after. Outside the main thread, where
    Python cannot set handlers, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    _State.stopping, _State.pending = False, None
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        _State.stopping, _State.pending = False, None


@contextlib.contextmanager
def safe_keyboard_interrupt() -> Iterator[None]:
    """For library calls that drive threads: Ctrl-C honours :func:`holding_signals`.

    Where SIGINT has Python's default handler (which raises :class:`KeyboardInterrupt`
    wherever the main thread is, even holding a lock another thread needs), the block
    runs with :func:`on_signal` instead, as ``asyncio.run`` does; a program that set its
    own handler (or :func:`stop_on_signals`) keeps it. Restored afterwards.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    signal.signal(signal.SIGINT, on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _State.stopping, _State.pending = False, None


# -- writing -----------------------------------------------------------------------------


def write_atomic(
    path: Path,
    text: str,
    *,
    protect: tuple[Path, ...] | frozenset[Path] = (),
    real: Callable[[Path], str] = os.path.realpath,
) -> bool:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place; True
    if it did, False if ``path`` already held exactly ``text`` and was left untouched.

    An output that has not changed keeps its file, and so its modification time, for
    the tools that look at it (make, rsync, a site's deploy step). It also spares the
    file system a new file: on ext4, a file made soon after many others were removed or
    replaced (a second run into the same folder) costs a search past each of them, which
    made such a run of the corpus a fifth slower.

    ``protect`` lists inputs that must never be overwritten (``-o`` pointing at the
    source). A frozenset is taken to hold resolved paths already (batch runs pass one, so
    that thousands of writes do not resolve thousands of inputs each). ``real`` resolves
    ``path`` (a run's :class:`~teikit.paths.RealPaths` resolves each folder once).
    """
    target = Path(real(path))
    if isinstance(protect, frozenset):
        clash = target in protect
    else:
        clash = any(Path(os.path.realpath(p)) == target for p in protect)
    if clash:
        raise UsageError(f"{path}: refusing to overwrite an input file")
    data = text.encode("utf-8")
    try:
        there = target.stat()
    except OSError:
        there = None
    if there is not None and stat.S_ISDIR(there.st_mode):
        raise OutputError(f"cannot write {path}: it is a folder")
    if there is not None and _holds(target, there, data):
        return False
    try:
        if there is None:
            target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(there.st_mode) if there is not None else 0o666 & ~_UMASK
        with holding_signals():
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=_TEMP_SUFFIX, dir=target.parent
            )
            try:
                if hasattr(os, "fchmod"):  # mkstemp makes 0600: give the mode a new file gets
                    os.fchmod(fd, mode)
                # No fsync: the rename makes the file appear whole or not at all to readers
                # and across an interrupted run; a power cut is not what a converter guards
                # against, and an fsync per output would triple the time of a corpus run.
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                Path(tmp).replace(target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
    return True


@dataclass(slots=True)
class Placed:
    """Outputs put in place, and those of them :func:`write_atomic` left as they were."""

    paths: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)

    def add(self, path: Path, changed: bool) -> None:
        """``path`` is in place; ``changed``: what writing it returned."""
        self.paths.append(path)
        if not changed:
            self.unchanged.append(path)


def _holds(target: Path, there: os.stat_result, data: bytes) -> bool:
    """Whether the regular file ``target`` (``there`` is its stat) holds ``data``; a
    file that cannot be read is taken to differ (writing it says what is wrong)."""
    if not stat.S_ISREG(there.st_mode) or there.st_size != len(data):
        return False
    try:
        with target.open("rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def ensure_folder(folder: Path) -> None:
    """Check that ``folder`` can be written to or created, so that a run whose output
    folder cannot be had stops with one message before any work, not one per file after
    it. Nothing is created here: a run that writes nothing leaves no empty folder."""
    nearest = _nearest(folder)
    if nearest is None:
        return
    if not nearest.is_dir():
        raise OutputError(f"cannot write to {folder}: {_not_a_folder(nearest)}")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {folder}: {nearest} is not writable")


def _nearest(path: Path) -> Path | None:
    """``path`` or its nearest ancestor that is there (a broken link counts): what is in
    the way, when a folder cannot be made."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None


def _not_a_folder(path: Path) -> str:
    return f"{path} is a file, not a folder" if path.is_file() else f"{path} is not a folder"


def _reason(exc: OSError) -> str:
    """The system's reason; a file where a folder is needed is named as such."""
    if exc.filename is not None and exc.errno in (errno.EEXIST, errno.ENOTDIR):
        nearest = _nearest(Path(os.fsdecode(exc.filename)))
        if nearest is not None and not nearest.is_dir():
            return _not_a_folder(nearest)
    return exc.strerror or str(exc)


def _process_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it (once, at import)
    os.umask(mask)
    return mask


_UMASK = _process_umask()


def remove_stale_temporaries(targets: Iterable[Path]) -> int:
    """Remove the temporary files :func:`write_atomic` may have left for ``targets``.

    Only a process killed outright (``SIGKILL``) leaves one. Each folder is listed once;
    returns how many files were removed.
    """
    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        by_folder.setdefault(target.parent, set()).add(target.name)
    removed = 0
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if not (name.startswith(".") and name.endswith(_TEMP_SUFFIX)):
                continue
            # .NAME.<random>.tmp, with NAME one of this folder's targets
            stem = name[1 : -len(_TEMP_SUFFIX)].rpartition(".")[0]
            if stem in names:
                with contextlib.suppress(OSError):
                    Path(entry.path).unlink()
                    removed += 1
    return removed


__all__ = [
    "STOP_SIGNALS",
    "Interrupted",
    "Placed",
    "check_signals",
    "ensure_folder",
    "holding_signals",
    "on_signal",
    "remove_stale_temporaries",
    "safe_keyboard_interrupt",
    "stop_on_signals",
    "write_atomic",
]
