"""Shell completion: documented in the README, and dynamic for tracers, galaxies, surveys and
releases, from the store's index (click's bash protocol, as a shell would call it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _demo_store import demo_tree


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return demo_tree(tmp_path_factory).store_dir


def _complete(cli_main, words: str, cwd, monkeypatch) -> list:
    from click.testing import CliRunner

    monkeypatch.chdir(cwd)
    parts = words.split(" ")
    r = CliRunner().invoke(cli_main, [], prog_name="sfng", env={
        "_SFNG_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)})
    return [ln.split(",", 1)[1] for ln in r.output.splitlines() if ln.startswith("plain,")]


def test_tracers_galaxies_and_surveys_complete_from_the_index(store, monkeypatch):
    from sfng.cli import main
    from sfng.query import load_index
    from sfng.store import Store

    idx = load_index(store=Store.discover(store))
    tracers = sorted({str(t) for t in idx.text("tracer")} - {""})
    got = _complete(main, "sfng find --tracer C", store, monkeypatch)
    assert got == [t for t in tracers if t.lower().startswith("c")] and got
    assert "MESSIER 051a" in _complete(main, "sfng find --galaxy mess", store, monkeypatch)
    assert _complete(main, "sfng get --survey THI", store, monkeypatch) == ["THINGS"]
    # outside a store: nothing, and no traceback
    assert _complete(main, "sfng find --tracer C", Path("/"), monkeypatch) == []


def test_releases_complete_from_the_release_folder(store, monkeypatch, tmp_path):
    from sfng.cli import main

    (Path(store) / "release" / "dr-test").mkdir(parents=True, exist_ok=True)
    try:
        assert "dr-test" in _complete(main, "sfng serve --release dr", store, monkeypatch)
    finally:
        (Path(store) / "release" / "dr-test").rmdir()


def test_readme_documents_completion():
    text = (Path(__file__).parent.parent / "README.md").read_text()
    assert "_SFNG_COMPLETE=bash_source sfng" in text and "_SFNG_COMPLETE=zsh_source sfng" in text
