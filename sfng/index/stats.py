"""Looking into an index: counts by column (``sfng index stats``) and one file's rows
(``sfng index show``)."""

from __future__ import annotations

from collections import Counter

from ..errors import SfngError


def _text(v) -> str:
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v)


def index_stats(path, by=("survey", "tracer", "galaxy")) -> dict:
    """``{"rows", "built", "schema_version", "flagged", "by": {column: {value: rows}}}``,
    each count table sorted by decreasing rows."""
    from .io import read_index

    files, _, meta = read_index(path, columns=sorted({*by, "flag"}), galaxies=False)
    out = {"index": str(path), "rows": len(files), "built": meta["built"],
           "schema_version": meta["schema_version"],
           "flagged": int((files["flag"] != 0).sum()), "by": {}}
    for col in by:
        counts = Counter(_text(v) for v in files[col].tolist())
        out["by"][col] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def rows_for(path, relpath: str) -> list[dict]:
    """The index rows of one store-relative path (several for a container), as plain values."""
    import math

    import numpy as np

    from .io import read_index

    files, _, _ = read_index(path, galaxies=False)
    want = relpath.strip()
    if want.startswith("./"):
        want = want[2:]
    paths = np.char.decode(np.asarray(files["path"]), "utf-8", "surrogateescape") if files["path"].dtype.kind == "S" \
        else np.asarray(files["path"])
    hits = np.flatnonzero(paths == want)
    if not len(hits):
        raise SfngError(f"{relpath}: not in the index {path} (paths are relative to the store root, "
                        f"e.g. data/SURVEY/FILE.fits; is the index stale? try `sfng index check`)")
    out = []
    for i in hits:
        row = {}
        for name in files.colnames:
            # text as stored (astropy would hand out a bytes element decoded with 'replace')
            v = np.asarray(files[name])[i] if files[name].dtype.kind == "S" else files[name][i]
            if isinstance(v, bytes):
                v = v.decode("utf-8", "surrogateescape")
            elif getattr(v, "dtype", None) is not None and v.dtype.kind == "f" and v.dtype.itemsize == 4:
                # single precision as the decimal written (6.2, not 6.199999809265137)
                v = [float(str(x)) for x in v] if np.ndim(v) else float(str(v))
            elif hasattr(v, "tolist"):
                v = v.tolist()
            if isinstance(v, float) and math.isnan(v):
                v = None
            if isinstance(v, list):
                v = [None if isinstance(x, float) and math.isnan(x) else x for x in v]
                if name in ("foot_ra", "foot_dec"):
                    v = v[: int(files["foot_n"][i])]
            row[name] = v
        out.append(row)
    return out
