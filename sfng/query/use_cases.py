"""The specification's three use cases as selections (the demo runs them; docs/queries.md shows them)."""

from __future__ import annotations

from ..select import Selection

#: The three use cases as selections (also shown in docs/queries.md).
USE_CASES = {
    1: ("CO(1-0) maps better than 15 arcsec, galaxies within 15 Mpc, 1 K rms in 1 km/s",
        dict(tracers=("CO10",), res="<15", dist="<15", depth="<=1K")),
    2: ("galaxies with CO(1-0) and MIPS 24 micron but no H-alpha",
        dict(has=("CO10", "MIPS24"), lacks=("HALPHA",))),
    3: ("all the data on IC 342", dict(galaxies=("IC 342",))),
}


def use_case(n: int) -> Selection:
    return Selection.build(**USE_CASES[n][1])
