"""Writing outputs without ever leaving a half-written file or touching an input."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from teikit.errors import UsageError


def write_atomic(
    path: Path, text: str, *, protect: tuple[Path, ...] | frozenset[Path] = ()
) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place.

    ``protect`` lists inputs that must never be overwritten (``-o`` pointing at the
    source). A frozenset is taken to hold resolved paths already (batch runs pass one, so
    that thousands of writes do not resolve thousands of inputs each).
    """
    target = path.resolve()
    if isinstance(protect, frozenset):
        clash = target in protect
    else:
        clash = any(p.resolve() == target for p in protect)
    if clash:
        raise UsageError(f"{path}: refusing to overwrite an input file")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # No fsync: the rename makes the file appear whole or not at all to readers and
        # across an interrupted run; a power cut is not what a converter guards against,
        # and an fsync per output would triple the time of a corpus run.
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
