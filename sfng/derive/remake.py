""":func:`rerun`: remake a product from its provenance record and say whether the bytes are the
same; :func:`check_products`: the derived products whose inputs changed since they were made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SfngError
from ..fsutil import sha256_file
from . import provenance as pv


@dataclass
class RerunReport:
    product: str
    identical: bool
    files: list = field(default_factory=list)   # {name, role, recorded, stored, remade, identical}
    inputs_changed: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"product": self.product, "identical": self.identical, "files": self.files,
                "inputs_changed": self.inputs_changed}


def rerun(store, path) -> RerunReport:
    """Remake the product at ``path`` (store-relative or absolute; or its sidecar) in a temporary
    folder from its record alone and compare, file by file, with the record and the stored files."""
    from .land import staging_dir
    from .products import MAKERS

    p = Path(path)
    if not p.is_absolute():
        p = Path(store.root) / p if not p.exists() else p.resolve()
    rec = pv.read_record(p)
    kind = rec.get("kind")
    if kind not in MAKERS:
        raise SfngError(f"{path}: the record's kind {kind!r} cannot be remade by this sfng")
    rep = RerunReport(product=str(store.relpath(p) if store.contains(p) else p), identical=True)
    for inp in rec.get("inputs", []):
        now = Path(store.root) / inp["path"]
        got = sha256_file(now) if now.is_file() else None
        if got != inp["sha256"]:
            rep.inputs_changed.append({"path": inp["path"], "recorded": inp["sha256"], "now": got})
    if any(c["now"] is None for c in rep.inputs_changed):
        raise SfngError(f"{path}: an input is gone from the store: "
                        + ", ".join(c["path"] for c in rep.inputs_changed if c["now"] is None))
    folder_of = p.parent
    with staging_dir() as tmp:
        made = MAKERS[kind](store, rec["parameters"], Path(tmp), command=rec.get("command"))
        remade = {name: sha256_file(fp) for name, fp, _ in made.files}
    for out in rec.get("outputs", []):
        stored_p = folder_of / out["name"]
        stored = sha256_file(stored_p) if stored_p.is_file() else None
        got = remade.get(out["name"])
        same = got is not None and got == out["sha256"] and (stored is None or stored == got)
        rep.files.append({"name": out["name"], "role": out.get("role"), "recorded": out["sha256"],
                          "stored": stored, "remade": got, "identical": same})
        rep.identical &= same
    return rep


def check_products(store, index=None) -> list[dict]:
    """Every record under ``derived/`` whose inputs' bytes differ from what it recorded (or are
    gone): ``{product, input, recorded, now}``."""
    out = []
    root = Path(store.root)
    base = root / "derived"
    if not base.is_dir():
        return out
    cache: dict = {}
    for side in sorted(base.rglob("*" + pv.SIDECAR_SUFFIX)):
        if "bygalaxy" in side.parts or any(part.startswith(".") for part in side.relative_to(root).parts):
            continue
        try:
            rec = pv.read_record(side)
        except SfngError as exc:
            out.append({"product": store.relpath(side), "input": None, "recorded": None, "now": None,
                        "problem": str(exc)})
            continue
        product = (rec.get("outputs") or [{"name": side.name}])[0]["name"]
        for inp in rec.get("inputs", []):
            ip = root / inp["path"]
            if inp["path"] not in cache:
                cache[inp["path"]] = sha256_file(ip) if ip.is_file() else None
            now = cache[inp["path"]]
            if now != inp["sha256"]:
                out.append({"product": store.relpath(side.with_name(product)), "input": inp["path"],
                            "recorded": inp["sha256"], "now": now,
                            "problem": "input gone" if now is None else "input changed since the product was made"})
    return out
