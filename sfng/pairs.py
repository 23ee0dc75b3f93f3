"""The store's declared galaxy pairs (``tables/pairs.csv``): files of the primary are linked for
the companion too.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .errors import SfngError

#: Declared galaxy pairs of the store: files of the primary are linked for the companion too.
PAIRS_TABLE = "tables/pairs.csv"


PAIRS_COLUMNS = ["primary", "companion", "note"]


def read_pairs(store) -> dict:
    """``{primary NED name: [companion NED names]}`` from the store's ``tables/pairs.csv``."""
    path = Path(store.root) / PAIRS_TABLE
    out: dict = {}
    if not path.is_file():
        return out
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                p, c = (row.get("primary") or "").strip(), (row.get("companion") or "").strip()
                if p and c:
                    out.setdefault(p, []).append(c)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SfngError(f"{path}: cannot read the pairs table: {exc}") from exc
    return out

