"""Shared fixtures. Tests never touch the network: NED answers are recorded (tests/data/ned)."""

import os

import pytest

os.environ.setdefault("SFNG_OFFLINE", "1")


@pytest.fixture
def store(tmp_path):
    """A fresh, empty store."""
    from sfng.store import Store, init_store

    init_store(tmp_path / "store", name="test-store")
    return Store.open(tmp_path / "store")


@pytest.fixture
def cli():
    """Invoke the sfng CLI in-process: cli(args..., input=None) -> click Result."""
    from click.testing import CliRunner

    from sfng.cli import main

    runner = CliRunner()

    def run(*args, **kwargs):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return run
