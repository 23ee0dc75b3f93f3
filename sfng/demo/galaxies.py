"""The demo's galaxies: NED preferred names, other names, positions (deg, J2000), distances (Mpc)
from the literature and systemic velocities (km/s).  They are the demo's only "truth"; the tests
check the use-case answers against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

@dataclass(frozen=True)
class DemoGalaxy:
    ned_name: str
    aliases: tuple
    ra: float
    dec: float
    dist_mpc: float
    dist_source: str
    vsys: float
    ned_type: str = "G"


GALAXIES = [
    DemoGalaxy("MESSIER 074", ("NGC 628", "NGC 0628", "M74"), 24.173946, 15.783662, 7.3, "Karachentsev+2004 TRGB", 657),
    DemoGalaxy("MESSIER 064", ("NGC 4826", "M64"), 194.182500, 21.683056, 7.5, "Walter+2008 (THINGS)", 408),
    DemoGalaxy("MESSIER 051a", ("NGC 5194", "M51", "M51a"), 202.469629, 47.195172, 8.0, "Walter+2008 (THINGS)", 463),
    DemoGalaxy("MESSIER 063", ("NGC 5055", "M63"), 198.955542, 42.029278, 10.1, "Walter+2008 (THINGS)", 504),
    DemoGalaxy("MESSIER 066", ("NGC 3627", "M66"), 170.062526, 12.991538, 9.3, "Walter+2008 (THINGS)", 727),
    DemoGalaxy("MESSIER 094", ("NGC 4736", "M94"), 192.721088, 41.120458, 4.7, "Walter+2008 (THINGS)", 308),
    DemoGalaxy("MESSIER 099", ("NGC 4254", "M99"), 184.706667, 14.416500, 16.7, "Leroy+2009 (HERACLES)", 2407),
    DemoGalaxy("IC 0342", ("IC 342", "IC342"), 56.702083, 68.096111, 3.3, "Saha+2002 Cepheids", 31),
    DemoGalaxy("NGC 2403", ("NGC2403",), 114.214167, 65.602556, 3.2, "Walter+2008 (THINGS)", 133),
    DemoGalaxy("NGC 3184", ("NGC3184",), 154.570177, 41.424303, 11.1, "Walter+2008 (THINGS)", 593),
    DemoGalaxy("NGC 3521", ("NGC3521",), 166.452428, -0.035861, 10.7, "Walter+2008 (THINGS)", 805),
    DemoGalaxy("NGC 6946", ("NGC6946",), 308.718015, 60.153915, 5.9, "Walter+2008 (THINGS)", 48),
    DemoGalaxy("NGC 7793", ("NGC7793",), 359.457630, -32.591028, 3.9, "Walter+2008 (THINGS)", 227),
]
#: NGC 5195 shares the M51 files (a pair); it is a galaxy of its own in NED.
COMPANIONS = [DemoGalaxy("MESSIER 051b", ("NGC 5195",), 202.498200, 47.265600, 8.0, "as M51a", 465)]


def _squash(name: str) -> str:
    """'NGC 0628' and 'ngc628' -> 'NGC628' (demo look-ups only; the real resolver is sfng.ned)."""
    import re

    s = name.upper().replace(" ", "")
    return re.sub(r"(?<=[A-Z])0+(?=\d)", "", s)


def galaxy(name: str) -> DemoGalaxy:
    key = _squash(name)
    for g in GALAXIES + COMPANIONS:
        if key in {_squash(n) for n in (g.ned_name, *g.aliases)}:
            return g
    raise KeyError(name)


def table_rows():
    """The demo's galaxies (:data:`GALAXIES` + :data:`COMPANIONS`) as :class:`sfng.galaxies.Galaxy`
    rows for the store's galaxy table."""
    from ..galaxies import Galaxy

    return [Galaxy(g.ned_name, tuple(g.aliases), g.ra, g.dec, g.dist_mpc, g.dist_source)
            for g in (*GALAXIES, *COMPANIONS)]


def ned_cache_path() -> Path:
    """The NED answers shipped for the demo galaxies (``sfng/demo/data/ned_cache.csv``), recorded
    from NED, so the demo runs offline."""
    return Path(__file__).resolve().parent / "data" / "ned_cache.csv"
