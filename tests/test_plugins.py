"""Converters from other packages, through the ``teikit.converters`` entry-point group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import LETTER


def _install_plugin(site: Path) -> None:
    """A minimal installed distribution with one entry point, on its own sys.path entry."""
    (site / "wordcount_plugin.py").write_text(
        textwrap.dedent(
            """
            from teikit.convert import Format, to_text

            def render(doc, options):
                return f"{len(to_text(doc, options.text).split())} words\\n"

            FORMAT = Format("wordcount", ".count", render, "how many words")
            """
        )
    )
    dist = site / "wordcount_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wordcount-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[teikit.converters]\nwordcount = wordcount_plugin:FORMAT\nbroken = no_such_module:X\n"
    )


def test_plugin_format_is_offered_and_used(tmp_path: Path) -> None:
    _install_plugin(tmp_path)
    env_path = f"{tmp_path}"
    code = (
        f"import sys; sys.path.insert(0, {env_path!r})\n"
        "from teikit.cli import main\n"
        f"main(['convert', {str(LETTER)!r}, '--to', 'wordcount'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    count = int(proc.stdout.split()[0])
    assert 700 < count < 1200
    # the broken entry point was skipped without breaking the built-in formats
    found = f"import sys; sys.path.insert(0, {env_path!r})\n"
    out = _python(found + "from teikit.convert import FORMATS\nprint(sorted(FORMATS))\n")
    assert "'wordcount'" in out and "'text'" in out and "broken" not in out
    # plugins are looked up lazily, but the help still offers them
    help_text = _python(found + "from teikit.cli import main\nmain(['convert', '--help'])\n")
    assert "wordcount" in help_text and "markdown" in help_text


def test_start_up_leaves_heavy_modules_unloaded() -> None:
    """Importing the command line loads none of what only some runs need.

    rnc2rng (which lxml imports with itself, and which builds its parser and imports
    urllib.request), importlib.metadata (plugins) and pathspec (ignore files) were a third
    of every command's start-up.
    """
    code = (
        "import sys, teikit.cli\n"
        "heavy = ('rnc2rng.parser', 'urllib.request', 'http.client', 'importlib.metadata',"
        " 'pathspec', 'email.parser')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert _python(code).strip() == "[]"


def test_rnc2rng_still_works_for_lxml_after_teikit() -> None:
    """The stand-in teikit puts in place of rnc2rng becomes the real module when used,
    for lxml's own compact-syntax support as for teikit's."""
    code = (
        "import teikit\n"
        "from lxml import etree\n"
        "schema = etree.RelaxNG.from_rnc_string('element a { text }')\n"
        "print(schema(etree.XML('<a>x</a>')), schema(etree.XML('<b/>')))\n"
        "import rnc2rng; print(callable(rnc2rng.dumps))\n"
    )
    assert _python(code).split() == ["True", "False", "True"]


def _python(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter (nothing imported yet)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
