"""``sfng serve``: the spectral and cube data service (logic in :mod:`sfng.serve`)."""

import click

from . import output
from .completion import releases
from .options import format_option, store_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).")
@click.option("--port", default=8770, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--release", metavar="NAME", shell_complete=releases, help="Serve this release (its files and its index) instead of the store.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the port.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Folder of the cube cache (default <store>/.sfng/cache/serve).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Log verbosity (one line per request at info).")
@format_option(help="Output format of the line said at start (what is served, where): text for people; json for tools.")
@store_option
def serve(host, port, release, workers, cache_dir, log_level, fmt, store):
    """Serve the store (or a release) read-only over HTTP: queries, spectra, previews, files,
    and the IVOA DataLink (/datalink) and SODA cutout (/soda/sync) endpoints for pyvo, TOPCAT
    and Aladin.

    Every call but GET / needs a token from `sfng token add`, sent as X-DL-AuthToken or
    Authorization: Bearer. Per-request limits come from sfng.yaml (serve: limits:) and are
    shown by GET /. SIGTERM or Ctrl-C stops it after the requests in flight. Needs the
    `serve` extra (pip install 'sfng[serve]'); docs/service.md shows a session.

    \b
    Example:
        sfng token add alice --scope read
        sfng serve --port 8770
        curl -H "X-DL-AuthToken: $SFNG_TOKEN" 'http://127.0.0.1:8770/query?ra=232.5447&dec=48.6902&size=0.001'
        sfng find --survey MANGA --export-obscore m.xml --base-url http://127.0.0.1:8770
    """
    from ..serve.run import serve as run
    from ..serve.run import target

    root, _, kind, name = target(store, release)
    said = {"url": f"http://{host}:{port}", "kind": kind, "name": name, "root": str(root), "workers": workers}
    if fmt == "json":
        output.emit_json(said)
    else:
        output.info(f"serving {kind} {name!r} ({root}) on {said['url']}")
    run(store, host=host, port=port, release=release, workers=workers, cache_dir=cache_dir, log_level=log_level)
