"""Quick kill -9 fault test of ingest (the 20-trial version: benchmarks/bench_ingest.py --trials 20).

Each trial runs `sfng ingest` in a subprocess, kills it with SIGKILL at a random moment, checks
that no partial file sits under a final name and every manifest entry verifies, then reruns it
and checks that every source landed exactly once with its bytes (and, for --move, that every
source is gone).
"""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_ingest.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_ingest", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("seed,mode", [(11, "copy"), (12, "move"), (14, "copy")])
def test_kill_9_then_rerun(bench, tmp_path, seed, mode):
    r = bench.fault_trial(tmp_path, seed=seed, mode=mode, n_files=10, size_mb=30, per_file=0.02)
    assert r["ok"], r["problems"]


def test_checks_catch_a_partial_file(bench, tmp_path):
    """The checker itself: a truncated file under a final name is reported."""
    from sfng.store import init_store

    init_store(tmp_path / "store")
    folder = tmp_path / "store" / "data" / "S"
    folder.mkdir(parents=True)
    src = tmp_path / "S"
    sums = bench.make_survey(src, 2, 0.2)
    name = sorted(sums)[0]
    (folder / name).write_bytes((src / name).read_bytes()[:5000])
    assert any("partial" in p for p in bench.check_after_kill(tmp_path / "store", sums))
