"""The main job: validate every file and write its text and HTML (see :mod:`teikit.batch`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from teikit.batch import BatchOptions, BatchResult, run_batch
from teikit.convert import ConvertOptions
from teikit.runner import Paths, ValidateOptions

#: What ``build`` returns: validation results (as ``validate`` gives them) and the files.
BuildResult = BatchResult


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """Which formats to write and how to validate and convert.

    Each file is loaded once, with ``validate.load`` (its limits, XInclude): that load
    serves both validation and conversion, so ``convert.load`` is not used.
    """

    formats: tuple[str, ...] = ("text", "html")
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    convert: ConvertOptions = field(default_factory=ConvertOptions)


def build(
    paths: Paths,
    out_dir: str | os.PathLike[str],
    options: BuildOptions = BuildOptions(),
) -> BuildResult:
    """Validate each file once parsed, then write ``OUT/<relative path>.<format suffix>``.

    The outputs are written even for invalid files (the findings say what to fix);
    ``result.run.ok`` tells whether everything was valid.
    """
    return run_batch(
        paths,
        out_dir,
        BatchOptions(
            formats=options.formats,
            convert=replace(options.convert, load=options.validate.load),
            validate=options.validate,
            jobs=options.validate.jobs,
        ),
    )
