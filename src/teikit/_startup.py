"""What must happen before anything imports lxml, done once when teikit is imported."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _LazyRnc2rng(types.ModuleType):
    """Stands in for ``rnc2rng`` until something uses it, then becomes it.

    ``lxml.etree`` imports rnc2rng (when installed) as it is itself imported, and rnc2rng
    builds its parser and imports urllib.request then: 40 ms, a fifth of every command's
    start-up, for RELAX NG compact syntax that few runs read. (The standard library's
    ``LazyLoader`` cannot help: an ``import`` statement touches the module, which loads it.)
    """

    def __getattr__(self, name: str) -> object:
        if sys.modules.get("rnc2rng") is self:
            del sys.modules["rnc2rng"]
        real = importlib.import_module("rnc2rng")
        self.__dict__.update(real.__dict__)  # lxml keeps this object: it must work as rnc2rng
        sys.modules["rnc2rng"] = real
        return getattr(real, name)


def _defer_rnc2rng() -> None:
    if "rnc2rng" in sys.modules or "lxml.etree" in sys.modules:
        return
    spec = importlib.util.find_spec("rnc2rng")
    if spec is not None:
        sys.modules["rnc2rng"] = _LazyRnc2rng("rnc2rng")


_defer_rnc2rng()
