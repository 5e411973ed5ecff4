"""RealPaths resolves as os.path.realpath does, with each folder asked once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from teikit.paths import RealPaths
from teikit.schemas.config import clear_configs, find_config

from conftest import shared_path


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    real = tmp_path / "real" / "sub"
    real.mkdir(parents=True)
    (real / "a.xml").write_text("<a/>")
    (tmp_path / "linked").symlink_to(tmp_path / "real")  # a folder reached through a link
    (real / "link.xml").symlink_to(real / "a.xml")  # a file that is a link
    (real / "loop.xml").symlink_to(real / "loop.xml")  # a link to itself
    (real / "dangling.xml").symlink_to(real / "gone.xml")
    monkeypatch.chdir(real)
    return tmp_path


@pytest.mark.skipif(os.name != "posix", reason="symbolic links as POSIX has them")
def test_real_paths_match_realpath(tree: Path) -> None:
    names: list[str | Path] = [
        tree / "real" / "sub" / "a.xml",
        tree / "linked" / "sub" / "a.xml",
        tree / "linked" / "sub" / "link.xml",
        tree / "linked" / "sub" / "loop.xml",
        tree / "linked" / "sub" / "dangling.xml",
        tree / "linked" / "sub" / "missing.xml",
        tree / "linked" / "sub" / "..",
        tree / "linked" / "sub" / ".",
        "a.xml",
        "./a.xml",
        "../sub/a.xml",
        "../../linked/sub/../sub/a.xml",
        "link.xml",
    ]
    real = RealPaths()
    for name in names * 2:  # the second time from what it learnt of the folders
        assert real(name) == os.path.realpath(name), name


def test_real_paths_of_the_corpus() -> None:
    corpus = shared_path("corpus")
    files = sorted(corpus.rglob("*.xml"))
    real = RealPaths()
    assert [real(f) for f in files] == [os.path.realpath(f) for f in files]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links as POSIX has them")
def test_configuration_of_a_file_in_a_linked_folder(tree: Path) -> None:
    """The configuration is the one above the file's real place, however it is named."""
    (tree / "real" / ".teikit.toml").write_text('ignore = ["x/*"]\n')
    clear_configs()
    try:
        for name in (
            tree / "linked" / "sub" / "a.xml",
            Path("a.xml"),
            Path("../sub/a.xml"),
            tree / "real" / "sub" / "link.xml",
        ):
            config = find_config(name)
            assert config is not None and config.ignore == ("x/*",), name
    finally:
        clear_configs()
