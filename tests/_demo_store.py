"""The demo store, built once per test session (shared by the query, find and get tests)."""

from __future__ import annotations

_BUILT = {}


def demo_tree(tmp_path_factory):
    """Run :func:`sfng.demo.run_demo` once per session (every step up to the queries) and return
    its DemoTree; ``.log`` holds what the steps said."""
    if "tree" not in _BUILT:
        from sfng.demo import STEPS, run_demo

        log = []
        root = tmp_path_factory.mktemp("demo")
        steps = [s for s in STEPS if s[0] not in ("release", "derive")]
        tree = run_demo(root, say=log.append, steps=steps)
        tree.log = log
        _BUILT["tree"] = tree
    return _BUILT["tree"]


def demo_files_on(name: str) -> list[tuple[str, str]]:
    """(survey, original file name) of every demo file on galaxy ``name`` (any alias)."""
    from sfng.demo import galaxy, surveys

    want = galaxy(name).ned_name
    return sorted((s.name, f.name) for s in surveys() for f in s.files if galaxy(f.galaxy).ned_name == want)


def demo_site(tmp_path_factory, name: str):
    """``(tree, site folder)``: ``sfng site build`` of the demo store into a new folder ``name``."""
    from click.testing import CliRunner

    from sfng.cli import main

    tree = demo_tree(tmp_path_factory)
    out = tmp_path_factory.mktemp(name) / "site"
    r = CliRunner().invoke(main, ["--store", str(tree.store_dir), "site", "build", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return tree, out
