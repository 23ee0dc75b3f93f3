"""Dynamic shell completion: tracer, galaxy and survey names from the store's index, release
names from its ``release/`` folder (``eval "$(_SFNG_COMPLETE=bash_source sfng)"``: README).

Completion runs on every Tab, so it reads only what it needs (the index's columnar companion when
there is one) and never fails: anything that goes wrong completes nothing."""

from __future__ import annotations

import os


def _store(ctx):
    from ..store import Store

    root = None
    c = ctx
    while c is not None and root is None:
        root = (c.params or {}).get("store_override") or (c.params or {}).get("store")
        c = c.parent
    root = root if isinstance(root, (str, os.PathLike)) else None
    return Store.discover(root) if root else Store.discover()


def _matches(values, incomplete: str) -> list:
    from click.shell_completion import CompletionItem

    low = incomplete.lower()
    return [CompletionItem(v) for v in sorted({str(v).strip() for v in values} - {""}) if v.lower().startswith(low)]


def from_index(column: str):
    """A ``shell_complete`` callback offering the distinct values of an index column."""

    def complete(ctx, param, incomplete):
        try:
            from ..query import load_index

            idx = load_index(store=_store(ctx), allow_stale=True)
            values = idx.distinct(column)
            return _matches([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values],
                            incomplete)
        except Exception:  # noqa: BLE001 - a Tab never prints a traceback
            return []

    return complete


def releases(ctx, param, incomplete):
    """Release names (the folders of ``release/``)."""
    try:
        folder = _store(ctx).root / "release"
        return _matches([p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")], incomplete)
    except Exception:  # noqa: BLE001
        return []
