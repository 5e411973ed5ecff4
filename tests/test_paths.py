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


def test_a_batch_resolves_each_output_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each output's path was resolved from the root, every folder above it asked again
    for every output; a run now asks once per folder, and still writes through links."""
    from teikit.batch import BatchOptions, run_batch

    source = tmp_path / "in"
    source.mkdir()
    for i in range(30):
        (source / f"d{i}.xml").write_text(
            '<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><p>x</p></body></text></TEI>'
        )
    (tmp_path / "real-out").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real-out")
    calls: list[str] = []
    realpath = os.path.realpath

    def counting(path: str | os.PathLike[str], *args: object, **kwargs: object) -> str:
        calls.append(os.fspath(path))
        return realpath(path)

    monkeypatch.setattr(os.path, "realpath", counting)
    result = run_batch(source, tmp_path / "out", BatchOptions(formats=("text", "html"), jobs=1))
    assert len(result.written) == 61  # 30 texts, 30 pages and the index
    outputs = [c for c in calls if c.startswith(os.fspath(tmp_path / "out"))]
    assert len(outputs) < 10, outputs
    assert sorted(p.name for p in (tmp_path / "real-out").iterdir())[:2] == ["d0.html", "d0.txt"]
