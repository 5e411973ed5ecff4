"""Resolving many paths cheaply: a run over a folder resolves each of its files several
times (to drop duplicates, to keep outputs off inputs, to find their configuration), and
``os.path.realpath`` asks the system about every folder above a file, for every file."""

# Strings, not pathlib objects: what is saved here is microseconds per file.
# ruff: noqa: PTH109, PTH114, PTH117, PTH118

from __future__ import annotations

import os


class RealPaths:
    """``os.path.realpath`` for many files, each folder resolved once.

    A file that is not a link resolves to its resolved folder plus its name; a link, a
    name like ``..``, or any other platform than POSIX takes ``os.path.realpath`` in
    full. Each answer is kept too, for the parts of a run that ask about the same files.
    Keep one for a run only: what it learnt is not looked at again.
    """

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}
        self._files: dict[str, str] = {}

    def __call__(self, path: str | os.PathLike[str]) -> str:
        text = os.fspath(path)
        found = self._files.get(text)
        if found is None:
            found = self._files[text] = self._resolve(text)
        return found

    def _resolve(self, text: str) -> str:
        folder, name = os.path.split(text)
        if os.name != "posix" or name in ("", ".", "..") or os.path.islink(text):
            return os.path.realpath(text)
        key = os.path.join(os.getcwd(), folder) if not os.path.isabs(folder) else folder
        real = self._folders.get(key)
        if real is None:
            real = self._folders[key] = os.path.realpath(key)
        return os.path.join(real, name)
