"""The provenance record of a derived product.

Every product of ``sfng derive`` has a JSON sidecar beside it, ``<product stem>.prov.json``,
landed read-only and listed in the folder's ``MANIFEST.sha256``; the product's primary header
names it (``PROVFILE``) and repeats the essentials (``DERKIND``, ``DERIN<n>``, ``DERSHA<n>``,
HISTORY lines).  The record holds: ``inputs`` (``{path, sha256}``, paths relative to the store
root), ``outputs`` (the same for each file made), ``kind``, ``parameters`` (every one),
``beams`` (input, target, kernel), ``distance`` (Mpc and its source), ``versions`` (sfng,
Python and the libraries used), ``command`` and ``time`` (UTC).
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..errors import SfngError

RECORD_VERSION = 1
SIDECAR_SUFFIX = ".prov.json"
#: Libraries whose versions a record holds.
LIBRARIES = ("numpy", "astropy", "radio_beam", "scipy")


def sidecar_name(product_name: str) -> str:
    """``X.fits`` -> ``X.prov.json``."""
    stem = product_name
    for suf in (".fits.gz", ".fits", ".fit", ".fts"):
        if stem.lower().endswith(suf):
            stem = stem[: -len(suf)]
            break
    return stem + SIDECAR_SUFFIX


def versions() -> dict:
    from .. import __version__

    out = {"sfng": __version__, "python": platform.python_version()}
    from importlib import metadata

    for lib in LIBRARIES:
        # the installed distribution's version, read from its metadata: importing radio-beam
        # (and scipy under it) only to ask its version cost half a second per product
        try:
            out[lib] = metadata.version(_DISTRIBUTIONS.get(lib, lib))
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


#: Distribution names of the LIBRARIES whose import name differs.
_DISTRIBUTIONS = {"radio_beam": "radio-beam"}


def command_line(argv=None) -> str:
    import shlex

    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name in ("sfng", "__main__.py"):
        argv[0] = "sfng"
    return " ".join(shlex.quote(a) for a in argv)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_record(*, kind: str, inputs: list[dict], outputs: list[dict], parameters: dict, beams: dict | None = None,
                kernel: dict | None = None, distance: dict | None = None, extra: dict | None = None,
                command: str | None = None) -> dict:
    """A record, ``inputs`` first (the order ``sfng provenance --format json`` prints)."""
    rec = {"inputs": inputs, "outputs": outputs, "record_version": RECORD_VERSION, "kind": kind,
           "parameters": parameters, "beams": beams, "kernel": kernel, "distance": distance}
    rec.update(extra or {})
    rec.update(versions=versions(), command=command if command is not None else command_line(), time=utc_now())
    return rec


def dumps(record: dict) -> str:
    return json.dumps(record, indent=2, allow_nan=True) + "\n"


def header_cards(kind: str, sidecar: str, inputs: list[dict]) -> dict:
    """The provenance cards of a product's primary header (no time: reruns give the same bytes)."""
    cards = {"PROVFILE": sidecar,
             "DERKIND": (kind, "sfng derive product kind")}
    for i, inp in enumerate(inputs, 1):
        cards[f"DERIN{i}"] = inp["path"]
        cards[f"DERSHA{i}"] = inp["sha256"]
    return cards


def record_path(path) -> Path:
    """The sidecar of a product (its ``PROVFILE`` card, else the conventional name), or the path
    itself when it is a sidecar."""
    p = Path(path)
    if p.name.endswith(SIDECAR_SUFFIX):
        return p
    try:
        from ..fitsheader import read_headers

        blocks = read_headers(p)
        name = blocks[0].header.get("PROVFILE") if blocks else None
    except Exception:  # noqa: BLE001 - the conventional name then
        name = None
    return p.with_name(str(name).strip() if name else sidecar_name(p.name))


def read_record(path) -> dict:
    """The provenance record of a product (or of a sidecar path); SfngError when it has none."""
    rp = record_path(path)
    try:
        return json.loads(rp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SfngError(f"{path}: no provenance record ({rp.name} is missing); not a product of sfng derive?") from None
    except (OSError, ValueError) as exc:
        raise SfngError(f"{rp}: cannot read the provenance record: {exc}") from None


def history_lines(kind: str, spec: dict) -> list[str]:
    import json

    text = json.dumps({k: v for k, v in spec.items() if k not in ("galaxy", "survey")}, sort_keys=True)
    lines = [f"sfng derive {kind}: made by sfng (provenance: PROVFILE)"]
    while text:
        lines.append(text[:70])
        text = text[70:]
    return lines
