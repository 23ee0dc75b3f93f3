"""A small served store for the service tests: two generated MaNGA LOGCUBEs (19- and 127-fibre
bundles), a HERACLES CO(2-1) cube (VRAD axis), a THINGS HI cube (FREQ axis, a Stokes axis) and
a SINGS MIPS 24 micron image, ingested and indexed; tokens of each scope."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np


def build(root: Path, nwave: int = 64) -> dict:
    from sfng import ingest
    from sfng.demo import manga as mg
    from sfng.readme import render
    from sfng.demo.surveys import surveys, write_file
    from sfng.index.build import build_index
    from sfng.ned import Resolver
    from sfng.serve.tokens import add_token
    from sfng.store import Store, init_store
    from sfng.surveys import manga

    root = Path(root)
    init_store(root / "store", name="serve-test")
    store = Store.open(root / "store")
    src = root / "MANGA"
    src.mkdir(parents=True)
    for t in mg.DEMO_TARGETS:
        mg.write_cube(src / mg.cube_name(t.plateifu), t, nwave=nwave)
    (src / "MANGA_README.txt").write_text(manga.readme_text("MANGA"))
    resolver = Resolver(store=store, offline=True)
    rep = ingest.execute(ingest.plan_ingest(store, src, survey="MANGA", ned_rename=True, resolver=resolver,
                                            offline=True))
    assert rep.ok, rep.summary()
    rng = np.random.default_rng(1)
    for s in surveys():
        if s.name not in ("HERACLES", "THINGS", "SINGS"):
            continue
        d = root / s.name
        d.mkdir()
        (d / f"{s.name}_README.txt").write_text(render(s.readme_meta, s.readme_prose) if s.readme_meta
                                                 else s.readme_prose)
        df = s.files[0]
        write_file(df, d / df.name, rng)
        rep = ingest.execute(ingest.plan_ingest(store, d, survey=s.name, offline=True, validate=False))
        assert rep.ok, rep.summary()
    build_index(store, validate=False)
    tokens = {scope: add_token(store.root, f"t-{scope}", [scope])[0] for scope in ("read", "download", "admin")}
    return {"store": store, "tokens": tokens, "targets": mg.DEMO_TARGETS}


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)


@contextlib.contextmanager
def live_server(app):
    """``app`` under a real uvicorn on 127.0.0.1 (a thread of this process): yields its URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(15)
