"""Shared test helpers: where the real data lives and how to behave when it does not."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from teikit.convert.text import TextOptions
from teikit.stream import stream_text

ROOT = Path(__file__).resolve().parents[1]
LETTER = ROOT / "tei" / "frus1964-68v29p2-d62.xml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``; skip when it is absent, but fail in CI where it must exist."""
    path = ROOT.parent.joinpath("shared", *parts)
    if not path.exists():
        reason = f"{path} is missing: tests on the shared corpus and schemas need ../shared"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (and CI=true)")
        pytest.skip(reason)
    return path


def streamed(path: Path, options: TextOptions) -> str:
    """What :func:`teikit.stream.stream_text` writes for ``path``."""
    out = io.StringIO()
    stream_text(path, out, options)
    return out.getvalue()
