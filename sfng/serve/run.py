"""Start the service under uvicorn: one process, or ``workers`` processes sharing the socket."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import SfngError

EXTRA_HINT = "the service needs the `serve` extra: pip install 'sfng[serve]'"


def target(store, release: str | None = None) -> tuple[Path, Path, str, str]:
    """``(root, index, kind, name)`` of what to serve: the store, or one of its releases."""
    if release:
        from ..release.layout import check_name, release_dir

        check_name(release)
        root = release_dir(store) / release
        if not (root / "SFNG-INDEX.fits").is_file():
            raise SfngError(f"release {release!r}: no such complete release under {release_dir(store)}")
        return root, root / "SFNG-INDEX.fits", "release", release
    if not store.index_path.is_file():
        raise SfngError(f"{store.index_path}: no index; run `sfng index build` first")
    return store.root, store.index_path, "store", store.name


def serve(store, *, host="127.0.0.1", port=8770, release=None, workers=1, cache_dir=None,
          log_level="info") -> None:
    """Serve until SIGTERM or Ctrl-C (uvicorn finishes the requests in flight, then stops)."""
    try:
        import uvicorn
    except ImportError as exc:
        raise SfngError(EXTRA_HINT) from exc
    root, index, kind, name = target(store, release)
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if workers and workers > 1:
        os.environ.update({"SFNG_SERVE_ROOT": str(root), "SFNG_SERVE_INDEX": str(index),
                           "SFNG_SERVE_STORE": str(store.root), "SFNG_SERVE_KIND": kind,
                           "SFNG_SERVE_NAME": name, "SFNG_SERVE_CACHE": str(cache_dir or "")})
        uvicorn.run("sfng.serve.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=False)
        return
    from .app import build

    app = build(root, index, store.root, cache_dir, kind, name)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
