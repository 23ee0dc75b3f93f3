"""docs/tutorial.md is executed: its ```python blocks run in order in one namespace inside the demo
store, and each ```output block must equal what the block before it printed."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from _demo_store import demo_tree

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str]]:
    """(kind, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def test_the_tutorial_runs_and_prints_what_it_says(tmp_path_factory, monkeypatch):
    tree = demo_tree(tmp_path_factory)
    monkeypatch.chdir(tree.store_dir)
    monkeypatch.delenv("SFNG_STORE", raising=False)
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert sum(k == "python" for k, _ in found) >= 8 and sum(k == "output" for k, _ in found) >= 8
    namespace: dict = {"__name__": "__tutorial__"}
    printed = None
    for n, (kind, body) in enumerate(found):
        if kind == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(body, f"{TUTORIAL.name} block {n}", "exec"), namespace)  # noqa: S102
            printed = out.getvalue()
        elif kind == "output":
            assert printed is not None, f"block {n}: an output block with no python block before it"
            assert printed == body, f"block {n}: the tutorial says\n{body}\nbut the code printed\n{printed}"
            printed = None
