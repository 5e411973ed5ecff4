"""libFuzzer target (atheris): bytes -> teikit's loader -> every converter.

The contract under test is the one the hostile-input tests check on a fixed corpus:
whatever the bytes, :func:`teikit.loading.parse_bytes` returns a document or diagnostics
(it never raises), and every converter renders a loaded document or raises
:class:`teikit.InputError` (CMIF without a ``correspDesc``). Any other exception is a
crash; a hang (``-timeout``) or runaway memory (``-rss_limit_mb``) is a finding too.

Run it (see ``fuzz/README.md``)::

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_convert.py fuzz/corpus -max_total_time=3600 -timeout=30

Without atheris the module still imports (``python fuzz/fuzz_convert.py FILE...`` then
runs the target once on each file, which is how a crash found elsewhere is replayed).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

try:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # atheris is optional: it does not build everywhere
    atheris = None

_instrumented = atheris.instrument_imports() if atheris is not None else contextlib.nullcontext()
with _instrumented:
    from teikit.convert import FORMATS, convert_document
    from teikit.document import TeiDocument
    from teikit.errors import InputError
    from teikit.loading import LoadOptions, parse_bytes

#: Small limits keep each input fast: the fuzzer looks for crashes, not for big files.
OPTIONS = LoadOptions(max_bytes=1 << 20, max_elements=20_000, max_depth=256)
NAME = Path("fuzz-input.xml")


def test_one_input(data: bytes) -> None:
    """The property: a document or diagnostics; then output or an InputError per format."""
    loaded = parse_bytes(data, NAME, OPTIONS, shown=NAME.name)
    if loaded.document is None:
        if not loaded.diagnostics:
            raise AssertionError("no document and no diagnostic")
        return
    doc = TeiDocument(loaded.document)
    for fmt in FORMATS:
        try:
            out = convert_document(doc, fmt)
        except InputError:
            if fmt != "cmif":
                raise
            continue
        if not isinstance(out, str):
            raise AssertionError(f"{fmt} gave {type(out).__name__}")


def main(argv: list[str]) -> None:
    if atheris is None:
        files = [Path(a) for a in argv[1:] if not a.startswith("-")]
        if not files:
            sys.exit("atheris is not installed: pip install atheris (or pass files to replay)")
        for file in files:
            test_one_input(file.read_bytes())
            print(f"ok: {file}")
        return
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
