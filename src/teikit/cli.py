"""The ``teikit`` command: parse arguments, call the library, map results to exit codes.

Exit codes: 0 clean; 1 findings (invalid or unreadable input); 2 usage or configuration
error; 3 internal error (a bug in teikit: please report it); 128 + the signal's number
when a signal stopped the run: 130 for SIGINT (Ctrl-C), 143 for SIGTERM, 129 for SIGHUP.
A stopped run leaves only whole outputs and says how far it got.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from teikit.batch import BatchOptions, BatchResult, run_batch
from teikit.build import BuildOptions, build
from teikit.convert import (
    BUILTIN_NAMES,
    FORMATS,
    CmifOptions,
    ConvertOptions,
    convert,
    convert_stream,
    output_path,
)
from teikit.convert.rules import RenderRules
from teikit.diagnostics import Severity
from teikit.discovery import names_one_file
from teikit.entities import register
from teikit.entities import to_csv as entities_csv
from teikit.entities import to_json as entities_json
from teikit.errors import InputError, OutputError, TeikitError, UsageError
from teikit.info import format_info, info
from teikit.loading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_ELEMENTS,
    DEFAULT_MAX_TEXT,
    HARD_MAX_DEPTH,
    HARD_MAX_TEXT,
    LoadOptions,
)
from teikit.output import Interrupted, stop_on_signals, write_atomic
from teikit.parallel import DaskExecutor, Executor, progress_for
from teikit.report import AUTO, REPORTERS, resolve_format
from teikit.runner import XML_SUFFIXES, Run, ValidateOptions, validate, validate_stream
from teikit.schemas import ResolveOptions, fetch_schema, find_config
from teikit.split import SplitResult, split

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


class _FormatChoice(click.Choice[str]):
    """The formats, with plugins looked up only when a name is not built in, or for the
    help and completion (see :data:`teikit.convert.FORMATS`)."""

    def __init__(self) -> None:
        super().__init__(BUILTIN_NAMES)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(sorted(FORMATS))

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # click's __init__ sets them; they are read from FORMATS instead

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in BUILTIN_NAMES:
            return str(value)
        return super().convert(value, param, ctx)


def _loading_options(func: F) -> F:
    """How input files are read, for every command that reads them (see SECURITY.md)."""
    decorators: list[Callable[[Any], Any]] = [
        click.option(
            "--max-bytes",
            type=click.IntRange(min=1),
            default=DEFAULT_MAX_BYTES,
            show_default=True,
            help="Refuse input files larger than this many bytes.",
        ),
        click.option(
            "--max-depth",
            type=click.IntRange(min=1, max=HARD_MAX_DEPTH),
            default=DEFAULT_MAX_DEPTH,
            show_default=True,
            help=f"Refuse elements nested deeper than this (at most {HARD_MAX_DEPTH}).",
        ),
        click.option(
            "--max-text",
            type=click.IntRange(min=1, max=HARD_MAX_TEXT),
            default=DEFAULT_MAX_TEXT,
            show_default=True,
            help="Refuse a text node, comment or attribute value longer than this many characters.",
        ),
        click.option(
            "--max-elements",
            type=click.IntRange(min=1),
            default=DEFAULT_MAX_ELEMENTS,
            show_default=True,
            help="Refuse documents with more elements than this (entities expanded).",
        ),
        click.option(
            "--xinclude",
            is_flag=True,
            help="Expand xi:include of local files inside the input's folder (off by default; "
            "remote or outside hrefs are refused).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _load_options(flags: dict[str, Any]) -> LoadOptions:
    """LoadOptions from the flags :func:`_loading_options` adds."""
    return LoadOptions(
        max_bytes=flags["max_bytes"],
        max_depth=flags["max_depth"],
        max_text=flags["max_text"],
        max_elements=flags["max_elements"],
        xinclude=flags["xinclude"],
    )


def _validation_options(func: F) -> F:
    """Options shared by ``validate`` and ``build``; :func:`_validate_options` reads them."""
    decorators: list[Callable[[Any], Any]] = [
        click.option(
            "--schema",
            "schemas",
            multiple=True,
            metavar="FILE|URL",
            help="Schema to check against (.rng, .rnc, .xsd, .sch; a URL resolves through "
            "catalogs and the cache); repeatable. Default: the file's <?xml-model?> or "
            "xsi:schemaLocation, else [tool.teikit] config.",
        ),
        click.option(
            "--catalog",
            "catalogs",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="OASIS XML catalog mapping schema URLs to local files; repeatable "
            "(also XML_CATALOG_FILES).",
        ),
        click.option(
            "--allow-network/--no-allow-network",
            default=None,
            help="Fetch schemas no catalog or cache has (default: no, or the config's "
            "allow-network).",
        ),
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(min=0),
            default=1,
            show_default=True,
            help="Worker processes; 0 for one per core.",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Status line on stderr (files, rate, time left); default: on a terminal "
            "outside CI.",
        ),
        click.option(
            "--executor",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help="Where files are processed: local worker processes (--jobs) or a Dask cluster.",
        ),
        click.option(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            help="Dask scheduler address (with --executor dask).",
        ),
        click.option(
            "--ship-files",
            is_flag=True,
            help="With --executor dask: read files here and send their bytes (no shared folder).",
        ),
        click.option(
            "--changed-since",
            metavar="REF",
            help="Only files changed in git since REF (plus untracked ones).",
        ),
        click.option(
            "--xref",
            is_flag=True,
            help="Also check #id and file.xml#id pointers across the files.",
        ),
        click.option(
            "--suffix",
            "suffixes",
            multiple=True,
            help="File suffixes taken from folders and globs (default: .xml .tei).",
        ),
        click.option(
            "--no-gitignore", is_flag=True, help="Walk folders without honouring .gitignore."
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice([*sorted(REPORTERS), AUTO]),
            default=AUTO,
            show_default=True,
            help="Report format; auto is github inside GitHub Actions, else human.",
        ),
        click.option(
            "--severity",
            type=click.Choice(["info", "warning", "error"]),
            default="info",
            show_default=True,
            help="Leave out findings below this severity.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return _loading_options(func)


def _executor(flags: dict[str, Any]) -> Executor | None:
    if flags["executor"] == "dask":
        if not flags["scheduler"]:
            raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT")
        return DaskExecutor(flags["scheduler"], ship_files=flags["ship_files"])
    if flags["scheduler"] or flags["ship_files"]:
        raise UsageError("--scheduler and --ship-files need --executor dask")
    return None


def _validate_options(flags: dict[str, Any]) -> ValidateOptions:
    """ValidateOptions from the shared flags (and nothing else)."""
    return ValidateOptions(
        executor=_executor(flags),
        progress=progress_for(sys.stderr, flags["progress"]),
        schemas=tuple(flags["schemas"]),
        catalogs=tuple(flags["catalogs"]),
        allow_network=flags["allow_network"],
        jobs=flags["jobs"],
        changed_since=flags["changed_since"],
        xref=flags["xref"],
        suffixes=tuple(flags["suffixes"]) or XML_SUFFIXES,
        gitignore=not flags["no_gitignore"],
        load=_load_options(flags),
        min_severity=Severity.parse(flags["severity"]),
    )


def _configured_rules(inputs: tuple[str, ...]) -> RenderRules | None:
    """``[tool.teikit.render]`` of the project the first input belongs to, if any."""
    try:
        config = find_config(Path(inputs[0]))
    except (OSError, RuntimeError):  # a symbolic link loop: loading it says so
        return None
    return config.render if config is not None else None


@contextlib.contextmanager
def _stdout() -> Iterator[TextIO]:
    """Standard output for a command's result, flushed before the command ends, so that
    a full disk or a closed stream is a message (exit 2) and not a crash at exit."""
    stream = sys.stdout
    if stream is None:
        raise OutputError("cannot write to standard output: it is closed")
    try:
        yield stream
        stream.flush()
    except BrokenPipeError:
        # The reader stopped early (``| head``): not a failure of ours. The rest goes
        # nowhere, and the exit code still says what the run found.
        _discard_stdout()
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from exc


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _wrote(result: BatchResult | SplitResult, out: object) -> str:
    """The run's last line: outputs written, and those already up to date (left as they
    were, their times kept)."""
    same = len(result.unchanged)
    line = f"wrote {len(result.written) - same} file(s) to {out}"
    return f"{line}; {same} already up to date" if same else line


def _report(run: Run, fmt: str) -> str:
    """Write the report; returns the format actually used (``auto`` resolved)."""
    fmt = resolve_format(fmt, os.environ)
    with _stdout() as stream:
        colour = fmt == "human" and stream.isatty() and "NO_COLOR" not in os.environ
        REPORTERS[fmt](run, stream, colour)
    return fmt


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="teikit")
def cli() -> None:
    """Validate TEI XML against any schema and convert it to text and HTML."""


def _stdin_option(func: F) -> F:
    """``--stdin-filename``, for commands that read standard input as ``-``."""
    return click.option(
        "--stdin-filename",
        type=click.Path(dir_okay=False),
        help="With '-': the file standard input holds (an editor's buffer). Messages name "
        "it; its <?xml-model?> and configuration are found from its folder.",
    )(func)


def _stdin_alone(inputs: tuple[str, ...], stdin_filename: str | None) -> bool:
    """Whether the input is standard input (``-``, which must then be the only one)."""
    if "-" not in inputs:
        if stdin_filename is not None:
            raise click.UsageError("--stdin-filename goes with '-' (standard input)")
        return False
    if len(inputs) > 1:
        raise click.UsageError("'-' (standard input) must be the only input")
    return True


@cli.command("validate")
@click.argument("paths", nargs=-1, required=True)
@_validation_options
@_stdin_option
def validate_cmd(
    paths: tuple[str, ...], fmt: str, stdin_filename: str | None, **flags: Any
) -> None:
    """Check files, folders and globs against their schemas and report every finding.

    '-' reads one document from standard input. Exit 0 when every file is valid, 1 when
    any has errors, 2 on a usage error.
    """
    if _stdin_alone(paths, stdin_filename):
        run = validate_stream(sys.stdin.buffer, _validate_options(flags), name=stdin_filename)
    else:
        run = validate(paths, _validate_options(flags))
    _report(run, fmt)
    sys.exit(EXIT_OK if run.ok else EXIT_FINDINGS)


@cli.command("convert")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--to",
    "formats",
    type=_FormatChoice(),
    required=True,
    multiple=True,
    help="Output format (repeatable for folders).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="One file: write here (atomically) instead of standard output; into it, named "
    "after the input, when it is a folder or ends with a slash. "
    "A folder of files: the output folder (required).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Folders: worker processes; 0 for one per core.",
)
@click.option(
    "--width",
    type=click.IntRange(min=0),
    default=72,
    show_default=True,
    help="Text: wrap paragraphs at this width; 0 for no wrapping.",
)
@click.option(
    "--notes",
    type=click.Choice(["end", "inline", "omit"]),
    default="end",
    show_default=True,
    help="Where notes go (text, json; markdown: omit or footnotes).",
)
@click.option(
    "--pages", is_flag=True, help="Show page breaks: [Page N] in text, comments in Markdown."
)
@click.option(
    "--diplomatic",
    is_flag=True,
    help="The source as written (abbr/orig/sic, deletions as ⟦…⟧), not the edited reading.",
)
@click.option("--header", is_flag=True, help="Text: begin with a citation block from the header.")
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of render rules ([render] table) changing how elements render.",
)
@click.option("--fragment", is_flag=True, help="HTML: write a fragment, not a whole page.")
@click.option("--cmif-title", help="CMIF: title of the list of letters.")
@click.option("--cmif-editor", help="CMIF: contact person (default from the header).")
@click.option("--cmif-email", help="CMIF: the contact person's e-mail address.")
@click.option("--cmif-url", help="CMIF: URL where the CMIF file will be published.")
@click.option(
    "--letter-url", help="CMIF: where each letter is online: a template with {id} or a base URL."
)
@_loading_options
@_stdin_option
def convert_cmd(
    inputs: tuple[str, ...],
    formats: tuple[str, ...],
    output: str | None,
    jobs: int,
    width: int,
    notes: str,
    pages: bool,
    diplomatic: bool,
    header: bool,
    rules: Path | None,
    fragment: bool,
    cmif_title: str | None,
    cmif_editor: str | None,
    cmif_email: str | None,
    cmif_url: str | None,
    letter_url: str | None,
    stdin_filename: str | None,
    **flags: Any,
) -> None:
    """Convert TEI to text, HTML, Markdown, JSON or CMIF.

    One file (or '-', standard input) goes to standard output (or -o FILE). Folders,
    globs and several files go to the folder -o names, mirroring the input tree
    (a/b.xml -> OUT/a/b.txt); a file that cannot be converted is reported and the
    others still convert (exit 1). CMIF is one file for the whole run; HTML runs get an
    index.html.
    """
    options = ConvertOptions.from_flags(
        width=width,
        notes=notes,  # type: ignore[arg-type]
        pages=pages,
        diplomatic=diplomatic,
        header=header,
        fragment=fragment,
        rules=RenderRules.load(rules) if rules else _configured_rules(inputs),
        cmif=CmifOptions(
            title=cmif_title,
            editor=cmif_editor,
            email=cmif_email,
            url=cmif_url,
            letter_url=letter_url,
        ),
        load=_load_options(flags),
    )
    stdin = _stdin_alone(inputs, stdin_filename)
    if stdin or names_one_file(inputs):
        if len(formats) > 1:
            raise click.UsageError("one file converts to one format; repeat --to for folders")
        if stdin:
            source = Path(stdin_filename or "stdin.xml")  # what -o FOLDER/ names it after
            result = convert_stream(sys.stdin.buffer, formats[0], options, name=stdin_filename)
        else:
            source = Path(inputs[0])
            result = convert(source, formats[0], options)
        if output is None:
            with _stdout() as stream:
                stream.write(result)
        else:
            write_atomic(output_path(source, formats[0], output), result, protect=(source,))
        return
    if output is None:
        what = (
            f"{inputs[0]} is a folder or a pattern: converting it"
            if len(inputs) == 1
            else "converting several files"
        )
        raise click.UsageError(f"{what} needs -o OUTPUT_FOLDER")
    batch = run_batch(inputs, output, BatchOptions(formats=formats, convert=options, jobs=jobs))
    REPORTERS["human"](batch.run, sys.stderr, False)
    click.echo(_wrote(batch, output), err=True)
    sys.exit(EXIT_OK if batch.run.ok else EXIT_FINDINGS)


@cli.command("build")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for the outputs.",
)
@click.option(
    "--to",
    "formats",
    multiple=True,
    type=_FormatChoice(),
    help="Formats to write (repeatable). Default: text and html.",
)
@_validation_options
def build_cmd(
    paths: tuple[str, ...], out_dir: Path, formats: tuple[str, ...], fmt: str, **flags: Any
) -> None:
    """Validate every file, then write its text and HTML under the output folder.

    The folder tree is mirrored: tei/a/b.xml becomes OUT/a/b.txt and OUT/a/b.html, and
    OUT/index.html links every page. Exit 1 when any file has validation errors (the
    outputs are still written).
    """
    options = BuildOptions(formats=formats or ("text", "html"), validate=_validate_options(flags))
    result = build(paths, out_dir, options)
    if _report(result.run, fmt) == "human":
        click.echo(_wrote(result, out_dir))
    sys.exit(EXIT_OK if result.run.ok else EXIT_FINDINGS)


@cli.command("info")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json"]),
    default="human",
    show_default=True,
    help="Output format.",
)
@_loading_options
def info_cmd(paths: tuple[Path, ...], fmt: str, **flags: Any) -> None:
    """Say what each file is (TEI P5, corpus, fragment, P4, other XML) and what it holds.

    Exit 1 when a file cannot be read or is not TEI P5.
    """
    found = info(paths, _load_options(flags))
    with _stdout() as stream:
        if fmt == "json":
            json.dump([fi.to_dict() for fi in found], stream, ensure_ascii=False, indent=2)
            stream.write("\n")
        else:
            for fi in found:
                stream.write(format_info(fi))
    bad = any(fi.kind not in ("tei", "tei-corpus", "tei-fragment") for fi in found)
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


@cli.command("entities")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option("--linked-only", is_flag=True, help="Leave out names that point at no entry.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (atomically) instead of standard output.",
)
@_loading_options
def entities_cmd(
    paths: tuple[Path, ...], fmt: str, linked_only: bool, output: Path | None, **flags: Any
) -> None:
    """List every person, organization and place of a corpus with its mentions.

    Each entry (from standOff, the header, persons lists, register files) comes with its
    authority URIs, how often and where it is mentioned; names that point at no entry
    follow, grouped by their text, as candidates for the register.

    A file that cannot be read is reported on standard error and left out; the register
    of the others is still written, and the exit status is 1.
    """
    found = register(paths, _load_options(flags), unlinked=not linked_only)
    text = entities_csv(found.records) if fmt == "csv" else entities_json(found.records)
    if output is None:
        with _stdout() as stream:
            stream.write(text)
    else:
        write_atomic(output, text, protect=tuple(paths))
    if found.problems:
        REPORTERS["human"](found.run, sys.stderr, False)
    sys.exit(EXIT_OK if found.complete else EXIT_FINDINGS)


@cli.command("split")
@click.argument("volume", type=click.Path(path_type=Path))
@click.option(
    "--by",
    default="document",
    show_default=True,
    help="Split at each <div> with this @type (the publisher's volumes: document).",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the standalone files.",
)
@_loading_options
def split_cmd(volume: Path, by: str, out_dir: Path, **flags: Any) -> None:
    """Split a multi-document volume into standalone TEI files, one per division.

    Each file keeps the volume's header, the page it starts on, its facsimile surfaces
    and the entries it points to (standOff, list* and the persons/terms lists, with the
    entries those point to); pointers to other documents become pointers to their files,
    and those that must stay outside point into the volume from the output folder.
    """
    result = split(volume, out_dir, by=by, load_options=_load_options(flags))
    click.echo(_wrote(result, out_dir))
    if result.external_pointers:
        click.echo(
            f"{result.external_pointers} pointer(s) in {len(result.diagnostics)} file(s) lead "
            f"outside their document and point into {volume} "
            f"(teikit validate --xref {out_dir} {volume} checks them)",
            err=True,
        )


@cli.group("schema")
def schema_group() -> None:
    """Manage schemas named by URL (teikit never fetches during validation unless allowed)."""


@schema_group.command("fetch")
@click.argument("urls", nargs=-1, required=True)
def schema_fetch_cmd(urls: tuple[str, ...]) -> None:
    """Download schemas (and what they include) into the local cache, for offline use.

    The cache is $XDG_CACHE_HOME/teikit/schemas (~/.cache/teikit/schemas); files are
    written atomically. Validation then finds them without the network.
    """
    options = ResolveOptions.build(allow_network=True, config=find_config(Path.cwd()))
    for url in urls:
        path = fetch_schema(url, options)
        click.echo(f"{url} -> {path}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn every failure into a message and a documented exit code.

    SIGINT, SIGTERM and SIGHUP stop a run the same way: outputs being written are
    finished, temporary files removed, workers stopped; the message says how far the
    run got, and the exit code is 128 + the signal's number.
    """
    _utf8_streams()
    with stop_on_signals():
        try:
            _main(argv)
        except KeyboardInterrupt as exc:  # a signal outside click's own handling
            _stopped(exc)


def _utf8_streams() -> None:
    """Documents, reports and JSON go out as UTF-8 whatever the locale says (as pandoc
    and jq do: an HTML page that declares UTF-8 must be UTF-8); messages on standard
    error escape what the terminal cannot show instead of failing on it."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(errors="backslashreplace")


def _stopped(exc: BaseException | None) -> None:
    interrupted = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
    click.echo(f"teikit: {interrupted}", err=True)
    sys.exit(interrupted.exit_code)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="teikit", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click's word for a KeyboardInterrupt
        _stopped(exc.__cause__)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except InputError as exc:
        click.echo(f"teikit: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    except TeikitError as exc:
        click.echo(f"teikit: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BrokenPipeError:  # a reader that stopped early, met outside _stdout()
        _discard_stdout()
        sys.exit(EXIT_OK)
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug users
        if os.environ.get("TEIKIT_DEBUG"):
            raise
        click.echo(
            f"teikit: internal error: {type(exc).__name__}: {exc} "
            "(set TEIKIT_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK)
