"""SDSS bitmask names from ``sdssMaskbits.par`` (the idlutils/SDSS data-model file, shipped as
``sfng/surveys/manga/data/sdssMaskbits.par``): ``maskbits FLAG BIT LABEL "description"`` lines.

Nothing here hard-codes a bit number: ``bitmask("MANGA_DAPPIXMASK", "DONOTUSE")`` reads it (bit 30),
``bitmask("MANGA_DRP3PIXMASK", "DONOTUSE")`` likewise (bit 10).
"""

from __future__ import annotations

import shlex
from functools import lru_cache
from pathlib import Path

from ..errors import SfngError

PAR_FILE = Path(__file__).resolve().parent.parent / "surveys" / "manga" / "data" / "sdssMaskbits.par"


def parse_par(text: str) -> dict:
    """``{FLAG: {LABEL: bit}}`` from the text of an sdssMaskbits.par file."""
    out: dict = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("maskbits "):
            continue
        try:
            parts = shlex.split(line, comments=False)
        except ValueError:
            continue
        if len(parts) < 4:
            continue
        _, flag, bit, label = parts[:4]
        try:
            out.setdefault(flag, {}).setdefault(label, int(bit))   # first definition wins
        except ValueError:
            continue
    return out


@lru_cache(maxsize=4)
def definitions(path: str | None = None) -> dict:
    p = Path(path) if path else PAR_FILE
    return parse_par(p.read_text(encoding="utf-8", errors="replace"))


def bits(flag: str, path: str | None = None) -> dict:
    """``{LABEL: bit}`` of one mask (e.g. ``MANGA_DAPPIXMASK``)."""
    d = definitions(path)
    if flag not in d:
        raise SfngError(f"{flag}: not a bitmask of {path or PAR_FILE.name}")
    return dict(d[flag])


def bitmask(flag: str, names, path: str | None = None) -> int:
    """The integer mask with the named bits of ``flag`` set (``names``: one label or several)."""
    if isinstance(names, str):
        names = [names]
    b = bits(flag, path)
    value = 0
    for n in names:
        if n not in b:
            raise SfngError(f"{flag} has no bit named {n!r} (it has {', '.join(sorted(b))})")
        value |= 1 << b[n]
    return value
