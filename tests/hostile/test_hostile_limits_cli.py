"""The limits of SECURITY.md on the command line: every command that reads files takes
``--max-bytes``, ``--max-depth``, ``--max-text`` and ``--max-elements``; the defaults
refuse what exceeds them, naming the file, the construct and the flag that raises the
limit, and raising the limit makes the same file load (lowering it, refuse).

Each command runs in-process (``teikit.cli.main``: exit code and streams as a shell sees
them) on a small letter that has an entry and a mention (for ``entities``) and a
``div[@type='document']`` (for ``split``), with the shape that meets the limit inside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from teikit.cli import main
from teikit.loading import DEFAULT_MAX_DEPTH, DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_TEXT, HARD_MAX_DEPTH

TEI_NS = "http://www.tei-c.org/ns/1.0"
COMMANDS = ["validate", "convert", "build", "info", "entities", "split"]


def letter(inside: str) -> bytes:
    """A letter with one person entry, a mention of it, and ``inside`` in its paragraph."""
    return (
        f'<TEI xmlns="{TEI_NS}"><teiHeader><fileDesc><titleStmt><title>Limits</title>'
        "</titleStmt><publicationStmt><p>p</p></publicationStmt><sourceDesc><p>s</p>"
        "</sourceDesc></fileDesc><profileDesc><particDesc><listPerson>"
        '<person xml:id="pers.ada"><persName>Ada Lovelace</persName></person>'
        "</listPerson></particDesc></profileDesc></teiHeader><text><body>"
        '<div type="document"><p><persName ref="#pers.ada">Ada</persName> wrote: '
        f"{inside}</p></div></body></text></TEI>"
    ).encode()


def nested(depth: int) -> str:
    return "<hi>" * depth + "deep" + "</hi>" * depth


@dataclass(frozen=True)
class Limit:
    """A file, the flags that change the limit it meets, and what a refusal says."""

    id: str
    data: bytes
    flags: tuple[str, ...]
    code: str
    flag: str
    #: True: the default refuses it and the flags raise the limit; False: the default
    #: loads it and the flags lower the limit.
    raised: bool


RAISED = [
    Limit(
        "depth",
        letter(nested(DEFAULT_MAX_DEPTH + 40)),
        ("--max-depth", str(DEFAULT_MAX_DEPTH + 100)),
        "xml.too-deep",
        "--max-depth",
        True,
    ),
    Limit(
        "text",
        letter("x" * (DEFAULT_MAX_TEXT + 100)),
        ("--max-text", str(2 * DEFAULT_MAX_TEXT)),
        "xml.huge-text",
        "--max-text",
        True,
    ),
]
LOWERED = [
    Limit("bytes", letter("short"), ("--max-bytes", "300"), "io.too-large", "--max-bytes", False),
    Limit(
        "elements",
        letter("<lb/>" * 3000),
        ("--max-elements", "1000"),
        "xml.too-large",
        "--max-elements",
        False,
    ),
    Limit(
        "depth-lowered",
        letter(nested(40)),
        ("--max-depth", "30"),
        "xml.too-deep",
        "--max-depth",
        False,
    ),
    Limit(
        "text-lowered",
        letter("y" * 5000),
        ("--max-text", "1000"),
        "xml.huge-text",
        "--max-text",
        False,
    ),
]


@dataclass
class Outcome:
    code: int
    output: str
    loaded: bool


def run(
    capsys: pytest.CaptureFixture[str], argv: list[str], loaded: Callable[[int, str], bool]
) -> Outcome:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output and "internal error" not in output, output[-2000:]
    code = exit_info.value.code
    assert isinstance(code, int)
    return Outcome(code, output, loaded(code, output))


def through(
    command: str, path: Path, flags: tuple[str, ...], out: Path, capsys: pytest.CaptureFixture[str]
) -> Outcome:
    """Run ``command`` on ``path``; ``loaded`` says whether the file was read."""
    if command == "validate":
        argv = ["validate", str(path), "--format", "json", *flags]
        result = run(capsys, argv, lambda code, _: code == 0)
        if not result.loaded:
            assert json.loads(result.output)["files"][0]["valid"] is False
        return result
    if command == "convert":
        target = out / "converted.txt"
        argv = ["convert", str(path), "--to", "text", "-o", str(target), *flags]
        result = run(capsys, argv, lambda code, _: code == 0)
        assert target.is_file() == result.loaded
        return result
    if command == "build":
        argv = ["build", str(path), "-o", str(out / "built"), *flags]
        result = run(capsys, argv, lambda code, _: code == 0)
        assert (out / "built" / f"{path.stem}.txt").is_file() == result.loaded
        return result
    if command == "info":
        argv = ["info", str(path), "--format", "json", *flags]
        result = run(capsys, argv, lambda code, _: code == 0)
        (described,) = json.loads(result.output)
        assert (described["kind"] == "tei") == result.loaded
        return result
    if command == "entities":
        argv = ["entities", str(path), "--format", "json", *flags]
        result = run(capsys, argv, lambda code, _: code == 0)
        assert ('"id": "pers.ada"' in result.output) == result.loaded
        return result
    assert command == "split"
    argv = ["split", str(path), "-o", str(out / "split"), *flags]
    result = run(capsys, argv, lambda code, _: code == 0)
    written = list((out / "split").glob("*.xml")) if (out / "split").is_dir() else []
    assert bool(written) == result.loaded
    return result


def _refusal_says_why(limit: Limit, command: str, result: Outcome, path: Path) -> None:
    assert result.code == 1, (command, result.output)
    assert path.name in result.output, (command, result.output)
    if command in ("validate", "build", "info", "entities"):
        assert limit.code in result.output, (command, result.output)
    assert limit.flag in result.output, (command, result.output)  # how to raise it


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("limit", RAISED + LOWERED, ids=lambda limit: limit.id)
def test_the_default_and_the_flag(
    limit: Limit, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{limit.id}.xml"
    path.write_bytes(limit.data)
    default = through(command, path, (), tmp_path / "default", capsys)
    flagged = through(command, path, limit.flags, tmp_path / "flagged", capsys)
    refused, loaded = (default, flagged) if limit.raised else (flagged, default)
    assert loaded.loaded, (command, loaded.output)
    assert not refused.loaded, (command, refused.output)
    _refusal_says_why(limit, command, refused, path)


def test_millions_of_elements_load_only_when_the_limit_is_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over the default of 2,000,000 elements (about 10 MB): refused, unless raised."""
    path = tmp_path / "many.xml"
    path.write_bytes(letter("<lb/>" * (DEFAULT_MAX_ELEMENTS + 10)))
    default = through("validate", path, (), tmp_path, capsys)
    assert not default.loaded
    assert "xml.too-large" in default.output and "--max-elements" in default.output
    raised = ("--max-elements", str(DEFAULT_MAX_ELEMENTS + 1000))
    assert through("validate", path, raised, tmp_path, capsys).loaded


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "flags",
    [
        ("--max-depth", str(HARD_MAX_DEPTH + 1)),  # libxml2 cannot go deeper
        ("--max-depth", "0"),
        ("--max-elements", "0"),
        ("--max-text", "-1"),
        ("--max-bytes", "0"),
    ],
    ids=lambda f: "=".join(f),
)
def test_impossible_limits_are_usage_errors(
    command: str, flags: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "letter.xml"
    path.write_bytes(letter("fine"))
    extra = {
        "convert": ["--to", "text"],
        "build": ["-o", str(tmp_path / "b")],
        "split": ["-o", str(tmp_path / "s")],
    }.get(command, [])
    result = run(capsys, [command, str(path), *extra, *flags], lambda code, _: code == 0)
    assert result.code == 2, result.output
    assert flags[0] in result.output


def test_build_loads_with_its_own_limits_and_xinclude(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``build`` converts what it validated: one load, with the limits and --xinclude
    given (they once applied to validation only)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "part.xml").write_text(f'<p xmlns="{TEI_NS}">included words</p>', "utf-8")
    main_file = folder / "main.xml"
    main_file.write_bytes(
        letter('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="part.xml"/>')
    )
    out = tmp_path / "out"
    run(capsys, ["build", str(main_file), "-o", str(out), "--xinclude"], lambda c, _: c == 0)
    assert "included words" in (out / "main.txt").read_text("utf-8")
    deep = folder / "deep.xml"
    deep.write_bytes(letter(nested(40)))
    result = run(
        capsys, ["build", str(deep), "-o", str(out), "--max-depth", "30"], lambda c, _: c == 0
    )
    assert result.code == 1 and "xml.too-deep" in result.output
    assert not (out / "deep.txt").exists()
