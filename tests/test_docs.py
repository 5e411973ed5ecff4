"""The README stays true: quick start equals CI, and the CLI reference is generated."""

from __future__ import annotations

import os
import re

from click.testing import CliRunner

from teikit.cli import cli

from conftest import ROOT

README = ROOT / "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def _quick_start() -> list[str]:
    text = README.read_text("utf-8")
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```(?:sh|bash|shell)?\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    commands = _quick_start()
    assert len(commands) == 2
    assert "teikit build tei/" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text("utf-8").strip().splitlines()
    assert ci[-1] == commands[1]


def reference() -> str:
    """Every command's --help (subcommands of groups too), as the README shows it."""
    import click

    runner = CliRunner()
    parts = []

    def visit(path: list[str], command: click.Command) -> None:
        out = runner.invoke(cli, [*path, "--help"], prog_name="teikit", terminal_width=100)
        title = " ".join(["teikit", *path])
        parts.append(f"### `{title}`\n\n```\n{out.output.rstrip()}\n```\n")
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                visit([*path, name], command.commands[name])

    visit([], cli)
    return "\n".join(parts)


def test_cli_reference_in_readme_is_current() -> None:
    text = README.read_text("utf-8")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    fresh = f"{before}{START}\n{reference()}{END}{after}"
    if os.environ.get("TEIKIT_UPDATE_DOCS"):
        README.write_text(fresh, "utf-8")
    assert text == fresh, "README CLI reference is stale: run with TEIKIT_UPDATE_DOCS=1"
