"""Writing outputs without ever leaving a half-written file or touching an input."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from teikit.errors import UsageError


def write_atomic(path: Path, text: str, *, protect: tuple[Path, ...] = ()) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place.

    ``protect`` lists inputs that must never be overwritten (``-o`` pointing at the source).
    """
    target = path.resolve()
    for p in protect:
        if p.resolve() == target:
            raise UsageError(f"{path}: refusing to overwrite an input file")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
